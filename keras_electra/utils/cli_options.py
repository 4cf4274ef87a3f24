"""Command-line options in one dialect: snake_case flags, older spellings as hidden aliases.

Every `keras-electra` command shows snake_case long options (the AWS scripts' names are the
contract for `pretrain`/`squad`). A flag's earlier spelling (`--vocab-size`, `--vocab`) keeps
working as an alias that `--help` does not show. Options of a dataclass (`PretrainConfig`,
`SquadConfig`) are declared once, in its fields: `metadata` gives the help text and may give
`choices`, `flag` (the shown name when it is not `--{field name}`) and `aliases`.

Example:
```python
import argparse

from keras_electra.utils.cli_options import add_option

parser = argparse.ArgumentParser()
add_option(parser, "--vocab_size", aliases=["--vocab-size"], type=int, default=30522)
assert parser.parse_args(["--vocab-size", "8"]).vocab_size == 8
```
"""

import argparse
import dataclasses


def add_option(parser, *names, aliases=(), **kwargs):
    """`parser.add_argument(*names, **kwargs)` that also accepts each of `aliases`.

    The aliases are option strings of the same action, so `required`, defaults and errors
    work as for `names`; they are left out of `option_strings`, which is what usage, `--help`
    and error messages show (parsing looks option strings up in the parser's own table)."""
    action = parser.add_argument(*names, *aliases, **kwargs)
    action.option_strings = [s for s in action.option_strings if s not in aliases]
    return action


def str2bool(value):
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in ("true", "1", "yes", "y", "on"):
        return True
    if lowered in ("false", "0", "no", "n", "off", "none", ""):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {value!r}")


def field_type(field):
    """`int`, `float`, `bool` or `str`: a dataclass field's annotation (a type or its name)."""
    name = field.type if isinstance(field.type, str) else field.type.__name__
    return {"int": int, "float": float, "bool": bool}.get(name, str)


def add_dataclass_options(parser, config_class):
    """One flag per field of `config_class`. Defaults are SUPPRESSed: a flag not given leaves
    the dataclass default (or a config file's value) in place; `options_from_args` collects the
    given ones. A boolean takes `--flag`, `--flag true` or `--flag false` (the AWS scripts'
    style, and what the SageMaker entry point passes); a field without a default is required."""
    for field in dataclasses.fields(config_class):
        kind = field_type(field)
        help_text = field.metadata.get("help", "").replace("%", "%%")
        if field.default not in (None, dataclasses.MISSING):
            help_text += f" (default: {field.default})"
        kwargs = dict(dest=field.name, default=argparse.SUPPRESS, help=help_text,
                      required=field.default is dataclasses.MISSING)
        if kind is bool:
            kwargs.update(type=str2bool, nargs="?", const=True, metavar="true|false")
        else:
            kwargs.update(type=kind)
            if "choices" in field.metadata:
                kwargs["choices"] = field.metadata["choices"]
            elif "flag" in field.metadata:
                kwargs["metavar"] = field.metadata["flag"].lstrip("-").upper()
        add_option(parser, field.metadata.get("flag", f"--{field.name}"),
                   aliases=field.metadata.get("aliases", ()), **kwargs)
    return parser


def options_from_args(args, config_class):
    """The fields of `config_class` given on the command line (see `add_dataclass_options`)."""
    names = {field.name for field in dataclasses.fields(config_class)}
    return {k: v for k, v in vars(args).items() if k in names}
