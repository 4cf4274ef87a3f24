"""`keras-electra` command line: a thin layer over the Python API.

Each subcommand lives in its own module under `keras_electra/commands/` and
exposes `register(subparsers)`; the module adds its parser and sets
`func=<callable taking the parsed args>`. Heavy imports (TensorFlow, Keras)
happen inside those callables, so `keras-electra --help` stays fast.
"""

import argparse
import importlib
import pkgutil
import sys

from keras_electra import __version__


def _command_modules():
    from keras_electra import commands

    names = sorted(m.name for m in pkgutil.iter_modules(commands.__path__))
    for name in names:
        if name.startswith("_"):
            continue
        yield importlib.import_module(f"keras_electra.commands.{name}")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="keras-electra",
        description=(
            "ELECTRA for Keras 3: build a vocabulary and pretraining data, "
            "pretrain a generator + discriminator, fine-tune and evaluate on "
            "SQuAD, convert checkpoints, answer questions."
        ),
    )
    parser.add_argument(
        "--version", action="version", version=f"keras-electra {__version__}"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _command_modules():
        module.register(subparsers)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        result = args.func(args)
    except KeyboardInterrupt:
        print("keras-electra: interrupted", file=sys.stderr)
        return 130
    return 0 if result is None else int(result)


if __name__ == "__main__":
    sys.exit(main())
