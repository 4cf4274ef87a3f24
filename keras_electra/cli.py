"""`keras-electra` command line: a thin layer over the Python API.

Each subcommand lives in its own module under `keras_electra/commands/` and
exposes `register(subparsers)`; the module adds its parser and sets
`func=<callable taking the parsed args>`. Heavy imports (TensorFlow, Keras)
happen inside those callables, so `keras-electra --help` stays fast.
"""

import argparse
import importlib
import os
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
    """Run one command. Expected user errors (`keras_electra.utils.errors.UserError`, an
    `OSError` about the user's paths, permissions or disk, and the exception types a command
    lists in its `user_errors` default) print one line, `keras-electra COMMAND: error: ...`,
    and exit 2; set KERAS_ELECTRA_TRACEBACK=1 to see the traceback instead."""
    from keras_electra.utils.errors import UserError, is_user_oserror, one_line

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    user_errors = (UserError, *getattr(args, "user_errors", ()))
    # every numeric flag finite and in range, before TensorFlow or any file is touched
    from keras_electra.utils.flag_checks import check_numeric_flags, subparser

    try:
        check_numeric_flags(subparser(parser, args.command), args, args.command)
        if getattr(args, "preflight", None):  # a command's checks that need no TensorFlow
            args.preflight(args)
    except UserError as error:
        print(f"keras-electra {args.command}: error: {one_line(error)}", file=sys.stderr)
        return 2
    if getattr(args, "needs_tensorflow", True):
        # every other command reads or writes through TensorFlow (tf.data, tensorflow-text,
        # SavedModel): import it now, without its known-harmless C++ start-up lines
        from keras_electra.utils.tf_startup import import_tensorflow_quietly

        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # C++ INFO lines off, warnings on
        import_tensorflow_quietly()
    try:
        result = args.func(args)
    except KeyboardInterrupt:
        print("keras-electra: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - only user errors are caught, the rest re-raised
        if os.environ.get("KERAS_ELECTRA_TRACEBACK") or not (
                isinstance(error, user_errors) or is_user_oserror(error)):
            raise
        sys.stdout.flush()
        print(f"keras-electra {args.command}: error: {one_line(error)}", file=sys.stderr)
        return 2
    return 0 if result is None else int(result)


if __name__ == "__main__":
    sys.exit(main())
