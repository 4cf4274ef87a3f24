"""`keras-electra prepare`: raw text -> pretraining TFRecord shards (G's packing)."""

import argparse
import json


def register(subparsers):
    parser = subparsers.add_parser(
        "prepare",
        help="turn raw text into pretraining TFRecord shards (G's build_pretraining_dataset)",
        description=(
            "Tokenize raw text (one sentence per line, blank line between documents) and pack "
            "it into ELECTRA pretraining examples exactly like google-research/electra. "
            "Example: keras-electra prepare --input 'corpus/*.txt' --vocab vocab.txt "
            "--output-dir pretrain_data --max-seq-len 128"
        ),
    )
    parser.add_argument("--input", required=True, action="append",
                        help="glob of UTF-8 text files (.gz too); repeat or comma-separate")
    parser.add_argument("--vocab", required=True, help="vocab.txt (with [PAD] [UNK] [CLS] "
                        "[SEP] [MASK])")
    parser.add_argument("--output-dir", required=True, help="output directory")
    parser.add_argument("--max-seq-len", type=int, default=128, help="tokens per example")
    parser.add_argument("--num-shards", type=int, default=None,
                        help="train shards (default 8, or one per ~64 MB of text)")
    parser.add_argument("--num-val-shards", type=int, default=None,
                        help="validation shards (default ceil(num_shards * val_fraction))")
    parser.add_argument("--val-fraction", type=float, default=0.01,
                        help="fraction of documents held out for validation (default 0.01)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes (default: one per ~32 MB of text, up to the "
                        "number of cores); the output is the same for any value")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace output of another configuration in --output-dir (the "
                        "old output is kept until the new one is complete)")
    parser.add_argument("--skip-bad-lines", action="store_true",
                        help="skip (and count) lines that are not UTF-8 instead of failing")
    parser.add_argument("--lowercase", action=argparse.BooleanOptionalAction, default=True,
                        help="lower-case and strip accents (uncased, default)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    # a ValueError here is a bad argument or input (sizes, fractions, vocab), not a bug
    parser.set_defaults(func=run, user_errors=(ValueError,))


def run(args):
    from keras_electra.data.pretraining_builder import prepare_pretraining_data

    stats = prepare_pretraining_data(
            args.input, args.vocab, args.output_dir, max_seq_length=args.max_seq_len,
            num_shards=args.num_shards, num_val_shards=args.num_val_shards,
            val_fraction=args.val_fraction, seed=args.seed, workers=args.workers,
            overwrite=args.overwrite, skip_bad_lines=args.skip_bad_lines,
            lowercase=args.lowercase, strip_accents=args.lowercase,
        show_progress=not args.no_progress,
    )
    summary = {k: stats[k] for k in (
        "documents", "train_examples", "val_examples", "tokens", "fill_ratio", "unk_rate",
        "segment_b_rate", "seconds", "mb_per_s")}
    print(json.dumps(summary, indent=2))
    return 0
