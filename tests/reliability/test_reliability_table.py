"""docs/RELIABILITY.md: every row of the table names a test (or script) that exists."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]
REF = re.compile(r"((?:tests|benchmarks)/[\w/]+\.py)(?:::(\w+))?")


def table_rows():
    text = (ROOT / "docs" / "RELIABILITY.md").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if re.match(r"^\| \d+[a-z]? \|", line)]


def test_every_row_names_an_existing_test():
    rows = table_rows()
    assert len(rows) >= 25  # the issue asks for at least 25 rows
    numbers = [row.split("|")[1].strip() for row in rows]
    assert len(numbers) == len(set(numbers)), "duplicate row numbers"
    for row in rows:
        last_cell = row.rstrip().rstrip("|").rsplit("|", 1)[1]
        refs = REF.findall(last_cell)
        assert refs, f"row without a test: {row[:120]}"
        for path, name in refs:
            source = ROOT / path
            assert source.is_file(), f"{path} (row {row[:40]}) does not exist"
            if name:
                assert re.search(rf"^def {name}\(", source.read_text(), re.M), \
                    f"{path}::{name} (row {row[:40]}) is not defined"
