"""Atomic writes have one home, `utils/output_dirs.py` (issue 26): its helpers, and a scan
of the package for renames done anywhere else."""

import ast
import os
import pathlib

import pytest

import keras_electra
from keras_electra.utils import output_dirs
from keras_electra.utils.output_dirs import (
    atomic_write,
    replace_dir,
    write_bytes_atomically,
    write_file_atomically,
)

PACKAGE = pathlib.Path(keras_electra.__file__).parent
HOME = PACKAGE / "utils" / "output_dirs.py"
RENAMES = {("os", "replace"), ("os", "rename"), ("gfile", "rename"), ("os", "renames")}


def _renames(path):
    """`(line, "module.function")` of every rename call or import of one in `path`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and isinstance(node.value, (ast.Name, ast.Attribute)):
            owner = node.value.id if isinstance(node.value, ast.Name) else node.value.attr
            if (owner, node.attr) in RENAMES:
                found.append((node.lineno, f"{owner}.{node.attr}"))
        if isinstance(node, ast.ImportFrom) and node.module in ("os", "tensorflow.io.gfile"):
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names
                      if alias.name in ("replace", "rename", "renames")]
    return found


def test_no_module_but_the_home_renames_files():
    offenders = [f"{path.relative_to(PACKAGE)}:{line} {name}"
                 for path in sorted(PACKAGE.rglob("*.py")) if path != HOME
                 for line, name in _renames(path)]
    assert offenders == [], "atomic writes go through utils/output_dirs.py: " + ", ".join(
        offenders)


def test_the_scan_sees_each_kind_of_rename(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text("import os\nfrom os import rename\nimport tensorflow as tf\n"
                       "os.replace('a', 'b')\nos.rename('a', 'b')\ntf.io.gfile.rename('a', 'b')\n")
    assert sorted(name for _, name in _renames(planted)) == [
        "gfile.rename", "os.rename", "os.rename", "os.replace"]
    assert _renames(HOME), "the home itself must be where the renames are"


def _no_temporaries(directory):
    return [n for n in os.listdir(directory) if ".tmp-" in n]


def test_write_text_and_bytes_atomically(tmp_path):
    write_file_atomically(tmp_path / "sub" / "a.txt", "héllo\n")
    write_bytes_atomically(tmp_path / "b.bin", b"\x00\x01")
    assert (tmp_path / "sub" / "a.txt").read_bytes() == "héllo\n".encode("utf-8")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    write_file_atomically(tmp_path / "sub" / "a.txt", "new")
    assert (tmp_path / "sub" / "a.txt").read_text() == "new"
    assert _no_temporaries(tmp_path) == _no_temporaries(tmp_path / "sub") == []


def test_a_failure_mid_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text("old")
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_write(path) as f:
            f.write("half of the new")
            raise RuntimeError("disk full")
    assert path.read_text() == "old"
    assert _no_temporaries(tmp_path) == []


def test_a_failed_rename_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "vocab.txt"
    path.write_text("old")

    def failing_replace(src, dst):
        raise OSError("simulated failure of the rename")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="simulated"):
        write_file_atomically(path, "new")
    monkeypatch.undo()
    assert path.read_text() == "old"
    assert _no_temporaries(tmp_path) == []


def test_atomic_write_with_fsync_writes_the_bytes(tmp_path):
    with atomic_write(tmp_path / "state.json", fsync=True) as f:
        f.write("{}")
    assert (tmp_path / "state.json").read_text() == "{}"


def test_replace_dir_keeps_the_old_directory_until_the_new_one_is_in_place(
        tmp_path, monkeypatch):
    final, old = tmp_path / "ckpt", tmp_path / ".old-ckpt"
    final.mkdir()
    (final / "f").write_text("old")
    new = tmp_path / ".tmp-ckpt"
    new.mkdir()
    (new / "f").write_text("new")
    real_replace = os.replace
    seen = []

    def watching_replace(src, dst):
        seen.append((os.path.basename(src), os.path.basename(dst)))
        if os.path.basename(src) == ".tmp-ckpt":  # the moment the new one moves in
            assert (old / "f").read_text() == "old"
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", watching_replace)
    replace_dir(str(new), str(final), str(old))
    assert seen == [("ckpt", ".old-ckpt"), (".tmp-ckpt", "ckpt")]
    assert (final / "f").read_text() == "new"
    assert not old.exists() and not new.exists()
    # no earlier directory: one rename
    other = tmp_path / ".tmp-other"
    other.mkdir()
    replace_dir(str(other), str(tmp_path / "other"), str(tmp_path / ".old-other"))
    assert (tmp_path / "other").is_dir() and not other.exists()


def test_fsync_helpers_accept_files_and_directories(tmp_path):
    (tmp_path / "f").write_text("x")
    output_dirs.fsync_file(tmp_path / "f")
    output_dirs.fsync_dir(tmp_path)
    output_dirs.fsync_dir(tmp_path / "missing")  # a directory that cannot be opened: no error
