"""Every command in the README's code blocks still exists and accepts the flags it shows.

`keras-electra ...` lines are parsed with the real parser (`keras_electra.cli.build_parser`),
`python -m keras_electra.demo` with the demo's, `python -m keras_electra.sagemaker.launch`
with the launcher's parser plus its pass-through check against the target command's flags,
`make TARGET VAR=...` against the Makefile's targets and variables. The CLI reference section
must equal what the parsers print now.
"""

import os
import pathlib
import re
import shlex

import pytest

PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[1]

README = PROJECT_ROOT / "README.md"
MAKEFILE = PROJECT_ROOT / "Makefile"
KNOWN_MODULES = ("keras_electra.demo", "keras_electra.sagemaker.launch",
                 "keras_electra.cli_reference", "keras_electra", "pytest")


def code_blocks(text):
    return re.findall(r"^```(?:bash|sh|shell|console)?\n(.*?)^```", text, re.S | re.M)


def readme_commands():
    """(command line, block number) for every shell command in the README's shell blocks."""
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"^```(bash|sh|shell)\n(.*?)^```", text, re.S | re.M)
    commands = []
    for number, (_, body) in enumerate(blocks):
        joined = re.sub(r"\\\n\s*", " ", body)
        for line in joined.splitlines():
            line = line.split(" #", 1)[0].strip() if not line.strip().startswith("#") else ""
            if line:
                commands.append((line, number))
    return commands


def _argv(command):
    argv = shlex.split(command)
    if argv and (argv[0].endswith("/python") or argv[0] in ("python", "python3")):
        argv = ["python"] + argv[1:]
    return argv


def _keras_electra_commands():
    return [c for c, _ in readme_commands() if _argv(c)[0] == "keras-electra"]


def _python_module_commands():
    return [c for c, _ in readme_commands()
            if _argv(c)[:2] == ["python", "-m"]]


def _make_commands():
    return [c for c, _ in readme_commands() if _argv(c)[0] == "make"]


def test_readme_starts_with_the_two_commands():
    text = README.read_text(encoding="utf-8")
    first_block = code_blocks(text)[0]
    assert first_block.strip().splitlines() == ["make demo", "make test"]
    assert text.index("make demo") < text.index("\n## "), "the commands must come first"


def test_readme_has_commands_of_every_kind():
    # Guards the parsing below: if it silently found nothing, the other tests would pass.
    assert len(_keras_electra_commands()) >= 10
    assert len(_python_module_commands()) >= 4
    assert len(_make_commands()) >= 4
    shown = {_argv(c)[1] for c in _keras_electra_commands()}
    from keras_electra.cli import build_parser

    parser = build_parser()
    (subparsers,) = [a for a in parser._actions if a.choices and a.dest == "command"]
    missing = set(subparsers.choices) - shown
    assert not missing, f"README shows no example of: {sorted(missing)}"


@pytest.mark.parametrize("command", _keras_electra_commands())
def test_keras_electra_command_parses(command):
    from keras_electra.cli import build_parser

    argv = _argv(command)[1:]
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as error:
        pytest.fail(f"README command no longer parses (exit {error.code}): {command}")
    assert getattr(args, "func", None) is not None, command


def test_a_wrong_flag_is_caught():
    # The check above must be able to fail: a misspelled flag does not parse.
    from keras_electra.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["pretrain", "--train_dir", "d", "--totl_steps", "5"])


@pytest.mark.parametrize("command", _python_module_commands())
def test_python_module_command_parses(command):
    argv = _argv(command)
    module, rest = argv[2], argv[3:]
    assert module in KNOWN_MODULES, f"README runs an unknown module {module!r}: {command}"
    try:
        if module == "keras_electra.demo":
            from keras_electra.demo import parse_args

            parse_args(rest)
        elif module == "keras_electra.sagemaker.launch":
            from keras_electra.sagemaker import launch

            args, passthrough = launch.build_parser().parse_known_args(rest)
            hyperparameters = launch.parse_passthrough(passthrough)
            launch.check_hyperparameters(args.task, hyperparameters)
        elif module == "keras_electra.cli_reference":
            parser_args = [a for a in rest if a != "README.md"]
            assert parser_args in ([], ["--write"]), command
        elif module == "keras_electra":
            from keras_electra.cli import build_parser

            build_parser().parse_args(rest)
        elif module == "pytest":
            assert all(os.path.exists(PROJECT_ROOT / a) for a in rest if not a.startswith("-"))
    except SystemExit as error:
        pytest.fail(f"README command no longer parses (exit {error.code}): {command}")


def _makefile_targets_and_variables():
    text = MAKEFILE.read_text(encoding="utf-8")
    targets = set(re.findall(r"^([A-Za-z0-9_.-]+):", text, re.M))
    variables = set(re.findall(r"^([A-Z_]+)\s*[?:]?=", text, re.M))
    return targets, variables


@pytest.mark.parametrize("command", _make_commands())
def test_make_command_exists(command):
    targets, variables = _makefile_targets_and_variables()
    argv = _argv(command)[1:]
    for word in argv:
        if "=" in word:
            name = word.split("=", 1)[0]
            assert name in variables, f"Makefile has no variable {name}: {command}"
        else:
            assert word in targets, f"Makefile has no target {word}: {command}"


def test_make_demo_passes_the_overrides_to_the_demo():
    from keras_electra.demo import parse_args

    text = MAKEFILE.read_text(encoding="utf-8")
    recipe = text.split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    flags = re.findall(r"(--[a-z-]+)", recipe)
    assert {"--output-dir", "--corpus", "--squad", "--steps"} <= set(flags)
    args = parse_args(["--output-dir", "o", "--corpus", "c/*.txt", "--squad", "s.json",
                       "--steps", "7"])
    assert (args.output_dir, args.corpus, args.squad, args.steps) == ("o", "c/*.txt",
                                                                      "s.json", 7)


def test_cli_reference_is_current():
    from keras_electra.cli_reference import cli_reference_markdown, readme_section

    text = README.read_text(encoding="utf-8")
    assert readme_section(text) == cli_reference_markdown(), (
        "README's CLI reference is stale: run `python -m keras_electra.cli_reference --write "
        "README.md`")
