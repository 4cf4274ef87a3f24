"""The README's CLI reference, generated from the real argparse parsers.

`python -m keras_electra.cli_reference` prints the markdown; with `--write README.md`
it replaces the text between the `<!-- cli-reference:start -->` and
`<!-- cli-reference:end -->` markers. `tests/test_readme_commands.py` fails when the
README's copy differs from what the parsers print now.

Example:
```python
from keras_electra.cli_reference import cli_reference_markdown

print(cli_reference_markdown()[:200])
```
"""

import argparse
import contextlib
import os
import sys

START = "<!-- cli-reference:start -->"
END = "<!-- cli-reference:end -->"
WIDTH = 100  # COLUMNS used for the usage lines, so the text does not depend on the terminal


@contextlib.contextmanager
def _columns(width):
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(width)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old


def _subparsers(parser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, subparser in action.choices.items():
                yield name, helps.get(name, ""), subparser


def cli_reference_markdown(width=WIDTH):
    """Markdown: for every `keras-electra` command, its one-line help and usage."""
    from keras_electra.cli import build_parser

    with _columns(width):
        parser = build_parser()
        parts = ["Generated from the parsers by `python -m keras_electra.cli_reference --write "
                 "README.md`; `keras-electra COMMAND --help` has every flag's description.", ""]
        for name, help_text, subparser in sorted(_subparsers(parser)):
            usage = subparser.format_usage().strip()
            parts += [f"**`keras-electra {name}`**: {help_text}", "", "```text", usage, "```",
                      ""]
    return "\n".join(parts).rstrip() + "\n"


def replace_section(text, section):
    """`text` with the part between the START and END markers replaced by `section`."""
    if START not in text or END not in text:
        raise ValueError(f"README lacks the markers {START} ... {END}")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{section}{END}{tail}"


def readme_section(text):
    """The part of `text` between the markers (what `replace_section` writes)."""
    head, rest = text.split(START, 1)
    return rest.split(END, 1)[0].lstrip("\n")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m keras_electra.cli_reference",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--write", metavar="README.md", default=None,
                        help="update this file's CLI reference section in place")
    args = parser.parse_args(argv)
    section = cli_reference_markdown()
    if args.write is None:
        sys.stdout.write(section)
        return 0
    with open(args.write, encoding="utf-8") as f:
        text = f.read()
    with open(args.write, "w", encoding="utf-8") as f:
        f.write(replace_section(text, section))
    print(f"updated the CLI reference in {args.write}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
