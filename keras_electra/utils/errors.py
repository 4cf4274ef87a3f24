"""One error style for every expected user error.

An *expected user error* is a problem with what the user gave us (a file, a flag, a directory),
not a bug. Every such error is a `UserError` whose message names the file (and line or record
where known), says what is wrong and how to fix it, on one line. The `keras-electra` command
line prints it as ``keras-electra COMMAND: error: MESSAGE`` and exits 2, without a traceback
(`keras_electra.cli.main`); the Python API raises it, and because each concrete class also
derives from the built-in exception it refines (`ValueError`, `RuntimeError`), existing
``except ValueError`` code keeps working.

The helpers here read the file kinds the package reads (text, JSON) and turn the low-level
failures (`UnicodeDecodeError`, `json.JSONDecodeError`, NUL bytes of a binary file, a gzip
stream cut short, `PermissionError`, ...) into a `UserError` naming the file.

Example:

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "broken.json")
>>> with open(path, "w") as f:
...     _ = f.write('{"data": [')
>>> try:
...     read_json_file(path, what="SQuAD file")
... except UserError as error:
...     print(str(error).replace(path, "broken.json"))
broken.json: truncated or not valid JSON (Expecting value, line 1 column 11 (char 10)); is \
this the SQuAD file? Re-create or re-download it
"""

import errno
import json
import os


class UserError(Exception):
    """An expected user error; the CLI prints it as one line and exits 2."""


class InputFileError(UserError, ValueError):
    """An input file cannot be read as the kind of file it should be."""


# OSErrors that are the user's to fix (a path, a permission, a full disk), not our bugs.
USER_OSERROR_FIXES = {
    errno.ENOENT: "check the path",
    errno.ENOTDIR: "a parent of the path is a file, not a directory; check the path",
    errno.EISDIR: "it is a directory; pass a file",
    errno.EACCES: "no permission; fix the file's permissions or run as a user who may read/write it",
    errno.EPERM: "operation not permitted; fix the file's permissions",
    errno.ENOSPC: "the disk is full; free space (or use another directory) and rerun the same "
                  "command",
    errno.EDQUOT: "the disk quota is exceeded; free space and rerun the same command",
    errno.EROFS: "the file system is read-only; use a writable directory",
    errno.ENAMETOOLONG: "the path is too long",
}


USER_OSERROR_TYPES = (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError,
                      FileExistsError)


def is_user_oserror(error):
    """Whether `error` is an `OSError` caused by the user's paths, permissions or disk."""
    return isinstance(error, USER_OSERROR_TYPES) or (
        isinstance(error, OSError) and error.errno in USER_OSERROR_FIXES)


def one_line(error):
    """The message of `error` as one line (`OSError`s with their file and a fix)."""
    if (isinstance(error, OSError) and error.errno in USER_OSERROR_FIXES
            and not isinstance(error, UserError)):
        where = error.filename if error.filename is not None else ""
        if error.filename2 is not None:
            where = f"{where} -> {error.filename2}"
        reason = error.strerror or str(error)
        text = f"{where}: {reason}; {USER_OSERROR_FIXES[error.errno]}" if where else (
            f"{reason}; {USER_OSERROR_FIXES[error.errno]}")
    else:
        text = str(error)
        if isinstance(error, KeyError) and len(error.args) == 1:
            text = str(error.args[0])
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def _check_text(data, path, what):
    """Decode `data` (bytes of `path`) as UTF-8 text, refusing binary files by name."""
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise InputFileError(
            f"{path}: byte offset {nul} (line {line}): NUL byte: this is a binary file, not the "
            f"UTF-8 text a {what} must be; pass the right file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        cut = " (the file ends inside a character: truncated?)" if (
            error.reason == "unexpected end of data") else ""
        raise InputFileError(
            f"{path}: byte offset {error.start} (line {line}): not valid UTF-8{cut}; a {what} "
            "must be UTF-8 text: convert it (e.g. `iconv -f latin1 -t utf-8`) or pass the right "
            "file") from None


def read_text_file(path, what="text file"):
    """Read a whole UTF-8 text file; a binary or undecodable file is an `InputFileError`.

    Args:
        path: the file.
        what: what the file should be, for the message (e.g. "vocabulary file").

    Returns:
        The text (str).
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read()
    return _check_text(data, path, what)


def read_json_file(path, what="JSON file", finite_only=True):
    """Read a JSON file; truncated, undecodable or binary content is an `InputFileError`.

    With `finite_only`, `NaN` and `Infinity` (which Python's json accepts but JSON does not)
    are refused too; pass False where the caller checks the numbers itself.
    """
    text = read_text_file(path, what)

    def refuse_constant(name):
        raise ValueError(f"{name} is not a JSON number")

    try:
        return json.loads(text, parse_constant=refuse_constant if finite_only else None)
    except json.JSONDecodeError as error:
        raise InputFileError(
            f"{path}: truncated or not valid JSON ({error.msg}, line {error.lineno} column "
            f"{error.colno} (char {error.pos})); is this the {what}? Re-create or re-download "
            "it") from None
    except ValueError as error:
        raise InputFileError(
            f"{path}: {error}; a {what} may hold only finite numbers") from None
