"""`keras-electra build-vocab`: learn a WordPiece vocab.txt from raw text."""


def register(subparsers):
    from keras_electra.commands._corpus_options import add_corpus_options
    from keras_electra.utils.cli_options import add_option

    parser = subparsers.add_parser(
        "build-vocab",
        help="learn a WordPiece vocabulary (vocab.txt) from raw text files",
        description=(
            "Learn a WordPiece vocabulary with tensorflow-text's learner. Special tokens go to "
            "BERT's positions ([PAD]=0, [UNK]=100, [CLS]=101, [SEP]=102, [MASK]=103) when "
            "--vocab_size >= 1000, else to 0..4. Example: keras-electra build-vocab "
            "--input 'corpus/*.txt' --vocab_size 30522 --output vocab.txt"
        ),
    )
    add_corpus_options(parser)
    add_option(parser, "--vocab_size", aliases=["--vocab-size"], type=int, default=30522,
               help="tokens (default 30522)")
    parser.add_argument("--output", required=True, help="vocab.txt to write")
    # a ValueError here is a bad argument or input (sizes, special tokens), not a bug
    parser.set_defaults(func=run, user_errors=(ValueError,))


def run(args):
    from keras_electra.data.vocab import build_vocabulary

    vocab = build_vocabulary(
        args.input, vocabulary_size=args.vocab_size, output_path=args.output,
        lowercase=args.lowercase, strip_accents=args.lowercase,
        skip_bad_lines=args.skip_bad_lines, show_progress=not args.no_progress,
    )
    unused = sum(token.startswith("[unused") for token in vocab)
    print(f"wrote {len(vocab)} tokens to {args.output} ({unused} of them [unusedN] placeholders;"
          " the learner stops at tokens seen >= 10 times, so a small corpus fills fewer)")
    return 0
