"""`prepare`: raw text -> ELECTRA pretraining TFRecord shards, exactly G's packing.

Pipeline:

1. The input files are cut into work units (whole files; plain files over `chunk_bytes` are cut
   at blank lines). Workers (processes) tokenize each unit in large batches with
   tensorflow-text's `FastBertTokenizer` and pack it with G's `ExampleBuilder`
   (`example_packing.py`); each document goes to the validation split with probability
   `val_fraction`. A unit's examples go to `<output_dir>/.work/unit-NNNNN.{train,val}.tfrecord`,
   its stats to `unit-NNNNN.json` (written last: the completion marker). Every unit has its own
   seeded random generators, so the examples do not depend on the number of workers.
2. A merge pass deals the examples, in unit order, round-robin into `num_shards` train shards
   (`train/pretrain_data.tfrecord-00000-of-000NN`, G's schema) and `num_val_shards` validation
   shards (`val/...`), then writes `stats.json`, `token_counts.tsv` (how often each vocab id
   occurs in the train examples, one integer per vocab.txt line, summed over the units: the
   unigram generator's distribution) and marks `manifest.json` complete.

Every file is written under a temporary name and renamed when complete. Re-running with the
same configuration skips finished units and shards; a different configuration is refused
unless `overwrite=True`. Output is byte-identical for the same seed, whatever `workers` is.

`overwrite=True` never deletes the existing output before the new one is complete: the new
run is built in `<output_dir>/.overwrite-new/` (resumable like any run), then swapped in (the
old files are moved to `.overwrite-old/`, the new ones moved in with `manifest.json` last,
then the old ones deleted; a swap cut short is finished at the next start). The output dir
may not overlap the inputs (be, or be inside, an input directory, contain an input file, or
hold files an input glob matches): `prepare` would read its own output as text next time.

Differences from G that do not change how an example is built: G's global, unseeded `random`
is replaced by per-unit seeded generators; G's builder carries its next target length from one
file to the next, ours starts each unit at `max_seq_length`; G shuffles the file order per job,
we keep the sorted order (shards are dealt round-robin either way); G's BERT `FullTokenizer`
is replaced by tensorflow-text's `FastBertTokenizer` (same vocabulary and normalization; words
over 100 bytes become [UNK], BERT: 200 characters). Note that G's A/B rule can put a later,
shorter sentence into A after an earlier one went to B; we reproduce that.
"""

import dataclasses
import fnmatch
import glob
import json
import math
import os
import shutil
import struct
import threading
import time

from keras_electra.data.text_files import (
    BAD_LINE_KINDS,
    DEFAULT_CHUNK_BYTES,
    BadInputError,
    expand_input_patterns,
    plan_work_units,
    split_input_patterns,
    text_size,
)
from keras_electra.data.vocab import load_vocabulary, vocabulary_fingerprint
from keras_electra.utils.output_dirs import atomic_write, replace_file

FORMAT = "keras_electra.pretraining_data.v1"
SHARD_PREFIX = "pretrain_data.tfrecord"
MANIFEST = "manifest.json"
STATS = "stats.json"
# the train split's token frequencies, one integer per vocab.txt line (the unigram generator's);
# not `.txt`, which a corpus glob such as `data/**/*.txt` would match
TOKEN_COUNTS = "token_counts.tsv"
WORK_DIR = ".work"
# --overwrite: the new output is built in STAGING_DIR and swapped in; the old one goes to
# OLD_DIR until the swap is done (SWAP_MARKER in it: every old file has been moved there).
STAGING_DIR = ".overwrite-new"
OLD_DIR = ".overwrite-old"
SWAP_MARKER = "old-files-moved"
WORKER_BYTES = 32 * 1024 * 1024


def shard_name(index, count):
    """`pretrain_data.tfrecord-00003-of-00016`."""
    return f"{SHARD_PREFIX}-{index:05d}-of-{count:05d}"


def default_num_shards(total_bytes):
    """At least 8 shards (so 8 workers can each read their own files), ~64 MB of text each."""
    return min(1000, max(8, math.ceil(total_bytes / (64 * 1024 * 1024))))


def _config_differences(old, new):
    keys = sorted(set(old) | set(new))
    return [k for k in keys if old.get(k) != new.get(k)]


def _output_names(output_dir):
    """Names of prepare's outputs in `output_dir`, `manifest.json` first."""
    names = [n for n in os.listdir(output_dir)
             if n in ("train", "val", WORK_DIR, MANIFEST, STATS, TOKEN_COUNTS)
             or n.startswith(SHARD_PREFIX)]
    return sorted(names, key=lambda n: (n != MANIFEST, n))


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)


def _has_outputs(output_dir):
    return bool(_output_names(output_dir))


def _write_json(path, value):
    with atomic_write(path) as f:
        json.dump(value, f, indent=2, sort_keys=True)


def _read_manifest(directory):
    try:
        with open(os.path.join(directory, MANIFEST)) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def _swap_in(staging, output_dir):
    """Replace prepare's outputs in `output_dir` by the complete build in `staging`.

    Old outputs are moved (renamed) to OLD_DIR, `manifest.json` first, so that `output_dir`
    never looks complete while it holds a mix; then the new ones are moved in, `manifest.json`
    last; then OLD_DIR is deleted. Each step is a rename, so a crash leaves every file of both
    runs on disk, and calling this again (`_finish_interrupted_swap`) completes the swap.
    """
    old = os.path.join(output_dir, OLD_DIR)
    marker = os.path.join(old, SWAP_MARKER)
    os.makedirs(old, exist_ok=True)
    if not os.path.exists(marker):
        for name in _output_names(output_dir):
            _remove(os.path.join(old, name))  # a copy from an earlier, unfinished swap
            replace_file(os.path.join(output_dir, name), os.path.join(old, name))
        open(marker, "w").close()
    if os.path.isdir(staging):
        for name in sorted(os.listdir(staging), key=lambda n: (n == MANIFEST, n)):
            _remove(os.path.join(output_dir, name))  # old files are all in OLD_DIR by now
            replace_file(os.path.join(staging, name), os.path.join(output_dir, name))
        os.rmdir(staging)
    shutil.rmtree(old)


def _finish_interrupted_swap(output_dir):
    old = os.path.join(output_dir, OLD_DIR)
    if not os.path.isdir(old):
        return
    staging = os.path.join(output_dir, STAGING_DIR)
    if os.path.isdir(staging) or os.path.exists(os.path.join(output_dir, MANIFEST)):
        print(f"prepare: finishing the --overwrite of {output_dir} that was interrupted while "
              "the new files were being moved in")
        _swap_in(staging, output_dir)
        return
    # The new files are gone (removed by hand?): put the old ones back rather than lose both.
    for name in os.listdir(old):
        if name != SWAP_MARKER and not os.path.lexists(os.path.join(output_dir, name)):
            replace_file(os.path.join(old, name), os.path.join(output_dir, name))
    shutil.rmtree(old)


def _is_complete(directory, manifest):
    shards = manifest.get("train_shards", []) + manifest.get("val_shards", [])
    return bool(manifest.get("complete")) and all(
        os.path.exists(os.path.join(directory, shard)) for shard in shards
    ) and os.path.exists(os.path.join(directory, STATS))


def _staging_dir(output_dir, config):
    """The dir an `overwrite=True` run builds in: STAGING_DIR, resumed when it holds a run of
    this configuration (an earlier --overwrite that was interrupted), else emptied."""
    staging = os.path.join(output_dir, STAGING_DIR)
    manifest = _read_manifest(staging) if os.path.isdir(staging) else None
    if manifest is not None and not _config_differences(manifest.get("config", {}), config):
        return staging, _is_complete(staging, manifest)
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging)
    return staging, False


def _check_output_dir(output_dir, config, overwrite):
    """Refuse to mix configurations; returns `(build_dir, complete)`.

    `build_dir` is where this run writes: `output_dir`, or with `overwrite=True` and existing
    output, STAGING_DIR inside it (swapped in when complete, see `_swap_in`). `complete`: a
    complete run of this configuration is already in `build_dir`.
    """
    os.makedirs(output_dir, exist_ok=True)
    _finish_interrupted_swap(output_dir)
    manifest = _read_manifest(output_dir)
    if manifest is not None:
        if overwrite:
            return _staging_dir(output_dir, config)
        differences = _config_differences(manifest.get("config", {}), config)
        if differences:
            raise BadInputError(
                f"{output_dir} holds pretraining data of another configuration (differs in: "
                f"{', '.join(differences)}). Use another --output_dir, or pass --overwrite "
                "(overwrite=True) to replace it (the old data is kept until the new data is "
                "complete)."
            )
        return output_dir, _is_complete(output_dir, manifest)
    if _has_outputs(output_dir):
        if overwrite:
            return _staging_dir(output_dir, config)
        raise BadInputError(
            f"{output_dir} holds shards or work files but no {MANIFEST}, so their configuration "
            "is unknown. Use another --output_dir, or pass --overwrite (overwrite=True)."
        )
    shutil.rmtree(os.path.join(output_dir, STAGING_DIR), ignore_errors=True)  # stale
    return output_dir, False


# Paths prepare writes under its output dir (and its staging dir): an input glob that matches
# one of them would read prepare's own output as corpus text.
_OUTPUT_SAMPLES = (
    MANIFEST, STATS, TOKEN_COUNTS, f"{TOKEN_COUNTS}.tmp-1", f"{MANIFEST}.tmp-1",
    f"train/{shard_name(0, 1)}", f"val/{shard_name(0, 1)}",
    f"train/{shard_name(0, 1)}.tmp-1", f"{WORK_DIR}/unit-00000.json",
    f"{WORK_DIR}/unit-00000.train.tfrecord", f"{WORK_DIR}/worker-0.json",
    f"{WORK_DIR}/worker-0.log",
)


def _glob_matches(pattern, path):
    """Whether the glob `pattern` (`**` recursive) can match `path` (both absolute)."""
    parts, names = pattern.split(os.sep), path.split(os.sep)

    def match(i, j):
        if i == len(parts):
            return j == len(names)
        if parts[i] == "**":
            return any(match(i + 1, k) for k in range(j, len(names) + 1))
        return j < len(names) and fnmatch.fnmatchcase(names[j], parts[i]) and match(i + 1, j + 1)

    return match(0, 0)


def _glob_forms(pattern):
    """`pattern` made absolute, and with the symlinks of its literal prefix resolved."""
    absolute = os.path.abspath(pattern)
    parts = absolute.split(os.sep)
    literal = next((i for i, part in enumerate(parts) if glob.has_magic(part)), len(parts))
    prefix = os.path.realpath(os.sep.join(parts[:literal]) or os.sep)
    return {absolute, os.path.join(prefix, *parts[literal:])}


def _inside(path, directory):
    """`path` is `directory` or below it (real paths)."""
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def _ancestors(path):
    """`path` and every directory above it."""
    while True:
        yield path
        parent = os.path.dirname(path)
        if parent == path:
            return
        path = parent


def check_output_outside_inputs(input_patterns, files, output_dir):
    """Refuse an output dir that overlaps the inputs, before anything is read or written.

    Overlap: the output dir is an input directory or inside one (or inside a directory that an
    input glob names), contains an input file, or an input glob matches files that prepare
    writes there. Then the next run would tokenize prepare's own `manifest.json` and shards as
    text, and `--overwrite` would remove files that the run reads. Real paths are compared, so
    symlinks do not hide an overlap.

    Raises:
        BadInputError: naming the output dir, the input and the fix.
    """
    output_abs, output_real = os.path.abspath(output_dir), os.path.realpath(output_dir)
    problem = None
    for pattern in split_input_patterns(input_patterns):
        if os.path.isdir(pattern):
            directory = os.path.realpath(pattern)
            if _inside(output_real, directory):
                where = "is" if output_real == directory else "is inside"
                problem = f"{where} the input directory {pattern}"
        elif glob.has_magic(pattern):
            forms = _glob_forms(pattern)
            named = [a for root in (output_abs, output_real) for a in _ancestors(root)]
            hit = next((a for form in forms for a in named if _glob_matches(form, a)), None)
            if hit is not None:
                problem = (f"is matched by the input pattern {pattern!r}"
                           if hit in (output_abs, output_real) else
                           f"is inside {hit}, which the input pattern {pattern!r} matches")
            else:
                outputs = [os.path.join(root, sub, sample)
                           for root in (output_abs, output_real)
                           for sub in ("", STAGING_DIR) for sample in _OUTPUT_SAMPLES]
                hit = next((o for form in forms for o in outputs if _glob_matches(form, o)),
                           None)
                if hit is not None:
                    problem = (f"would hold files that the input pattern {pattern!r} matches "
                               f"(e.g. {hit})")
        if problem:
            break
    if problem is None:
        inside = next((p for p in files if _inside(os.path.realpath(p), output_real)), None)
        if inside is not None:
            problem = f"contains the input file {inside}"
    if problem:
        raise BadInputError(
            f"--output_dir {output_dir} {problem}: prepare would read its own output "
            "(manifest.json, shards) as corpus text, and --overwrite would delete what it "
            "reads. Use an --output_dir outside the input directories (e.g. next to them) that "
            "no input pattern matches."
        )


class _Progress:
    """tqdm bar over input bytes with documents/examples in the postfix."""

    def __init__(self, total_bytes, enabled):
        from tqdm.auto import tqdm

        self.bar = tqdm(
            total=total_bytes, unit="B", unit_scale=True, desc="prepare", disable=not enabled
        )
        self.documents = 0
        self.examples = 0

    def put(self, report):
        num_bytes, documents, examples = report
        self.documents += documents
        self.examples += examples
        self.bar.set_postfix(docs=self.documents, examples=self.examples, refresh=False)
        self.bar.update(num_bytes)

    def close(self):
        self.bar.close()


def _assign_tasks(tasks, workers):
    """Greedy largest-first assignment of units to workers (balances bytes, deterministic)."""
    def size(task):
        _, (_, path, start, end), _ = task
        return (end if end is not None else os.path.getsize(path)) - start

    loads = [[0, w, []] for w in range(workers)]
    for task in sorted(tasks, key=lambda t: (-size(t), t[0])):
        lightest = min(loads)
        lightest[0] += size(task)
        lightest[2].append(task)
    return [sorted(assigned) for _, _, assigned in sorted(loads, key=lambda x: x[1]) if assigned]


def _read_worker(process, progress, errors, lock):
    for line in process.stdout:
        kind, _, rest = line.rstrip("\n").partition(" ")
        if kind == "P":
            with lock:
                progress.put(tuple(int(x) for x in rest.split()))
        elif kind == "E":
            errors.append(json.loads(rest))


WORKER_COMMAND = ("-m", "keras_electra.data.unit_worker")


def _run_units(tasks, worker_config, workers, progress, work_dir, worker_command=None):
    """Run the units in-process (workers=1) or in `workers` fresh Python processes.

    A worker process runs `python -m keras_electra.data.unit_worker JOB.json` and reports on
    stdout: `P <bytes> <documents> <examples>` (progress), `D <unit>` (unit done),
    `E <json>` (error, re-raised here).
    """
    from keras_electra.data import unit_worker

    if workers <= 1:
        unit_worker.init_worker(worker_config, progress)
        for task in tasks:
            unit_worker.process_unit(task)
        return
    import subprocess
    import sys

    processes, readers, errors, lock = [], [], [], threading.Lock()
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
    try:
        for worker_index, assigned in enumerate(_assign_tasks(tasks, workers)):
            job_path = os.path.join(work_dir, f"worker-{worker_index}.json")
            _write_json(job_path, {"config": worker_config, "tasks": assigned})
            log_path = os.path.join(work_dir, f"worker-{worker_index}.log")
            with open(log_path, "w") as log:  # stderr to a file: a full pipe would block
                command = list(worker_command or (sys.executable, *WORKER_COMMAND))
                process = subprocess.Popen(
                    command + [job_path],
                    stdout=subprocess.PIPE, stderr=log, text=True, env=environment,
                )
            process.log_path = log_path
            processes.append(process)
            reader = threading.Thread(
                target=_read_worker, args=(process, progress, errors, lock), daemon=True
            )
            reader.start()
            readers.append(reader)
        for process, reader in zip(processes, readers):
            process.wait()
            reader.join()
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                process.wait()
    for error in errors:
        if error["type"] == "BadInputError":
            raise BadInputError(error["message"])
    if errors:
        raise RuntimeError(f"prepare: a worker failed: {errors[0]['message']}")
    failed = [p for p in processes if p.returncode != 0]
    if failed:
        with open(failed[0].log_path) as log:
            stderr = log.read()[-3000:]
        raise RuntimeError(
            f"prepare: a worker process exited with code {failed[0].returncode} "
            f"(log {failed[0].log_path}):\n{stderr}"
        )


def _framed_records(path):
    """The TFRecord records of `path` as raw framed bytes (length, CRCs and data).

    The unit files were written by the workers moments ago, so the records are copied to the
    shards verbatim, CRCs included, without TensorFlow in this process.
    """
    with open(path, "rb") as f:
        while True:
            header = f.read(12)  # uint64 length + uint32 masked CRC of the length
            if not header:
                return
            (length,) = struct.unpack("<Q", header[:8])
            body = f.read(length + 4)  # data + uint32 masked CRC of the data
            if len(header) < 12 or len(body) < length + 4:
                raise RuntimeError(f"{path}: truncated work file; re-run with --overwrite")
            yield header + body


def _merge(unit_files, shard_dir, num_shards, show_progress, desc):
    """Deal the records of `unit_files` (in order) round-robin into `num_shards` shards."""
    from tqdm.auto import tqdm

    os.makedirs(shard_dir, exist_ok=True)
    for name in os.listdir(shard_dir):  # temporary files of an interrupted run
        if name.startswith(SHARD_PREFIX) and ".tmp-" in name:
            os.remove(os.path.join(shard_dir, name))
    paths = [os.path.join(shard_dir, shard_name(i, num_shards)) for i in range(num_shards)]
    # Shards already complete (renamed) in an interrupted merge are skipped.
    writers = [
        None if os.path.exists(p) else open(f"{p}.tmp-{os.getpid()}", "wb") for p in paths
    ]
    counts = [0] * num_shards
    index = 0
    try:
        for unit_file in tqdm(unit_files, desc=desc, unit="unit", disable=not show_progress):
            for record in _framed_records(unit_file):
                shard = index % num_shards
                if writers[shard] is not None:
                    writers[shard].write(record)
                counts[shard] += 1
                index += 1
    finally:
        for writer in writers:
            if writer is not None:
                writer.close()
    for path, writer in zip(paths, writers):
        if writer is not None:
            replace_file(f"{path}.tmp-{os.getpid()}", path)
    return [os.path.relpath(p, os.path.dirname(shard_dir)) for p in paths], counts


def _write_token_counts(path, unit_stats, vocabulary_size):
    """`token_counts.tsv`: per vocab id (one line each), how often it occurs in the train
    examples (real tokens, [CLS]/[SEP] included), summed over the units."""
    if any("train_token_counts" not in s for s in unit_stats):  # units of an older version
        print(f"prepare: warning: {TOKEN_COUNTS} not written (work units of an older "
              "keras-electra); re-run with --overwrite for it")
        return
    counts = [0] * vocabulary_size
    for s in unit_stats:
        for token_id, count in s["train_token_counts"].items():
            counts[int(token_id)] += count
    with atomic_write(path) as f:
        f.write("".join(f"{c}\n" for c in counts))


def read_token_counts(path, vocabulary_size=None):
    """The counts of a `token_counts.tsv` (a list of ints, one per vocab id).

    Raises `InputFileError` naming the file (and line) when it is not UTF-8 text, a line is not
    a non-negative integer, every count is zero, or (with `vocabulary_size`) it does not hold
    one count per vocabulary id.
    """
    from keras_electra.utils.errors import InputFileError, read_text_file

    fix = ("re-create it with `keras-electra prepare ... --overwrite` (it writes "
           "token_counts.tsv beside train/)")
    counts = []
    for number, line in enumerate(read_text_file(path, "token counts file").splitlines(), 1):
        if not line.strip():
            continue
        try:
            count = int(line.strip())
        except ValueError:
            count = -1
        if count < 0:
            raise InputFileError(f"{path}: line {number}: {line.strip()[:40]!r} is not a "
                                 f"non-negative integer (one count per vocabulary id); {fix}")
        counts.append(count)
    if not counts or not any(counts):
        raise InputFileError(f"{path}: {'no counts' if not counts else 'every count is 0'}: "
                             f"a unigram generator cannot sample from it; {fix}")
    if vocabulary_size is not None and len(counts) != int(vocabulary_size):
        raise InputFileError(f"{path}: {len(counts)} counts, but the vocabulary has "
                             f"{vocabulary_size} ids (one count per id; a short or cut file, or "
                             f"counts of another vocabulary); {fix}")
    return counts


def _summarize(unit_stats, max_seq_length):
    def total(split, key):
        return sum(s[split][key] for s in unit_stats)

    examples = total("train", "examples") + total("val", "examples")
    example_tokens = total("train", "example_tokens") + total("val", "example_tokens")
    positions = total("train", "positions") + total("val", "positions")
    text_tokens = sum(s["text_tokens"] for s in unit_stats)

    def ratio(a, b):
        return a / b if b else 0.0

    return {
        "documents": total("train", "documents") + total("val", "documents"),
        "train_documents": total("train", "documents"),
        "val_documents": total("val", "documents"),
        "examples": examples,
        "train_examples": total("train", "examples"),
        "val_examples": total("val", "examples"),
        "tokens": text_tokens,
        "example_tokens": example_tokens,
        "tokens_dropped_by_truncation": text_tokens - example_tokens,
        "fill_ratio": ratio(positions, examples * max_seq_length),
        "unk_rate": ratio(
            total("train", "unk_tokens") + total("val", "unk_tokens"), example_tokens
        ),
        "segment_b_rate": ratio(
            total("train", "segment_b_examples") + total("val", "segment_b_examples"), examples
        ),
        "single_segment_draw_rate": ratio(
            total("train", "single_segment_draws") + total("val", "single_segment_draws"),
            examples,
        ),
        "short_target_draw_rate": ratio(
            total("train", "short_target_draws") + total("val", "short_target_draws"), examples
        ),
        "lines": sum(s["lines"] for s in unit_stats),
        "bad_lines": sum(s["bad_lines"] for s in unit_stats),
        "input_bytes": sum(s["bytes"] for s in unit_stats),
        # Throughput of one worker once started (tokenize + pack + write): per wall second,
        # and per CPU second of the worker process (what it would get on an idle core).
        "mb_per_s_per_worker": ratio(
            sum(s["bytes"] for s in unit_stats) / 1e6, sum(s["seconds"] for s in unit_stats)
        ),
        "mb_per_cpu_s_per_worker": ratio(
            sum(s["bytes"] for s in unit_stats) / 1e6,
            sum(s.get("cpu_seconds", 0.0) for s in unit_stats),
        ),
    }


def prepare_pretraining_data(
    input_patterns,
    vocab_path,
    output_dir,
    max_seq_length=128,
    num_shards=None,
    num_val_shards=None,
    val_fraction=0.01,
    seed=0,
    workers=None,
    overwrite=False,
    skip_bad_lines=False,
    lowercase=True,
    strip_accents=True,
    chunk_bytes=DEFAULT_CHUNK_BYTES,
    batch_lines=2048,
    show_progress=True,
    keep_work_files=False,
):
    """Turn raw text into ELECTRA pretraining shards (G's `build_pretraining_dataset.py`).

    Input: UTF-8 text files (`.gz` too), one sentence per line, a blank line ends a document.
    Sentences are accumulated to the target length (`max_seq_length`, or with probability
    0.05 a random length in [5, max_seq_length]); 10 % of examples are single-segment; the
    A/B split, truncation and layout `[CLS] A [SEP] B [SEP]` follow G exactly.

    Args:
        input_patterns: glob(s) of text files (`"corpus/*.txt"`), a directory, or a list.
        vocab_path: `vocab.txt` with [PAD] [UNK] [CLS] [SEP] [MASK].
        output_dir: where `train/`, `val/`, `stats.json` and `manifest.json` go.
        max_seq_length: int. Tokens per example (G: 128 for Small, 512 for Base/Large).
        num_shards: train shards (default: 8, or one per ~64 MB of text, at most 1000).
        num_val_shards: validation shards (default: `ceil(num_shards * val_fraction)`).
        val_fraction: fraction of documents held out for validation (0 disables).
        seed: int. Same seed and inputs -> byte-identical shards, for any `workers`.
        workers: processes (default: one per ~32 MB of text, at most one per CPU core and
            one per work unit; 1 runs in this process). The output does not depend on it.
        overwrite: delete existing output of another configuration instead of refusing.
        skip_bad_lines: skip (and count) lines that are not UTF-8 instead of failing.
        lowercase, strip_accents: tokenizer normalization (BERT uncased: both True).
        chunk_bytes: plain files larger than this are split at blank lines into several units.
        batch_lines: lines tokenized per TensorFlow call.
        show_progress: tqdm progress bars.
        keep_work_files: keep the per-unit files in `<output_dir>/.work`.

    Returns:
        The stats dict also written to `<output_dir>/stats.json`: documents, examples
        (train/val), tokens, fill_ratio, unk_rate, segment_b_rate, seconds, mb_per_s, ...

    Example:
    ```python
    from keras_electra.data import prepare_pretraining_data

    stats = prepare_pretraining_data(
        "corpus/*.txt", "vocab.txt", "pretrain_data", max_seq_length=128, workers=4
    )
    print(stats["examples"], stats["mb_per_s"])
    ```
    """
    started = time.time()
    _check_lengths(max_seq_length, val_fraction)
    output_dir = os.fspath(output_dir)
    files = expand_input_patterns(input_patterns)
    check_output_outside_inputs(input_patterns, files, output_dir)
    vocabulary = load_vocabulary(vocab_path)
    units = plan_work_units(files, chunk_bytes)
    num_shards, num_val_shards = _shard_counts(files, num_shards, num_val_shards, val_fraction)
    config = _build_config(files, vocabulary, lowercase, strip_accents, max_seq_length,
                           num_shards, num_val_shards, val_fraction, seed, chunk_bytes,
                           skip_bad_lines)
    build_dir, complete = _check_output_dir(output_dir, config, overwrite)
    if complete:
        return _reuse_complete_build(build_dir, output_dir)
    _write_json(os.path.join(build_dir, MANIFEST), {"config": config, "complete": False})
    build = _Build(output_dir, build_dir, os.path.join(build_dir, WORK_DIR), units)
    worker_config = _worker_config(vocabulary, lowercase, strip_accents, max_seq_length, seed,
                                   val_fraction, skip_bad_lines, batch_lines)
    done_now, workers, tokenize_seconds = _tokenize_units(build, worker_config, workers,
                                                          show_progress)
    unit_stats = [_read_json(f"{prefix}.json") for prefix in build.prefixes]
    processed_bytes = sum(s["bytes"] for s in unit_stats if s["unit"] in done_now)
    stats = _summarize(unit_stats, max_seq_length)
    no_validation = _check_examples(build, stats, input_patterns, len(files), num_val_shards,
                                    val_fraction)
    shards, counts = _write_shards(build, num_shards, num_val_shards, show_progress)
    seconds = time.time() - started
    stats.update(
        max_seq_length=max_seq_length, input_files=len(files), work_units=len(units),
        resumed_units=len(units) - len(done_now), workers=workers, num_shards=num_shards,
        num_val_shards=num_val_shards,
        empty_shards=sum(c == 0 for c in counts["train"] + counts["val"]),
        train_shard_examples=counts["train"], val_shard_examples=counts["val"],
        seconds=seconds, tokenize_seconds=tokenize_seconds,
        # end to end: text bytes processed by this run / wall time (startup, merge included)
        mb_per_s=processed_bytes / 1e6 / seconds if seconds > 0 else 0.0,
    )
    _warn_empty_shards(stats, num_val_shards if no_validation else 0)
    _finish_build(build, config, stats, unit_stats, shards, len(vocabulary), keep_work_files)
    return stats


@dataclasses.dataclass
class _Build:
    """Where one `prepare` run writes: `output_dir`, the folder it builds in (`output_dir`, or
    STAGING_DIR under --overwrite), the per-unit work files."""

    output_dir: str
    build_dir: str
    work_dir: str
    units: list

    @property
    def prefixes(self):
        return [os.path.join(self.work_dir, f"unit-{i:05d}") for i in range(len(self.units))]


def _check_lengths(max_seq_length, val_fraction):
    if max_seq_length < 5:
        raise ValueError(f"max_seq_length must be >= 5 (G draws targets in [5, max]); got "
                         f"{max_seq_length}")
    from keras_electra.utils.flag_checks import MAX_POSITIONS

    if max_seq_length > MAX_POSITIONS:
        raise ValueError(f"max_seq_length {max_seq_length}: must be <= {MAX_POSITIONS}, the "
                         "positions of any ELECTRA model (G: 128 for Small, 512 for Base/Large); "
                         "longer examples could never be trained on")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")


def _shard_counts(files, num_shards, num_val_shards, val_fraction):
    """`(num_shards, num_val_shards)`, the defaults filled in from the corpus size."""
    if num_shards is None:
        num_shards = default_num_shards(sum(os.path.getsize(p) for p in files))
    if num_val_shards is None:
        num_val_shards = math.ceil(num_shards * val_fraction) if val_fraction > 0 else 0
    if num_shards < 1 or (val_fraction > 0 and num_val_shards < 1):
        raise ValueError("num_shards (and num_val_shards when val_fraction > 0) must be >= 1")
    return num_shards, num_val_shards


def _build_config(files, vocabulary, lowercase, strip_accents, max_seq_length, num_shards,
                  num_val_shards, val_fraction, seed, chunk_bytes, skip_bad_lines):
    """The manifest's `config`: everything the shards' bytes depend on."""
    return {
        "format": FORMAT,
        "inputs": [[p, os.path.getsize(p)] for p in files],
        "vocab_sha256": vocabulary_fingerprint(vocabulary),
        "lowercase": bool(lowercase),
        "strip_accents": bool(strip_accents),
        "max_seq_length": int(max_seq_length),
        "num_shards": int(num_shards),
        "num_val_shards": int(num_val_shards),
        "val_fraction": float(val_fraction),
        "seed": int(seed),
        "chunk_bytes": int(chunk_bytes),
        "skip_bad_lines": bool(skip_bad_lines),
    }


def _worker_config(vocabulary, lowercase, strip_accents, max_seq_length, seed, val_fraction,
                   skip_bad_lines, batch_lines):
    """What every unit worker needs (`unit_worker.process_unit`)."""
    return {
        "vocabulary": vocabulary, "lowercase": lowercase, "strip_accents": strip_accents,
        "special_ids": {t: vocabulary.index(t) for t in ("[CLS]", "[SEP]", "[UNK]")},
        "max_seq_length": max_seq_length, "seed": seed, "val_fraction": val_fraction,
        "skip_bad_lines": skip_bad_lines, "batch_lines": batch_lines,
        "batch_chars": 256 * batch_lines,
    }


def _warn_empty_shards(stats, expected_empty):
    if stats["empty_shards"] > expected_empty:
        print(f"prepare: warning: {stats['empty_shards']} shard(s) are empty; use fewer "
              "--num_shards for a corpus this small")


def _read_json(path):
    with open(path) as f:
        return json.load(f)


def _reuse_complete_build(build_dir, output_dir):
    """The stats of a complete build of this configuration (swapped in first when it is an
    interrupted --overwrite's)."""
    if build_dir != output_dir:
        _swap_in(build_dir, output_dir)
        print(f"prepare: {output_dir}: replaced by the complete data of an interrupted "
              "--overwrite run")
    else:
        print(f"prepare: {output_dir} is already complete for this configuration; skipped")
    return _read_json(os.path.join(output_dir, STATS))


def _tokenize_units(build, worker_config, workers, show_progress):
    """Tokenize and pack the units without a finished `.json` (earlier ones are resumed).

    Returns `(indices of the units done now, workers used, seconds)`.
    """
    os.makedirs(build.work_dir, exist_ok=True)
    prefixes = build.prefixes
    todo = [(i, unit, prefixes[i]) for i, unit in enumerate(build.units)
            if not os.path.exists(f"{prefixes[i]}.json")]
    todo_bytes = sum(
        (unit[3] if unit[3] is not None else text_size(unit[1])) - unit[2] for _, unit, _ in todo
    )
    if workers is None:
        # A worker process costs seconds to start (TensorFlow import, tokenizer build), about
        # the time it takes to process ~30 MB, so small corpora run in this process.
        workers = min(os.cpu_count() or 1, max(1, round(todo_bytes / WORKER_BYTES)))
    workers = max(1, min(int(workers), len(todo)))
    progress = _Progress(todo_bytes, show_progress)
    tokenize_started = time.time()
    try:
        _run_units(todo, worker_config, workers, progress, build.work_dir)
    finally:
        progress.close()
    return {task[0] for task in todo}, workers, time.time() - tokenize_started


def _refuse(build, message):
    """Raise BadInputError, leaving no manifest: the same command can be rerun after a fix."""
    shutil.rmtree(build.work_dir, ignore_errors=True)
    os.remove(os.path.join(build.build_dir, MANIFEST))
    if build.build_dir != build.output_dir:
        shutil.rmtree(build.build_dir, ignore_errors=True)
    raise BadInputError(message)


def _check_examples(build, stats, input_patterns, num_files, num_val_shards, val_fraction):
    """Refuse a corpus without (training) examples; warn about missing validation examples and
    bad lines. Returns whether the val/ shards are empty although asked for."""
    if stats["documents"] == 0:
        _refuse(build, f"empty corpus: the {num_files} file(s) matched by {input_patterns!r} "
                f"hold no non-blank lines ({stats['lines']} lines, {stats['bad_lines']} "
                f"skipped as bad: {BAD_LINE_KINDS})")
    if stats["examples"] == 0:
        _refuse(build, f"no examples: the {stats['documents']} document(s) in the {num_files} "
                f"file(s) matched by {input_patterns!r} tokenize to no tokens "
                f"({stats['tokens']} tokens; the text holds only characters the tokenizer "
                "drops, such as control or zero-width characters). Check the files' content "
                "and encoding.")
    no_validation = bool(num_val_shards) and stats["val_examples"] == 0
    if no_validation:  # the real cause, not "fewer --num_shards"
        print(f"prepare: warning: no validation examples: validation is drawn by document "
              f"(--val_fraction {val_fraction} of the documents) and none of the corpus's "
              f"{stats['documents']} document(s) was drawn, so the val/ shards are empty. "
              "Separate documents with blank lines (one sentence per line, a blank line "
              "between documents), give more documents, or pass --val_fraction 0.")
    if stats["train_examples"] == 0:
        _refuse(build, f"no training examples: all {stats['documents']} document(s) were "
                f"drawn for validation (--val_fraction {val_fraction}, drawn by document). "
                "Give more documents or a smaller --val_fraction.")
    if stats["bad_lines"]:
        print(f"prepare: warning: skipped {stats['bad_lines']} bad lines ({BAD_LINE_KINDS})")
    return no_validation


def _write_shards(build, num_shards, num_val_shards, show_progress):
    """Merge the units' records into the train (and val) shards: `({split: shard paths},
    {split: examples per shard})`."""
    shards, counts = {"train": [], "val": []}, {"train": [], "val": []}
    for split, count in (("train", num_shards), ("val", num_val_shards)):
        if count:
            shards[split], counts[split] = _merge(
                [f"{p}.{split}.tfrecord" for p in build.prefixes],
                os.path.join(build.build_dir, split), count, show_progress,
                f"prepare: writing {split} shards")
    return shards, counts


def _finish_build(build, config, stats, unit_stats, shards, vocabulary_size, keep_work_files):
    """Write stats, token counts and the complete manifest (last), then swap the build in."""
    build_dir = build.build_dir
    _write_json(os.path.join(build_dir, STATS), stats)
    _write_token_counts(os.path.join(build_dir, TOKEN_COUNTS), unit_stats, vocabulary_size)
    all_shards = shards["train"] + shards["val"]
    _write_json(
        os.path.join(build_dir, MANIFEST),
        {"config": config, "complete": True, "train_shards": shards["train"],
         "val_shards": shards["val"],
         # sizes let a reader detect a copy cut between two records (no CRC fails then)
         "shard_bytes": {shard: os.path.getsize(os.path.join(build_dir, shard))
                         for shard in all_shards}},
    )
    if not keep_work_files:
        shutil.rmtree(build.work_dir, ignore_errors=True)
    if build_dir != build.output_dir:
        _swap_in(build_dir, build.output_dir)  # only now are the old shards removed
