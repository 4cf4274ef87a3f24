"""Writing outputs so that a failure never costs the previous one: the one home of every
atomic write of the package (no other module calls `os.replace` / `os.rename`;
`tests/utils/test_atomic_writes.py` scans for them).

File-level helpers: `atomic_write(path)` (a file object on a temporary sibling, renamed into
place on success, removed on failure), `write_file_atomically` / `write_bytes_atomically`,
`replace_file(temporary, path)` (the rename itself, for files a library writes),
`replace_dir(new, final, old)` (swap a directory in, the old one kept until the new one is in
place), `fsync_file` / `fsync_dir`.

`staged_output_dir(out_dir, sources)` is for commands that write a whole directory at once
(`convert`, `export`): the new files are written into a hidden sibling, and only when all of
them are there does the sibling replace `out_dir` (two renames). A crash, an exception or a
full disk leaves the old `out_dir` exactly as it was. It also refuses an `out_dir` that is, is
inside, or contains one of the command's inputs ("export onto its source"), and an existing
`out_dir` holding files that are not an earlier output (no `config.json`), which would be
deleted by the swap.

Example:

>>> import os, tempfile
>>> root = tempfile.mkdtemp()
>>> out = os.path.join(root, "preset")
>>> with staged_output_dir(out) as staging:
...     with open(os.path.join(staging, "config.json"), "w") as f:
...         _ = f.write("{}")
>>> sorted(os.listdir(root))
['preset']
>>> try:
...     with staged_output_dir(out, sources=[out]):
...         pass
... except ValueError as error:
...     print("refused:", "the output directory is the input" in str(error))
refused: True
"""

import contextlib
import os
import shutil

from keras_electra.utils.errors import InputFileError


def _overlap(out_dir, source):
    out, src = os.path.realpath(out_dir), os.path.realpath(source)
    if out == src:
        return "is the input"
    if out.startswith(src.rstrip(os.sep) + os.sep):
        return "is inside the input"
    if src.startswith(out.rstrip(os.sep) + os.sep):
        return "contains the input"
    return None


def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_output_not_input(output, inputs, output_flag, what="output",
                           refuse=("is", "is inside", "contains")):
    """Refuse an output path that is, is inside, or contains one of the inputs.

    Args:
        output: the path the command will write (a file or a directory).
        inputs: `[(flag, path or list of paths)]` the command reads; None, remote handles
            (`scheme://`) and paths that do not exist are ignored.
        output_flag: how to name `output` in the message (e.g. "--output").
        what: what the command writes there (for the message).
        refuse: which overlaps to refuse (a command that only adds files to a directory
            may leave "contains" out).

    Raises:
        InputFileError: one line naming both flags and paths (symlinks and hard links
            resolved), before anything is read or written.
    """
    if output is None:
        return
    output = os.fspath(output)
    for flag, paths in inputs:
        if paths is None:
            continue
        for path in ([paths] if isinstance(paths, (str, os.PathLike)) else paths):
            if path is None or "://" in str(path) or not os.path.exists(path):
                continue
            path = os.fspath(path)
            overlap = "is" if _same_file(output, path) else _overlap(output, path)
            if overlap is None:
                continue
            overlap = {"is": "is", "is the input": "is", "is inside the input": "is inside",
                       "contains the input": "contains"}[overlap]
            if overlap not in refuse:
                continue
            raise InputFileError(
                f"{output_flag} {output} {overlap} the {flag} {path}: writing the {what} "
                f"would replace what is being read. Choose an {output_flag} path that is not "
                "an input.")


def check_output_file(path, flag):
    """Refuse, before any work, an output file path that cannot be written: an existing
    directory, a parent that is a file, or a parent without write permission.

    Raises:
        InputFileError: one line naming `flag` and the path.
    """
    if path is None:
        return
    path = os.path.abspath(os.fspath(path))
    if os.path.isdir(path):
        raise InputFileError(f"{flag} {path}: is a directory; pass a file path (e.g. "
                             f"{os.path.join(path, 'vocab.txt')}).")
    parent = os.path.dirname(path)
    while parent and not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if parent and not os.path.isdir(parent):
        raise InputFileError(f"{flag} {path}: {parent} is a file, not a directory; choose "
                             "another path.")
    if parent and not os.access(parent, os.W_OK):
        raise InputFileError(f"{flag} {path}: no permission to write in {parent}; choose a "
                             "writable directory.")


@contextlib.contextmanager
def staged_output_dir(out_dir, sources=(), flag="output directory", marker="config.json"):
    """Yield a fresh staging directory; on success it replaces `out_dir` atomically.

    Args:
        out_dir: the directory to (re)write.
        sources: local input paths the command reads (files or dirs); remote handles are
            ignored.
        flag: how to name `out_dir` in messages (e.g. "OUT_DIR").
        marker: a file every earlier output of this kind holds; an existing non-empty
            `out_dir` without it is refused rather than replaced.

    Raises:
        InputFileError: `out_dir` overlaps an input, is a file, or holds files that are not an
            earlier output of this kind (no `marker` file).
    """
    out_dir = os.path.abspath(os.fspath(out_dir))
    for source in sources:
        if source is None or "://" in str(source) or not os.path.exists(source):
            continue
        overlap = _overlap(out_dir, os.fspath(source))
        if overlap:
            raise InputFileError(
                f"{flag} {out_dir}: the output directory {overlap} {source}; writing it would "
                "replace what is being read. Choose an output directory outside the input.")
    if os.path.lexists(out_dir) and not os.path.isdir(out_dir):
        raise InputFileError(f"{flag} {out_dir}: exists and is not a directory; choose another "
                             "path or remove that file.")
    if os.path.isdir(out_dir) and os.listdir(out_dir) and not os.path.isfile(
            os.path.join(out_dir, marker)):
        raise InputFileError(
            f"{flag} {out_dir}: holds files that are not an earlier output (no {marker}); "
            "they would be replaced. Choose a new or empty directory.")
    parent, name = os.path.split(out_dir)
    os.makedirs(parent, exist_ok=True)
    staging = os.path.join(parent, f".{name}.tmp-{os.getpid()}")
    old = os.path.join(parent, f".{name}.old-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    replace_dir(staging, out_dir, old)


def current_umask():
    """The process's umask (read without changing it where /proc allows)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def apply_umask(path, directory_mode=0o777, file_mode=0o666):
    """Give `path` (a file, or a directory tree) the permissions a plain `open()` /
    `os.makedirs` would have: `0666 & ~umask` for files, `0777 & ~umask` for directories.

    For files written by libraries that create them through a private temporary file (mode
    0600: safetensors, `tempfile`), so every file the package writes has the same permissions.
    """
    mask = current_umask()
    if os.path.isdir(path) and not os.path.islink(path):
        os.chmod(path, directory_mode & ~mask)
        for folder, dirs, files in os.walk(path):
            for name in dirs:
                os.chmod(os.path.join(folder, name), directory_mode & ~mask)
            for name in files:
                if not os.path.islink(os.path.join(folder, name)):
                    os.chmod(os.path.join(folder, name), file_mode & ~mask)
    elif os.path.isfile(path) and not os.path.islink(path):
        os.chmod(path, file_mode & ~mask)
    return path


def replace_file(temporary, path):
    """Rename `temporary` onto `path` in one step (atomic on POSIX within one file system):
    a reader sees the old `path` or the new one, never a mix. Works for directories too when
    `path` does not exist."""
    os.replace(temporary, path)


def replace_dir(new, final, old):
    """Put directory `new` in place of `final`, keeping an existing `final` (renamed to `old`)
    until `new` is in place, then deleting it. A crash leaves `final` or `old` holding a
    complete directory, never nothing."""
    if os.path.isdir(final):
        replace_file(final, old)
        replace_file(new, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        replace_file(new, final)


def fsync_file(path):
    """Flush a written file's bytes to the disk."""
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def fsync_dir(path):
    """Flush a directory's entries (new names, renames) to the disk, where the OS allows."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_write(path, mode="w", fsync=False):
    """Yield a file object on `path.tmp-<pid>`; on success it replaces `path`, on failure it is
    removed (the earlier `path` survives). Text modes write UTF-8; `fsync` flushes the bytes
    to the disk before the rename."""
    path = os.fspath(path)
    temporary = f"{path}.tmp-{os.getpid()}"
    try:
        with open(temporary, mode, encoding=None if "b" in mode else "utf-8") as f:
            yield f
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        replace_file(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def write_file_atomically(path, text):
    """Write `text` (UTF-8) to `path` through a temporary file and a rename: a failure never
    leaves a half-written `path`, and an earlier `path` survives it."""
    path = os.path.abspath(os.fspath(path))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with atomic_write(path) as f:
        f.write(text)


def write_bytes_atomically(path, data):
    """`write_file_atomically` for bytes."""
    path = os.path.abspath(os.fspath(path))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with atomic_write(path, "wb") as f:
        f.write(data)
