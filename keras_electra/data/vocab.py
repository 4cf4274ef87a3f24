"""WordPiece vocabulary: learn one from raw text (build-vocab), load and validate vocab files.

Learning uses tensorflow-text's WordPiece learner (`wordpiece_tokenizer_learner_lib`, the
library behind keras-hub's `compute_word_piece_vocabulary`) on words split exactly as keras-hub's
`WordPieceTokenizer` splits them. Unlike `compute_word_piece_vocabulary`, which reads each file
whole, text is streamed line by line (plain or `.gz`), and the special tokens are placed where
BERT/ELECTRA put them.
"""

import collections
import hashlib
import os

from keras_electra.data.text_files import (
    BAD_LINE_KINDS,
    BadInputError,
    expand_input_patterns,
    iter_text_lines,
)
from keras_electra.utils.output_dirs import write_file_atomically
from keras_electra.utils.vocab_file import check_vocabulary, read_vocabulary_file

# BERT's vocab.txt: [PAD]=0, [unused0..98]=1..99, [UNK]=100, [CLS]=101, [SEP]=102, [MASK]=103.
BERT_SPECIAL_LAYOUT = (
    ["[PAD]"] + [f"[unused{i}]" for i in range(99)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
)
COMPACT_SPECIAL_LAYOUT = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# Below this size the 99 [unused] slots would waste too much of the vocabulary.
MIN_SIZE_FOR_BERT_LAYOUT = 1000


def special_token_layout(vocabulary_size, layout="auto"):
    """The reserved tokens that open a vocabulary of `vocabulary_size`.

    `"bert"`: `[PAD]`=0, `[unused0]`..`[unused98]`, `[UNK]`=100, `[CLS]`=101, `[SEP]`=102,
    `[MASK]`=103 (BERT/ELECTRA's vocab.txt). `"compact"`: `[PAD] [UNK] [CLS] [SEP] [MASK]` at
    0..4. `"auto"`: "bert" when `vocabulary_size >= 1000`, else "compact".
    """
    if layout == "auto":
        layout = "bert" if vocabulary_size >= MIN_SIZE_FOR_BERT_LAYOUT else "compact"
    if layout == "bert":
        return list(BERT_SPECIAL_LAYOUT)
    if layout == "compact":
        return list(COMPACT_SPECIAL_LAYOUT)
    raise ValueError(f"layout must be 'auto', 'bert' or 'compact', got {layout!r}")


def _count_words(files, lowercase, strip_accents, skip_bad_lines, batch_lines, progress):
    import tensorflow as tf
    from keras_hub.src.tokenizers.word_piece_tokenizer import (  # private: keras-hub 0.32
        pretokenize,
    )

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def split_words(lines):
        return pretokenize(lines, lowercase, strip_accents, True, True).flat_values

    counts = collections.Counter()
    counters = {"bad_lines": 0, "lines": 0}
    for path in files:
        batch = []
        for line, num_bytes in iter_text_lines(
            path, skip_bad_lines=skip_bad_lines, counters=counters
        ):
            progress.update(num_bytes)
            counters["lines"] += 1
            if line.strip():
                batch.append(line)
            if len(batch) >= batch_lines:
                counts.update(split_words(tf.constant(batch)).numpy().tolist())
                batch = []
        if batch:
            counts.update(split_words(tf.constant(batch)).numpy().tolist())
    return {word.decode("utf-8"): count for word, count in counts.items()}, counters


def build_vocabulary(
    input_patterns,
    vocabulary_size=30522,
    output_path=None,
    lowercase=True,
    strip_accents=True,
    layout="auto",
    skip_bad_lines=False,
    batch_lines=4096,
    show_progress=True,
):
    """Learn a WordPiece vocabulary from raw text files.

    Words are split like keras-hub's `WordPieceTokenizer` (whitespace and punctuation, CJK
    characters apart; lower-casing and accent stripping as requested), counted, and passed to
    tensorflow-text's WordPiece learner with the special tokens reserved up front. If the
    learner returns fewer than `vocabulary_size` tokens (it aims within 5 % below the target)
    the vocabulary is padded with `[unusedN]` tokens, so the file always has exactly
    `vocabulary_size` lines and a model's `vocabulary_size` can be set from it.

    Args:
        input_patterns: glob(s) of UTF-8 text files (`.gz` too), one sentence per line.
        vocabulary_size: int. Number of tokens in the result (BERT: 30522).
        output_path: optional path of a `vocab.txt` to write (one token per line).
        lowercase: bool. Lower-case text before learning (uncased model).
        strip_accents: bool. NFD-normalize and drop combining marks.
        layout: `"auto"`, `"bert"` or `"compact"`, where the special tokens go (see
            `special_token_layout`). Auto: BERT positions ([PAD]=0, [UNK]=100, [CLS]=101,
            [SEP]=102, [MASK]=103) when `vocabulary_size >= 1000`, else `[PAD] [UNK] [CLS]
            [SEP] [MASK]` at 0..4.
        skip_bad_lines: skip bad lines (not valid UTF-8, NUL bytes, over-long) instead of failing.
        batch_lines: lines split per TensorFlow call.
        show_progress: show a tqdm bar over input bytes.

    Returns:
        The vocabulary, a list of `vocabulary_size` strings.

    Example:
    ```python
    from keras_electra.data import build_vocabulary

    vocab = build_vocabulary("corpus/*.txt", vocabulary_size=8000, output_path="vocab.txt")
    vocab.index("[CLS]")  # 101
    ```
    """
    from tensorflow_text.tools.wordpiece_vocab import wordpiece_tokenizer_learner_lib as learner

    reserved = special_token_layout(vocabulary_size, layout)
    if vocabulary_size < len(reserved) + 1:
        raise ValueError(
            f"vocabulary_size={vocabulary_size} leaves no room after the {len(reserved)} "
            "special tokens; use a larger size (BERT uses 30522)"
        )
    files = expand_input_patterns(input_patterns)
    if output_path is not None:  # before the learning pass, not after it
        from keras_electra.utils.output_dirs import check_output_file, check_output_not_input

        check_output_file(output_path, "--output")
        check_output_not_input(output_path, [("--input", files)], "--output", "vocabulary")
    word_counts = _corpus_word_counts(
        files, input_patterns, lowercase, strip_accents, skip_bad_lines, batch_lines,
        show_progress,
    )
    vocab = learner.learn(
        word_counts,
        vocab_size=vocabulary_size,
        reserved_tokens=reserved,
        include_joiner_token=True,
        joiner="##",
    )
    vocab = _pad_with_unused(list(vocab[:vocabulary_size]), vocabulary_size, reserved)
    check_vocabulary(vocab, "the learned vocabulary")
    if output_path is not None:
        write_vocabulary(vocab, output_path)
    return vocab


def _corpus_word_counts(
    files, input_patterns, lowercase, strip_accents, skip_bad_lines, batch_lines, show_progress
):
    """`{word: count}` of the corpus, with a progress bar over its bytes; an empty corpus
    raises `BadInputError`."""
    from tqdm.auto import tqdm

    total_bytes = sum(os.path.getsize(p) for p in files)
    with tqdm(
        total=total_bytes, unit="B", unit_scale=True, desc="build-vocab: counting words",
        disable=not show_progress,
    ) as progress:
        word_counts, counters = _count_words(
            files, lowercase, strip_accents, skip_bad_lines, batch_lines, progress
        )
    if not word_counts:
        raise BadInputError(
            f"empty corpus: no words in the {len(files)} file(s) matched by {input_patterns!r}"
            f" ({counters['lines']} lines, {counters['bad_lines']} skipped as bad: "
            f"{BAD_LINE_KINDS})"
        )
    # Accent stripping can turn a spacing accent (e.g. U+00B4) inside a word into
    # whitespace; such "words" would teach the learner " " and "## " pieces that
    # the tokenizers then emit for every space. Split them on whitespace instead.
    cleaned = {}
    for word, count in word_counts.items():
        for part in word.split():
            cleaned[part] = cleaned.get(part, 0) + count
    return cleaned


def _pad_with_unused(vocab, vocabulary_size, reserved):
    """Fill `vocab` up to `vocabulary_size` with `[unusedN]` tokens it does not hold yet
    (after the BERT layout's `[unused0..98]`)."""
    present = set(vocab)
    next_unused = 99 if reserved[1] == "[unused0]" else 0
    while len(vocab) < vocabulary_size:
        token = f"[unused{next_unused}]"
        next_unused += 1
        if token not in present:
            vocab.append(token)
    return vocab


def write_vocabulary(vocabulary, path):
    """Write one token per line (UTF-8), atomically (temporary file, then rename)."""
    write_file_atomically(path, "".join(token + "\n" for token in vocabulary))


def load_vocabulary(path):
    """Read and validate a `vocab.txt` (one token a line). Returns the list of tokens.

    The same check as `ElectraTokenizer(vocabulary=path)`
    (`keras_electra.utils.vocab_file.read_vocabulary_file`): anything that would shift or
    collide ids is an error naming the line.
    """
    return read_vocabulary_file(path)


def vocabulary_fingerprint(vocabulary):
    """sha256 of the vocabulary's tokens (for data manifests)."""
    return hashlib.sha256("\n".join(vocabulary).encode("utf-8")).hexdigest()
