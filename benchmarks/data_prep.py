"""Raw text -> packed ELECTRA pretraining examples, MB/s: keras-electra vs HF `tokenizers`.

Configurations (each repetition of each runs in its own process, one worker):

  ours_core      keras-electra's tokenization (tensorflow-text FastBertTokenizer, batched
                 through `keras_electra.data.unit_worker.BatchTokenizer`) + G's packing
                 (`ExampleBuilder`) + tf.train.Example serialization (`ExampleSerializer`),
                 in memory: the inner loop of `keras-electra prepare`
  ours_prepare   the whole `keras_electra.data.prepare_pretraining_data(workers=1)`:
                 the above + TFRecord writing, shard merge and stats
  hf_tokenizers  HF `tokenizers.BertWordPieceTokenizer` (Rust, `encode_batch`) on the
                 same line batches + the same G packing + the same serializer

Input: every `*.txt` in `--corpus` (default tests/data/files/corpus, 1.4 MB), one sentence per
line, blank line = end of document. MB/s = input bytes / 1e6 / seconds, timed from
the first line read to the last example serialized (tokenizer construction excluded,
reported separately). The two tokenizers' ids are compared on the first 2,000 lines.

Example:
    python benchmarks/data_prep.py --reps 5
    python benchmarks/data_prep.py --smoke
"""

import argparse
import glob
import os
import random
import shutil
import sys
import tempfile
import time

import bench_common as common

CONFIGS = ("ours_core", "ours_prepare", "hf_tokenizers")
BATCH_LINES = 2048


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--corpus", default=str(common.TEST_DATA / "corpus"),
                        help="directory of .txt files")
    parser.add_argument("--vocab", default=str(common.TEST_DATA / "bert_uncased_vocab.txt"))
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--max-seq-length", type=int, default=128)
    parser.add_argument("--max-bytes", type=int, default=None,
                        help="only read about this many bytes of the corpus")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="200 kB, 1 rep")
    parser.add_argument("--output", default=None)
    parser.add_argument("--tag", default=None)
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.smoke:
        args.max_bytes, args.reps = args.max_bytes or 200_000, 1
        args.tag = args.tag or "smoke"
    args.configs = args.configs.split(",")
    bad = [c for c in args.configs if c not in CONFIGS]
    if bad:
        parser.error(f"unknown configuration(s) {bad}; choose from {list(CONFIGS)}")
    return args


def corpus_files(args):
    files = sorted(glob.glob(os.path.join(args.corpus, "*.txt")))
    if not files:
        raise SystemExit(f"data_prep: no .txt files in {args.corpus}")
    return files


def read_lines(args):
    """[(stripped line, byte count)] of the corpus, documents separated by '' entries."""
    lines, total = [], 0
    for path in corpus_files(args):
        with open(path, "rb") as f:
            for raw in f:
                if args.max_bytes and total >= args.max_bytes:
                    break
                lines.append((raw.decode("utf-8").strip(), len(raw)))
                total += len(raw)
        lines.append(("", 0))  # end of file = end of document
    return lines, total


def pack(lines, tokenize_batch, max_length, vocabulary):
    """G packing + serialization of `lines` with `tokenize_batch(texts) -> list[list[int]]`."""
    from keras_electra.data.example_packing import ExampleBuilder, ExampleSerializer

    cls_id, sep_id = vocabulary.index("[CLS]"), vocabulary.index("[SEP]")
    serializer = ExampleSerializer(max_length, cls_id, sep_id, len(vocabulary))
    builder = ExampleBuilder(max_length, random.Random(0))
    examples = tokens = 0
    total_bytes = 0
    for start in range(0, len(lines), BATCH_LINES):
        batch = lines[start:start + BATCH_LINES]
        texts = [t for t, _ in batch if t]
        ids = iter(tokenize_batch(texts) if texts else [])
        for text, num_bytes in batch:
            total_bytes += num_bytes
            example = builder.end_document() if not text else builder.add_sentence(next(ids))
            if example is not None:
                first, second = example
                serializer(first, second)
                examples += 1
                tokens += len(first) + len(second)
    example = builder.end_document()
    if example is not None:
        serializer(*example)
        examples += 1
    return {"examples": examples, "example_tokens": tokens, "bytes": total_bytes}


def ours_tokenizer(vocabulary):
    from keras_electra.data.unit_worker import BatchTokenizer

    tokenizer = BatchTokenizer(vocabulary)

    def tokenize_batch(texts):
        flat, splits = tokenizer(texts)
        return [flat[a:b] for a, b in zip(splits[:-1], splits[1:])]

    return tokenize_batch


def hf_tokenizer(vocab_path):
    from tokenizers import BertWordPieceTokenizer

    tokenizer = BertWordPieceTokenizer(
        vocab_path, lowercase=True, strip_accents=True, clean_text=True,
        handle_chinese_chars=True,
    )

    def tokenize_batch(texts):
        return [e.ids for e in tokenizer.encode_batch(texts, add_special_tokens=False)]

    return tokenize_batch


def run_worker(args, config):
    from keras_electra.data.vocab import load_vocabulary

    vocabulary = load_vocabulary(args.vocab)
    if config == "ours_prepare":
        from keras_electra.data import prepare_pretraining_data

        files = corpus_files(args)
        if args.max_bytes:  # a truncated copy so that both measure the same bytes
            lines, _ = read_lines(args)
            tmp = tempfile.mkdtemp(prefix="bench_prep_in_")
            with open(os.path.join(tmp, "part.txt"), "w", encoding="utf-8") as f:
                f.write("\n".join(t for t, _ in lines) + "\n")
            files = [os.path.join(tmp, "part.txt")]
        total_bytes = sum(os.path.getsize(p) for p in files)
        out = tempfile.mkdtemp(prefix="bench_prep_out_")
        build_start = time.perf_counter()
        import tensorflow  # noqa: F401  (the import is not what is measured)
        import tensorflow_text  # noqa: F401

        build_s = time.perf_counter() - build_start
        start = time.perf_counter()
        try:
            stats = prepare_pretraining_data(
                files, args.vocab, out, max_seq_length=args.max_seq_length, workers=1,
                num_shards=1, val_fraction=0.0, show_progress=False, overwrite=True,
            )
            seconds = time.perf_counter() - start
        finally:
            shutil.rmtree(out, ignore_errors=True)
            if args.max_bytes:
                shutil.rmtree(os.path.dirname(files[0]), ignore_errors=True)
        return {
            "config": config, "seconds": seconds, "build_s": build_s, "bytes": total_bytes,
            "mb_per_s": total_bytes / 1e6 / seconds, "examples": stats["examples"],
            "example_tokens": stats["example_tokens"],
        }
    start = time.perf_counter()
    tokenize_batch = (ours_tokenizer(vocabulary) if config == "ours_core"
                      else hf_tokenizer(args.vocab))
    tokenize_batch(["warm up the tokenizer ."])
    build_s = time.perf_counter() - start
    lines, _ = read_lines(args)
    start = time.perf_counter()
    result = pack(lines, tokenize_batch, args.max_seq_length, vocabulary)
    seconds = time.perf_counter() - start
    return {"config": config, "seconds": seconds, "build_s": build_s,
            "mb_per_s": result["bytes"] / 1e6 / seconds, **result}


def agreement(args, n_lines=2000):
    """Fraction of the first `n_lines` non-empty lines tokenized identically by both."""
    from keras_electra.data.vocab import load_vocabulary

    vocabulary = load_vocabulary(args.vocab)
    lines, _ = read_lines(args)
    texts = [t for t, _ in lines if t][:n_lines]
    ours = ours_tokenizer(vocabulary)(texts)
    hf = hf_tokenizer(args.vocab)(texts)
    same = sum(a == b for a, b in zip(ours, hf))
    return {"lines": len(texts), "identical_lines": same,
            "identical_fraction": same / max(1, len(texts))}


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        common.emit_result(run_worker(args, args.worker))
        return 0
    started = time.perf_counter()
    machine = common.machine_info()
    base_args = ["--corpus", args.corpus, "--vocab", args.vocab,
                 "--max-seq-length", args.max_seq_length]
    if args.max_bytes:
        base_args += ["--max-bytes", args.max_bytes]
    runs = common.run_alternating(
        __file__, args.configs, args.reps, lambda config: base_args + ["--worker", config],
        lambda r: f"{r['mb_per_s']:.2f} MB/s ({r['examples']} examples)",
    )
    summary = {}
    for config, results in runs.items():
        ok = [r for r in results if "error" not in r]
        summary[config] = {
            "mb_per_s": common.summarize([r["mb_per_s"] for r in ok]),
            "peak_rss_mb": common.summarize([r["peak_rss_mb"] for r in ok]),
            "examples": ok[0]["examples"] if ok else None,
            "errors": [r["error"] for r in results if "error" in r],
        }
    base = (summary.get("hf_tokenizers") or {}).get("mb_per_s")
    for s in summary.values():
        s["ratio_vs_hf_tokenizers"] = (
            s["mb_per_s"]["median"] / base["median"] if s["mb_per_s"] and base else None)
    check = agreement(args)
    print(f"\nraw text -> packed examples (seq {args.max_seq_length}), MB/s, {args.reps} reps")
    print(f"{'config':15s} {'min':>7s} {'median':>7s} {'max':>7s} {'RSS MB':>7s} "
          f"{'vs HF':>6s} examples")
    for config, s in summary.items():
        m = s["mb_per_s"] or {}
        ratio = s["ratio_vs_hf_tokenizers"]
        print(f"{config:15s} {common.fmt(m.get('min'), 2):>7s} {common.fmt(m.get('median'), 2):>7s}"
              f" {common.fmt(m.get('max'), 2):>7s} "
              f"{common.fmt((s['peak_rss_mb'] or {}).get('median')):>7s} "
              f"{(f'{ratio:.2f}x' if ratio else '-'):>6s} {s['examples']}")
    print(f"tokenization agreement: {check['identical_lines']}/{check['lines']} lines identical")
    payload = {
        "benchmark": "data_prep",
        "settings": {k: v for k, v in vars(args).items() if k != "worker"},
        "machine": machine, "load_average_at_end": common.load_average(),
        "versions": common.package_versions(
            ["tensorflow", "tensorflow-text", "tokenizers", "keras-hub"]),
        "total_wall_s": round(time.perf_counter() - started, 1),
        "tokenization_agreement": check,
        "summary": summary, "runs": runs,
    }
    path = common.write_json(payload, args.output,
                             f"data_prep_{args.tag or 'seq%d' % args.max_seq_length}.json")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
