"""One module per `keras-electra` subcommand; each defines `register(subparsers)`."""
