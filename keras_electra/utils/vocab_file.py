"""Reading and validating a WordPiece `vocab.txt`: the one place that does it.

The id of a token is its line number minus one, so anything that shifts lines or makes two
lines the same token silently changes what every id means. `read_vocabulary_file` refuses
those, naming the file and the line:

- a file that is not UTF-8 text (binary, latin-1, cut inside a character);
- an empty line before the last token (every later id would shift by one);
- a token with leading/trailing or inner whitespace (WordPiece never produces it: that line
  is dead, and with stripping it would collide with another token);
- a token that appears twice (two ids for one string: the lookup keeps one);
- missing special tokens ([PAD] [UNK] [CLS] [SEP] [MASK]).

Windows line ends (CRLF) and trailing empty lines are accepted.

Example:

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "vocab.txt")
>>> with open(path, "w") as f:
...     _ = f.write("[PAD]\\n[UNK]\\n[CLS]\\n[SEP]\\n[MASK]\\n\\nthe\\n")
>>> try:
...     read_vocabulary_file(path)
... except ValueError as error:
...     print(str(error).replace(path, "vocab.txt").split(": every")[0])
vocab.txt: line 6 is empty
"""

import os

from keras_electra.utils.errors import InputFileError, read_text_file

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def check_vocabulary(vocabulary, source="vocabulary"):
    """Raise `InputFileError` (a `ValueError`) if `vocabulary` (a list of tokens) would shift
    or collide ids, or lacks a special token; `source` names it in the message."""
    for line, token in enumerate(vocabulary, start=1):
        if not isinstance(token, str):
            raise InputFileError(f"{source}: line {line}: token {token!r} is not a string")
        if token == "":
            raise InputFileError(
                f"{source}: line {line} is empty: every token after it would get an id one "
                "higher than the model was trained with. Remove the empty line (a vocab.txt "
                "holds one token per line, with no blank lines).")
        if token != token.strip() or any(c.isspace() for c in token):
            raise InputFileError(
                f"{source}: line {line}: token {token!r} contains whitespace; WordPiece never "
                "produces such a token (was the file edited or joined with spaces?). Fix that "
                "line or rebuild the vocabulary with `keras-electra build-vocab`.")
    seen, duplicates = {}, []
    for line, token in enumerate(vocabulary, start=1):
        if token in seen:
            duplicates.append(f"{token!r} (line {line})")
        else:
            seen[token] = line
    missing = [t for t in SPECIAL_TOKENS if t not in seen]
    if missing:
        raise InputFileError(
            f"{source}: missing the special tokens {missing}. An ELECTRA vocab needs "
            "[PAD] [UNK] [CLS] [SEP] [MASK] (BERT positions: [PAD]=0, [UNK]=100, [CLS]=101, "
            "[SEP]=102, [MASK]=103); build one with `keras-electra build-vocab`.")
    if duplicates:
        raise InputFileError(
            f"{source}: duplicate tokens {duplicates[:5]}{' ...' if len(duplicates) > 5 else ''}"
            "; each token must appear once (two lines with one token give it two ids).")


def read_vocabulary_file(path):
    """Read and validate a `vocab.txt` (one token a line). Returns the list of tokens.

    Raises:
        FileNotFoundError: no such file (the message says how to make one).
        InputFileError: the file is not UTF-8 text, is empty, or fails `check_vocabulary`
            (the message names the file and line).
    """
    path = os.fspath(path)
    try:
        text = read_text_file(path, "vocabulary file (one token per line)")
    except FileNotFoundError:
        raise FileNotFoundError(
            f"vocabulary file not found: {path}; build one with `keras-electra build-vocab`"
        ) from None
    vocabulary = text.split("\n")
    vocabulary = [t[:-1] if t.endswith("\r") else t for t in vocabulary]
    while vocabulary and vocabulary[-1] == "":
        vocabulary.pop()
    if not vocabulary:
        raise InputFileError(f"{path}: the vocabulary file is empty; pass a vocab.txt with "
                             "one token per line (`keras-electra build-vocab` makes one)")
    check_vocabulary(vocabulary, path)
    return vocabulary
