"""One work unit of `prepare`: text lines -> tensorflow-text WordPiece ids -> G packing -> TFRecords.

Runs in-process (`workers=1`) or in worker processes started as
`python -m keras_electra.data.unit_worker TASK_FILE` (fresh interpreters: no fork of a process
that holds TensorFlow, and no re-import of the caller's `__main__`, so it works from notebooks
and unguarded scripts). Each unit has its own random generators, seeded from
`(seed, file index, unit start)`, so its examples do not depend on how many workers run or
which worker gets the unit.
"""

import collections
import hashlib
import json
import os
import random
import sys
import time
import traceback

from keras_electra.data.example_packing import ExampleBuilder, ExampleSerializer
from keras_electra.data.text_files import iter_text_lines
from keras_electra.utils.output_dirs import atomic_write, replace_file

PROGRESS_EVERY_BYTES = 1 << 20
_WORKER_STATE = {}


def unit_seed(seed, file_index, unit_start, purpose):
    """A 64-bit seed for one unit and one purpose ("train", "val", "split")."""
    key = f"keras_electra/prepare:{seed}:{file_index}:{unit_start}:{purpose}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "little")


class BatchTokenizer:
    """Tokenizes many lines in one TensorFlow call (tensorflow-text `FastBertTokenizer`).

    `lowercase and strip_accents` (BERT uncased, the default) and `not lowercase and not
    strip_accents` (cased) use `FastBertTokenizer`; the two mixed settings fall back to
    keras-hub's `WordPieceTokenizer` graph path, which supports them.
    """

    def __init__(self, vocabulary, lowercase=True, strip_accents=True):
        import tensorflow as tf

        if lowercase == strip_accents:
            import tensorflow_text as tf_text

            tokenizer = tf_text.FastBertTokenizer(
                vocab=list(vocabulary),
                token_out_type=tf.int64,
                unknown_token="[UNK]",
                lower_case_nfd_strip_accents=lowercase,
            )
        else:
            from keras_hub.tokenizers import WordPieceTokenizer

            tokenizer = WordPieceTokenizer(
                vocabulary=list(vocabulary), lowercase=lowercase,
                strip_accents=strip_accents, oov_token="[UNK]", dtype="int64",
            )

        from keras_electra.models.electra_tokenizer import G_DELETED_RE2, G_SPACE_RE2

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)], autograph=False)
        def tokenize(lines):
            # G's `_clean_text` first (FastBertTokenizer keeps \x0c, U+FFFD, private use ...)
            lines = tf.strings.regex_replace(tf.strings.regex_replace(lines, G_DELETED_RE2, ""),
                                             G_SPACE_RE2, " ")
            ids = tokenizer.tokenize(lines)
            if isinstance(ids, tf.RaggedTensor) and ids.ragged_rank == 2:
                ids = ids.merge_dims(-2, -1)
            return ids.flat_values, ids.row_splits

        self._tf = tf
        self._tokenize = tokenize

    def __call__(self, lines):
        """Returns `(flat_ids: list[int], row_splits: list[int])` for a list of strings."""
        flat, splits = self._tokenize(self._tf.constant(lines))
        return flat.numpy().tolist(), splits.numpy().tolist()


def init_worker(config, progress_queue=None):
    """Pool initializer: build the tokenizer once per process."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    _WORKER_STATE["config"] = config
    _WORKER_STATE["tokenizer"] = BatchTokenizer(
        config["vocabulary"], config["lowercase"], config["strip_accents"]
    )
    special = config["special_ids"]
    _WORKER_STATE["serializer"] = ExampleSerializer(
        config["max_seq_length"], special["[CLS]"], special["[SEP]"], len(config["vocabulary"])
    )
    _WORKER_STATE["progress"] = progress_queue


class _UnitWriter:
    """Packs examples for one split (train or val) and writes them to a TFRecord file."""

    def __init__(self, path, max_length, rng, serializer, unk_id, cls_id=None, sep_id=None):
        import tensorflow as tf

        self.path = path
        self.temporary = f"{path}.tmp-{os.getpid()}"
        self._writer = tf.io.TFRecordWriter(self.temporary)
        self.builder = ExampleBuilder(max_length, rng)
        self._max_length = max_length
        self._serialize = serializer
        self._unk_id = unk_id
        self._cls_id, self._sep_id = cls_id, sep_id
        # per-id counts of the real tokens written ([CLS], [SEP] included, padding not)
        self.token_counts = collections.Counter()
        self.stats = dict(
            documents=0, examples=0, example_tokens=0, positions=0, unk_tokens=0,
            segment_b_examples=0,
        )

    def emit(self, example):
        if example is None:
            return 0
        first, second = example
        self._writer.write(self._serialize(first, second))
        stats = self.stats
        stats["examples"] += 1
        stats["example_tokens"] += len(first) + len(second)
        stats["positions"] += len(first) + 2 + (len(second) + 1 if second else 0)
        stats["unk_tokens"] += first.count(self._unk_id) + second.count(self._unk_id)
        stats["segment_b_examples"] += bool(second)
        counts = self.token_counts
        counts.update(first)
        counts.update(second)
        if self._cls_id is not None:
            counts[self._cls_id] += 1
            counts[self._sep_id] += 2 if second else 1
        return 1

    def close(self):
        self._writer.close()
        replace_file(self.temporary, self.path)
        self.stats["single_segment_draws"] = self.builder.num_single_segment_draws
        self.stats["short_target_draws"] = self.builder.num_short_target_draws


def process_unit(task):
    """Tokenize and pack one unit; write `<prefix>.train.tfrecord`, `.val.tfrecord`, `.json`.

    Args:
        task: `(unit_index, (file_index, path, start, end), output_prefix)`.

    Returns:
        The unit's stats dict (also written to `<prefix>.json`, the completion marker).
    """
    unit_index, (file_index, path, start, end), prefix = task
    config = _WORKER_STATE["config"]
    tokenize = _WORKER_STATE["tokenizer"]
    progress = _WORKER_STATE.get("progress")
    serializer = _WORKER_STATE["serializer"]
    unk_id = config["special_ids"]["[UNK]"]
    max_length = config["max_seq_length"]
    seed = config["seed"]
    val_fraction = config["val_fraction"]
    started, cpu_started = time.time(), time.process_time()

    writers = {
        split: _UnitWriter(
            f"{prefix}.{split}.tfrecord", max_length,
            random.Random(unit_seed(seed, file_index, start, split)), serializer, unk_id,
            config["special_ids"]["[CLS]"], config["special_ids"]["[SEP]"],
        )
        for split in ("train", "val")
    }
    split_rng = random.Random(unit_seed(seed, file_index, start, "split"))
    counters = {"bad_lines": 0}
    totals = dict(lines=0, bytes=0, text_tokens=0)
    pending_report = [0, 0, 0]  # bytes, documents, examples not yet sent to the progress bar
    state = {"writer": None}  # the split of the current document; None between documents

    def flush(lines):
        flat, splits = tokenize([text for text, _ in lines if text]) if any(
            text for text, _ in lines
        ) else ([], [0])
        row = 0
        for text, num_bytes in lines:
            pending_report[0] += num_bytes
            if not text:  # G: a blank line ends the document
                if state["writer"] is not None:
                    pending_report[2] += state["writer"].emit(state["writer"].builder.end_document())
                    state["writer"] = None
                continue
            if state["writer"] is None:  # first line of a new document
                use_val = val_fraction > 0 and split_rng.random() < val_fraction
                state["writer"] = writers["val" if use_val else "train"]
                state["writer"].stats["documents"] += 1
                pending_report[1] += 1
            token_ids = flat[splits[row] : splits[row + 1]]
            row += 1
            totals["text_tokens"] += len(token_ids)
            pending_report[2] += state["writer"].emit(state["writer"].builder.add_sentence(token_ids))
        if progress is not None and pending_report[0] >= PROGRESS_EVERY_BYTES:
            progress.put(tuple(pending_report))
            pending_report[:] = [0, 0, 0]

    batch, batch_chars = [], 0
    for line, num_bytes in iter_text_lines(
        path, start=start, end=end, skip_bad_lines=config["skip_bad_lines"], counters=counters
    ):
        text = line.strip()  # G: line.strip()
        batch.append((text, num_bytes))
        batch_chars += len(text)
        totals["lines"] += 1
        totals["bytes"] += num_bytes
        if len(batch) >= config["batch_lines"] or batch_chars >= config["batch_chars"]:
            flush(batch)
            batch, batch_chars = [], 0
    flush(batch + [("", 0)])  # end of unit = end of document (G: add_line("") at end of file)
    if progress is not None and any(pending_report):
        progress.put(tuple(pending_report))

    for writer in writers.values():
        writer.close()
    stats = {
        "unit": unit_index, "file": path, "start": start, "end": end,
        "lines": totals["lines"], "bytes": totals["bytes"], "text_tokens": totals["text_tokens"],
        "bad_lines": counters["bad_lines"], "seconds": time.time() - started,
        "cpu_seconds": time.process_time() - cpu_started,
        "train": writers["train"].stats, "val": writers["val"].stats,
        # the train split's token frequencies (prepare sums them into token_counts.tsv)
        "train_token_counts": {str(k): v for k, v in sorted(writers["train"].token_counts.items())},
    }
    with atomic_write(f"{prefix}.json") as f:
        json.dump(stats, f)
    return stats


class _StdoutProgress:
    """Progress reports from a worker process: one `P <bytes> <docs> <examples>` line each."""

    def put(self, report):
        sys.stdout.write("P %d %d %d\n" % tuple(report))
        sys.stdout.flush()


def main(argv=None):
    """Worker process entry point: run the units listed in a JSON task file."""
    from keras_electra.data.text_files import BadInputError

    argv = sys.argv[1:] if argv is None else argv
    with open(argv[0]) as f:
        job = json.load(f)
    try:
        init_worker(job["config"], _StdoutProgress())
        for unit_index, unit, prefix in job["tasks"]:
            process_unit((unit_index, tuple(unit), prefix))
            sys.stdout.write(f"D {unit_index}\n")
            sys.stdout.flush()
    except BadInputError as error:
        sys.stdout.write("E " + json.dumps({"type": "BadInputError", "message": str(error)}) + "\n")
        sys.stdout.flush()
        return 3
    except Exception as error:  # reported to the parent with the traceback
        message = f"{type(error).__name__}: {error}\n{traceback.format_exc()}"
        sys.stdout.write("E " + json.dumps({"type": "Error", "message": message}) + "\n")
        sys.stdout.flush()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
