"""The test data in tests/data/files is what its README says: every file listed with its
size and sha256 (and every file there is listed), 2 MB at most in all."""

import hashlib
import re

from conftest import TEST_DATA


def listed():
    """{relative path: (bytes, sha256)} from the README's table."""
    text = (TEST_DATA / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([^`]+)` \| ([\d,]+) \| `([0-9a-f]{64})` \|", text, re.M)
    return {path: (int(size.replace(",", "")), digest) for path, size, digest in rows}


def test_every_file_is_listed_with_its_size_and_sha256():
    files = {p.relative_to(TEST_DATA).as_posix(): p for p in TEST_DATA.rglob("*")
             if p.is_file() and p.name != "README.md"}
    table = listed()
    assert sorted(files) == sorted(table)
    for name, path in files.items():
        data = path.read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == table[name], name


def test_the_test_data_stays_small():
    total = sum(p.stat().st_size for p in TEST_DATA.rglob("*") if p.is_file())
    assert total <= 2_000_000, total
