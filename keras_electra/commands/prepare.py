"""`keras-electra prepare`: raw text -> pretraining TFRecord shards (G's packing)."""

import json


def register(subparsers):
    from keras_electra.commands._corpus_options import add_corpus_options
    from keras_electra.utils.cli_options import add_option

    parser = subparsers.add_parser(
        "prepare",
        help="turn raw text into pretraining TFRecord shards (G's build_pretraining_dataset)",
        description=(
            "Tokenize raw text (one sentence per line, blank line between documents) and pack "
            "it into ELECTRA pretraining examples exactly like google-research/electra. "
            "Writes train/ and val/ shards, stats.json, manifest.json and token_counts.tsv "
            "(the train split's token frequencies, one per vocab line: what pretrain "
            "--unigram_generator samples from). "
            "Example: keras-electra prepare --input 'corpus/*.txt' --vocab_file vocab.txt "
            "--output_dir pretrain_data --max_seq_length 128"
        ),
    )
    add_corpus_options(parser)
    add_option(parser, "--vocab_file", aliases=["--vocab"], required=True,
               help="vocab.txt (with [PAD] [UNK] [CLS] [SEP] [MASK])")
    add_option(parser, "--output_dir", aliases=["--output-dir"], required=True,
               help="output directory")
    add_option(parser, "--max_seq_length", aliases=["--max-seq-len", "--max_seq_len"], type=int,
               default=128, help="tokens per example")
    add_option(parser, "--num_shards", aliases=["--num-shards"], type=int, default=None,
               help="train shards (default 8, or one per ~64 MB of text)")
    add_option(parser, "--num_val_shards", aliases=["--num-val-shards"], type=int, default=None,
               help="validation shards (default ceil(num_shards * val_fraction))")
    add_option(parser, "--val_fraction", aliases=["--val-fraction"], type=float, default=0.01,
               help="fraction of documents held out for validation (default 0.01)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes (default: one per ~32 MB of text, up to the "
                        "number of cores); the output is the same for any value")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace output of another configuration in --output_dir (the "
                        "old output is kept until the new one is complete)")
    # a ValueError here is a bad argument or input (sizes, fractions, vocab), not a bug
    parser.set_defaults(func=run, user_errors=(ValueError,))


def run(args):
    from keras_electra.data.pretraining_builder import prepare_pretraining_data

    stats = prepare_pretraining_data(
        args.input, args.vocab_file, args.output_dir, max_seq_length=args.max_seq_length,
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
