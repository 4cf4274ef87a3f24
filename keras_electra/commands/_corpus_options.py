"""The raw-text input options `build-vocab` and `prepare` share (one declaration)."""

from keras_electra.utils.cli_options import add_option


def add_corpus_options(parser):
    """`--input` (repeatable glob), `--lowercase`/`--no_lowercase`, `--skip_bad_lines`,
    `--no_progress`, with their older spellings as hidden aliases."""
    parser.add_argument("--input", required=True, action="append",
                        help="glob of UTF-8 text files (.gz too); repeat or comma-separate")
    parser.add_argument("--lowercase", action="store_true", default=True,
                        help="lower-case and strip accents (uncased, default)")
    add_option(parser, "--no_lowercase", aliases=["--no-lowercase"], dest="lowercase",
               action="store_false", help="keep case and accents (cased)")
    add_option(parser, "--skip_bad_lines", aliases=["--skip-bad-lines"], action="store_true",
               help="skip (and count) lines that are not UTF-8, hold NUL bytes or are over "
                    "16 MiB, instead of failing")
    add_option(parser, "--no_progress", aliases=["--no-progress"], action="store_true",
               help="no progress bars")
