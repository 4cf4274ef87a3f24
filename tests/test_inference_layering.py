"""Inference apart from training (issue 26): answering and export never import `training/`.

The modules a user runs to answer questions or export a model (`commands/answer.py`,
`commands/export.py`, `serving/`, `squad/answering.py`, `squad/loading.py`) and everything they
import from the package, at module level or inside a function, must not reach
`keras_electra.training`. The scan reads the source (AST), so it sees the lazy imports inside
`run()` too; a second test shows it catches such an import.
"""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
INFERENCE = ("keras_electra.commands.answer", "keras_electra.commands.export",
             "keras_electra.serving", "keras_electra.serving.answers",
             "keras_electra.serving.saved_model", "keras_electra.serving.text_classifier",
             "keras_electra.squad.answering", "keras_electra.squad.loading")


def _path(root, module):
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(root, module):
    """The package modules `module` imports (with their parent packages), anywhere in its file."""
    path = _path(root, module)
    tree = ast.parse(path.read_text(), str(path))
    is_package = path.name == "__init__.py"
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import
                parts = module.split(".")
                base = parts[:len(parts) - node.level + (1 if is_package else 0)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module
            names.append(source)
            names += [f"{source}.{alias.name}" for alias in node.names]
    found = set()
    for name in names:
        parts = name.split(".")
        if parts[0] != "keras_electra":
            continue
        for i in range(1, len(parts) + 1):  # importing a.b.c runs a, a.b and a.b.c
            prefix = ".".join(parts[:i])
            if _path(root, prefix):
                found.add(prefix)
    return found


def _reached_training(root, starts):
    """{training module: the import chain that reaches it} over the closure of `starts`."""
    chains = {start: [start] for start in starts}
    todo = list(starts)
    while todo:
        module = todo.pop()
        for target in _imports(root, module):
            if target not in chains:
                chains[target] = chains[module] + [target]
                todo.append(target)
    return {m: chain for m, chain in chains.items()
            if m == "keras_electra.training" or m.startswith("keras_electra.training.")}


def test_answering_and_export_do_not_import_training():
    for module in INFERENCE:
        assert _path(ROOT, module), f"{module} moved: update INFERENCE"
    reached = _reached_training(ROOT, INFERENCE)
    assert not reached, "inference imports training: " + "; ".join(
        " -> ".join(chain) for chain in reached.values())


def test_the_scan_catches_a_lazy_training_import(tmp_path):
    package = tmp_path / "keras_electra"
    (package / "commands").mkdir(parents=True)
    (package / "training").mkdir()
    for init in ("", "commands", "training"):
        (package / init / "__init__.py").write_text("")
    (package / "training" / "finetune.py").write_text("X = 1\n")
    (package / "commands" / "helper.py").write_text(
        "def load():\n    from keras_electra.training.finetune import X\n    return X\n")
    (package / "commands" / "answer.py").write_text(
        "def run():\n    from keras_electra.commands import helper\n    return helper.load()\n")
    reached = _reached_training(tmp_path, ["keras_electra.commands.answer"])
    assert reached["keras_electra.training.finetune"] == [
        "keras_electra.commands.answer", "keras_electra.commands.helper",
        "keras_electra.training.finetune"]
