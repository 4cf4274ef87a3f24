"""Raw-text input: glob expansion, streaming UTF-8 line reading (plain or .gz), work units.

Corpus convention (G's `build_pretraining_dataset.py`): one sentence per line, a blank line
ends a document. Files are read line by line in binary mode, so memory stays flat and a byte
that is not UTF-8 can be reported with its exact offset.
"""

import glob
import gzip
import os
import zlib

from keras_electra.utils.errors import UserError

# Plain-text files larger than this are split into several work units at document boundaries
# (blank lines), so one huge file still uses every worker. Gzip files are one unit each.
DEFAULT_CHUNK_BYTES = 16 * 1024 * 1024

# One line is one sentence (G's convention). A "line" longer than this is not text of that kind
# (a dump without newlines, a binary blob) and is refused before it is held in memory whole.
MAX_LINE_BYTES = 16 * 1024 * 1024
# What `skip_bad_lines` drops, for messages that report the count.
BAD_LINE_KINDS = "not valid UTF-8, NUL bytes or over-long"


class BadInputError(UserError, ValueError):
    """An input file cannot be used as it is (not UTF-8, empty corpus, ...)."""


def split_input_patterns(input_patterns):
    """The individual patterns of `input_patterns` (a string, a comma-separated list of globs,
    a path, or a list of any of those), stripped and with `~` expanded."""
    if isinstance(input_patterns, (str, os.PathLike)):
        input_patterns = [input_patterns]
    return [os.path.expanduser(p.strip())
            for item in input_patterns for p in str(item).split(",") if p.strip()]


def expand_input_patterns(input_patterns):
    """Sorted, de-duplicated list of files matching one or several glob patterns.

    Args:
        input_patterns: a glob string (`"corpus/*.txt"`), a comma-separated list of globs, a
            directory (all files in it), or a list of any of those.

    Returns:
        A sorted list of file paths (no directories).

    Raises:
        FileNotFoundError: a pattern matches nothing (named in the message).
    """
    files = set()
    for pattern in split_input_patterns(input_patterns):
        if os.path.isdir(pattern):
            matches = [os.path.join(pattern, name) for name in os.listdir(pattern)]
        else:
            matches = glob.glob(pattern, recursive=True)
        matches = [m for m in matches if os.path.isfile(m)]
        if not matches:
            raise FileNotFoundError(
                f"input pattern {pattern!r} matches no files; pass a glob such as "
                "'corpus/*.txt' (quote it so the shell does not expand it) or a directory"
            )
        files.update(os.path.abspath(m) for m in matches)
    return sorted(files)


def is_gzip(path):
    return str(path).endswith(".gz")


def text_size(path):
    """Bytes of text in a file: its size, or for `.gz` the uncompressed size from the gzip
    trailer (exact below 4 GiB, an estimate above)."""
    if not is_gzip(path):
        return os.path.getsize(path)
    with open(path, "rb") as f:
        f.seek(-4, os.SEEK_END)
        return int.from_bytes(f.read(4), "little")


def _open_binary(path):
    return gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")


def iter_text_lines(path, start=0, end=None, skip_bad_lines=False, counters=None,
                    max_line_bytes=MAX_LINE_BYTES):
    """Yield `(text, num_bytes)` for each line of a UTF-8 file, streaming.

    Args:
        path: a text file, or a `.gz` of one.
        start: byte offset to start at (must be a line start; plain files only).
        end: stop at the first line starting at or after this offset (plain files only).
        skip_bad_lines: skip bad lines (not valid UTF-8, containing NUL bytes, or longer than
            `max_line_bytes`; counted in `counters["bad_lines"]`) instead of raising.
        counters: optional dict; `bad_lines` is incremented for each skipped line.
        max_line_bytes: longest accepted line; longer ones are never read into memory whole.

    Yields:
        `(line, num_bytes)`: the decoded line without its trailing newline, and its size in
        bytes (of the decompressed stream for `.gz`).

    Raises:
        BadInputError: a line is not valid UTF-8, contains NUL bytes (a binary file) or is
            longer than `max_line_bytes` (message names the file, the byte offset and the line
            number) and `skip_bad_lines` is False.
    """
    position = start
    line_number = 0
    where = "decompressed byte offset" if is_gzip(path) else "byte offset"
    skip_hint = "--skip_bad_lines (skip_bad_lines=True) to drop such lines"

    def bad(offset, problem):
        line_info = f"line {line_number}" if not start else f"line starting at {position}"
        return BadInputError(f"{path}: {where} {offset} ({line_info}): {problem}")

    def read_line(f):
        try:
            return f.readline(max_line_bytes + 1)
        except (EOFError, gzip.BadGzipFile, zlib.error) as error:  # only .gz files raise these
            raise BadInputError(
                f"{path}: {where} {position}: not a complete gzip file ({error}); the file is "
                "truncated or not gzip data. Re-create or re-download it (`gzip -t` checks a "
                "file); if it is plain text, remove the .gz suffix.") from None

    with _open_binary(path) as f:
        if start:
            f.seek(start)
        while end is None or position < end:
            raw = read_line(f)
            if not raw:
                break
            line_number += 1
            problem = None
            if len(raw) > max_line_bytes and not raw.endswith(b"\n"):
                if not skip_bad_lines:
                    raise bad(position, (
                        f"line longer than {max_line_bytes:,} bytes; the corpus must hold one "
                        "sentence per line with a blank line between documents. Split the file "
                        f"into lines (e.g. `fold -s -w 1000`) or pass {skip_hint}."))
                while raw and not raw.endswith(b"\n"):  # discard the rest, chunk by chunk
                    position += len(raw)
                    raw = read_line(f)
                problem = "too long"
            else:
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as error:
                    if not skip_bad_lines:
                        raise bad(position + error.start, (
                            f"not valid UTF-8 ({error.reason}: "
                            f"{raw[error.start:error.start + 4]!r}). Convert the file to UTF-8 "
                            f"(e.g. `iconv -f latin1 -t utf-8`) or pass {skip_hint}.")) from None
                    problem = "UTF-8"
                else:
                    if "\x00" in text:  # valid UTF-8, but no text file holds NUL
                        if not skip_bad_lines:
                            raise bad(position + raw.index(b"\x00"), (
                                "NUL byte: this is a binary file, not UTF-8 text. Remove it "
                                f"from the input glob or pass {skip_hint}."))
                        problem = "NUL"
            position += len(raw)
            if problem is not None:
                if counters is not None:
                    counters["bad_lines"] = counters.get("bad_lines", 0) + 1
                continue
            yield text.rstrip("\n"), len(raw)


def _find_document_start(f, offset, limit):
    """Offset of the first line after a blank line, searching lines that start in [offset, limit).

    Returns None when there is no blank line in that window.
    """
    f.seek(offset)
    position = offset
    if offset:
        # `offset` may fall inside a line: skip to the next line start (chunk by chunk).
        raw = f.readline(MAX_LINE_BYTES + 1)
        position += len(raw)
        while raw and not raw.endswith(b"\n") and position < limit:
            raw = f.readline(MAX_LINE_BYTES + 1)
            position += len(raw)
    while position < limit:
        raw = f.readline(MAX_LINE_BYTES + 1)  # a partial read of a huge line is not blank
        if not raw:
            return None
        position += len(raw)
        if not raw.decode("utf-8", errors="replace").strip():
            return position
    return None


def plan_work_units(files, chunk_bytes=DEFAULT_CHUNK_BYTES):
    """Split input files into work units `(file_index, path, start, end)`.

    A unit is a whole file, or, for plain files larger than `chunk_bytes`, a byte range that
    starts right after a blank line (a document boundary in G's convention), so every unit
    starts a new document and G's packing never crosses a unit boundary. The units depend only
    on the files and `chunk_bytes`, never on the number of workers. `end` is None for "to the
    end of the file".
    """
    units = []
    for file_index, path in enumerate(files):
        size = os.path.getsize(path)
        if is_gzip(path) or size <= chunk_bytes:
            units.append((file_index, path, 0, None))
            continue
        starts = [0]
        with open(path, "rb") as f:
            for nominal in range(chunk_bytes, size, chunk_bytes):
                found = _find_document_start(f, nominal, min(nominal + chunk_bytes, size))
                if found is not None and found < size and found > starts[-1]:
                    starts.append(found)
        for k, unit_start in enumerate(starts):
            unit_end = starts[k + 1] if k + 1 < len(starts) else None
            units.append((file_index, path, unit_start, unit_end))
    return units
