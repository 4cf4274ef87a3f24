"""Every numeric flag of every command checked (finite, in range) before any work starts.

`check_numeric_flags(parser, args)` runs in `keras_electra.cli.main` right after parsing,
before TensorFlow is imported or any file is read: a NaN or infinite float (argparse's
`float("nan")` accepts it, and every `x > 0` test is False for NaN) and a value outside
`RANGES` is one line naming the flag, its value and the allowed range. Limits that depend on a
model (its position table) are checked by the command once the model's config is read, still
before any data is featurized. `pretrain` checks its options (flags and `--config` files
alike) in `PretrainConfig.validate`, so only the finiteness check applies to it here.

Example:

>>> import argparse
>>> parser = argparse.ArgumentParser(prog="answer")
>>> _ = parser.add_argument("--null_threshold", type=float)
>>> try:
...     check_numeric_flags(parser, parser.parse_args(["--null_threshold", "nan"]))
... except UserError as error:
...     print(error)
--null_threshold nan: must be a finite number.
"""

import math

from keras_electra.utils.errors import UserError


class BadValueError(UserError, ValueError):
    """A numeric flag or argument that is not finite or out of range."""


def finite(value, name):
    """`float(value)`, or `BadValueError` naming `name` if it is NaN or infinite."""
    number = float(value)
    if not math.isfinite(number):
        raise BadValueError(f"{name} {value}: must be a finite number.")
    return number

# The position table of every ELECTRA model (G `max_position_embeddings`, every preset): no
# model can use longer sequences, so data prepared for them could never be trained on.
MAX_POSITIONS = 512

# dest -> (lowest, highest, what the bound means); None: unbounded on that side.
RANGES = {
    "batch_size": (1, None, "windows per model call"),
    "per_gpu_batch_size": (1, None, "examples per replica"),
    "predict_batch_size": (1, None, "examples per replica"),
    "max_seq_length": (8, MAX_POSITIONS, f"ELECTRA's position table has {MAX_POSITIONS} rows"),
    "doc_stride": (1, None, "tokens a window moves"),
    "max_query_length": (1, None, "question tokens kept"),
    "vocab_size": (6, None, "5 special tokens and at least one word"),
    "num_shards": (1, None, "output files"),
    "num_val_shards": (1, None, "output files"),
    "workers": (1, None, "processes"),
    "val_fraction": (0.0, 0.99, "the share of documents held out for validation"),
    "seed": (0, 2**32 - 1, "numpy's seed range"),
    "num_heads": (1, None, "attention heads"),
    "generator_num_heads": (1, None, "attention heads"),
    "learning_rate": (0.0, None, "a step size"),
    "epochs": (0.0, None, "passes over the data"),
    "warmup_proportion": (0.0, 1.0, "a fraction of the steps"),
    "warmup_steps": (0, None, "steps"),
    "total_steps": (1, None, "steps"),
    "weight_decay": (0.0, None, "a decay rate"),
    "layerwise_lr_decay": (0.0, 1.0, "a per-layer factor"),
    "dropout": (0.0, 0.99, "a probability"),
}
# bounds that are exclusive (a value equal to the bound is refused)
EXCLUSIVE_LOW = {"learning_rate", "epochs", "layerwise_lr_decay"}

# commands that validate their own ranges (flags and config files alike)
SELF_CHECKED = {"pretrain"}


def _flag_names(parser):
    """dest -> the flag as the user would type it (`--null_threshold`)."""
    names = {}
    for action in parser._actions:  # noqa: SLF001 - argparse has no public accessor
        if action.option_strings:
            names.setdefault(action.dest, action.option_strings[0])
        else:
            names.setdefault(action.dest, action.metavar or action.dest)
    return names


def subparser(parser, command):
    """The sub-command parser of `parser` for `command` (or `parser` itself)."""
    for action in parser._actions:  # noqa: SLF001
        choices = getattr(action, "choices", None)
        if isinstance(choices, dict) and command in choices:
            return choices[command]
    return parser


def check_numeric_flags(parser, args, command=None):
    """Raise `UserError` for the first numeric flag that is not finite or out of range."""
    names = _flag_names(parser)
    for dest, value in sorted(vars(args).items()):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        flag = names.get(dest, f"--{dest}")
        if isinstance(value, float) and not math.isfinite(value):
            raise BadValueError(f"{flag} {value}: must be a finite number.")
        if command in SELF_CHECKED or dest not in RANGES:
            continue
        low, high, meaning = RANGES[dest]
        too_low = low is not None and (value <= low if dest in EXCLUSIVE_LOW else value < low)
        too_high = high is not None and value > high
        if too_low or too_high:
            if high is None:
                bound = f"> {low}" if dest in EXCLUSIVE_LOW else f">= {low}"
            else:
                bound = (f"in ({low}, {high}]" if dest in EXCLUSIVE_LOW
                         else f"in [{low}, {high}]")
            raise BadValueError(f"{flag} {value}: must be {bound} ({meaning}).")
