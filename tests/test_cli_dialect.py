"""One CLI dialect (issue 16): every command shows snake_case long options only, and every
earlier spelling still parses, as a hidden alias, to the same value as the shown name."""

import re

import pytest

from keras_electra.cli import build_parser
from keras_electra.cli_reference import _subparsers

COMMANDS = sorted(name for name, _, _ in _subparsers(build_parser()))

# command -> [(old spelling, new spelling, value or None for a flag without one)]
RENAMED = {
    "build-vocab": [("--vocab-size", "--vocab_size", "64"), ("--skip-bad-lines",
                    "--skip_bad_lines", None), ("--no-progress", "--no_progress", None),
                    ("--no-lowercase", "--no_lowercase", None)],
    "prepare": [("--vocab", "--vocab_file", "w.txt"), ("--output-dir", "--output_dir", "o2"),
                ("--max-seq-len", "--max_seq_length", "64"),
                ("--max_seq_len", "--max_seq_length", "64"),
                ("--num-shards", "--num_shards", "3"), ("--num-val-shards", "--num_val_shards", "2"),
                ("--val-fraction", "--val_fraction", "0.5"),
                ("--skip-bad-lines", "--skip_bad_lines", None),
                ("--no-progress", "--no_progress", None),
                ("--no-lowercase", "--no_lowercase", None)],
    "convert": [("--vocab", "--vocab_file", "v.txt"), ("--num-heads", "--num_heads", "4"),
                ("--generator-num-heads", "--generator_num_heads", "2")],
    "export": [("--model-class", "--model_class", "ElectraForMaskedLM")],
    "squad-eval": [("--na-prob-file", "--na_prob_file", "odds.json"),
                   ("--na-prob-thresh", "--na_prob_thresh", "0.25"),
                   ("--out-file", "--out_file", "eval.json")],
    "squad": [("--preset", "--model_size", "electra_tiny"),
              ("--max_seq_len", "--max_seq_length", "128")],
    "pretrain": [("--max_seq_len", "--max_seq_length", "128")],
    "glue": [("--preset", "--model_size", "electra_tiny"),
             ("--max_seq_len", "--max_seq_length", "128")],
}

# what each command needs besides the flag under test
REQUIRED = {
    "build-vocab": ["--input", "c.txt", "--output", "v.txt"],
    "prepare": ["--input", "c.txt", "--vocab_file", "v.txt", "--output_dir", "out"],
    "convert": ["--from", "google", "src", "out"],
    "export": ["--to", "hf", "preset", "out"],
    "squad-eval": ["data.json", "pred.json"],
    "squad": ["--output_dir", "out"],
    "pretrain": [],
    "glue": ["--output_dir", "out"],
}


def _help(command, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    return capsys.readouterr().out


@pytest.mark.parametrize("command", COMMANDS)
def test_help_shows_no_kebab_case_option(command, capsys):
    text = _help(command, capsys)
    options = set(re.findall(r"(?<![\w-])--[A-Za-z][\w-]*", text))
    assert "--help" in options and len(options) > 1, text
    kebab = sorted(option for option in options if "-" in option[2:])
    assert not kebab, f"`keras-electra {command} --help` shows {kebab}"


def _subparser(command):
    return dict((name, parser) for name, _, parser in _subparsers(build_parser()))[command]


@pytest.mark.parametrize("command", sorted(RENAMED))
def test_old_spellings_are_hidden(command):
    shown = {option for action in _subparser(command)._actions
             for option in action.option_strings}
    usage = _subparser(command).format_usage()
    for old, new, _ in RENAMED[command]:
        assert new in shown and new in usage, (command, new)
        assert old not in shown, (command, old)
        assert not re.search(rf"{re.escape(old)}(?![\w-])", usage), (command, old)


def test_every_command_is_covered():
    assert set(RENAMED) | {"answer"} == set(COMMANDS)


def _parse(command, *flags):
    return vars(build_parser().parse_args([command, *REQUIRED[command], *flags]))


@pytest.mark.parametrize("command,old,new,value", [
    (command, old, new, value) for command, flags in RENAMED.items()
    for old, new, value in flags])
def test_an_old_spelling_parses_like_the_new_one(command, old, new, value):
    given = [] if value is None else [value]
    assert _parse(command, old, *given) == _parse(command, new, *given)
    assert _parse(command, old, *given) != _parse(command), f"{old} changed nothing"
