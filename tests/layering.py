"""The import layering of `keras_electra` (docs/ARCHITECTURE.md, "Layers"), checked from the AST.

`RULES` is the table of docs/ARCHITECTURE.md in code: for every layer, the layers of the
package it may import, the third-party packages it may import at import time (module body,
including `if` / `try` / `with` blocks) and those it may import only inside functions.
The standard library is always allowed. `markdown_table()` renders `RULES` as the table the
docs show (`tests/test_import_layers.py` checks that the docs hold exactly that table).

`check(root)` returns the violations in `root/keras_electra`: an import of a layer not in the
importing layer's list, a third-party package not allowed there (or allowed only inside
functions but imported at import time), and import cycles between modules (edges into
package `__init__` facades are left out of the cycle search, but still count for layering).

    python tests/layering.py [PROJECT_ROOT]      # prints the violations, exit 1 if any
"""

import ast
import os
import sys

PKG = "keras_electra"
STDLIB = frozenset(sys.stdlib_module_names) | {"__future__"}
ANY = "*"

# Layers, bottom to top. "package": layers of keras_electra it may import (its own always);
# "top": third-party at import time; "inner": third-party only inside functions (a module
# listed in "only" may use that package, no other module of the layer).
_MODEL_STACK = ("keras", "keras_hub", "numpy")
_MIDDLE = ("models", "optimizers", "utils", "convert", "data", "squad", "glue", "evaluation")
_BELOW_ENTRY = _MIDDLE + ("root", "training", "serving")
RULES = {
    "utils": dict(package=(), top=("numpy",), inner=(),
                  only={"tensorflow": ("tf_startup", "upstream"), "keras": ("upstream",),
                        "keras_hub": ("preset_dirs", "upstream"),
                        "huggingface_hub": ("preset_dirs",)}),
    "optimizers": dict(package=("utils",), top=("keras", "numpy"), inner=("tensorflow",)),
    "models": dict(package=("optimizers", "utils"), top=_MODEL_STACK,
                   inner=("tensorflow", "tensorflow_text", "jax", "tqdm")),
    "convert": dict(package=_MIDDLE, top=_MODEL_STACK,
                    inner=("tensorflow", "torch", "safetensors", "huggingface_hub")),
    "data": dict(package=_MIDDLE, top=_MODEL_STACK,
                 inner=("tensorflow", "tensorflow_text", "tqdm")),
    "squad": dict(package=_MIDDLE, top=_MODEL_STACK, inner=("tqdm",)),
    "glue": dict(package=_MIDDLE, top=_MODEL_STACK, inner=()),
    "evaluation": dict(package=_MIDDLE, top=_MODEL_STACK, inner=()),
    "root": dict(package=_MIDDLE, top=(), inner=()),
    "training": dict(package=_MIDDLE + ("root", "serving"), top=_MODEL_STACK,
                     inner=("tensorflow", "tensorflow_text", "jax", "tqdm", "yaml", "h5py")),
    "serving": dict(package=_MIDDLE + ("root", "training"), top=_MODEL_STACK,
                    inner=("tensorflow", "tensorflow_text")),
    "commands": dict(package=_BELOW_ENTRY, top=(), inner=ANY),
    "cli": dict(package=_BELOW_ENTRY + ("commands",), top=(), inner=ANY),
    "sagemaker": dict(package=_BELOW_ENTRY + ("cli",), top=(), inner=ANY),
    "demo": dict(package=_BELOW_ENTRY + ("cli",), top=(), inner=ANY),
}
# what each layer is called in the docs' table
LAYER_NAMES = {"root": "`keras_electra/__init__.py`", "cli": "`cli.py`, `cli_reference.py`, "
               "`__main__.py`"}


def layer_of(module):
    """The layer of a dotted module name of the package."""
    parts = module.split(".")
    if len(parts) == 1:
        return "root"
    if parts[1] in ("cli", "cli_reference", "__main__"):
        return "cli"
    return parts[1]


def modules(root):
    """{dotted name: path} of every module of `root/keras_electra`."""
    out = {}
    for directory, _, files in os.walk(os.path.join(root, PKG)):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(directory, name)
                dotted = os.path.relpath(path, root)[:-3].replace(os.sep, ".")
                out[dotted.removesuffix(".__init__")] = path
    return out


def _import_time_nodes(tree):
    """ids of the import nodes that run at import time (not inside a def or a class body's
    methods): the module body and its if/try/with blocks, and class bodies."""
    todo, out = list(tree.body), set()
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            out.add(id(node))
        elif isinstance(node, (ast.If, ast.Try, ast.With, ast.ClassDef, ast.ExceptHandler)):
            for field in ("body", "orelse", "finalbody", "handlers"):
                todo.extend(getattr(node, field, None) or [])
    return out


def imports(path, module, is_package):
    """(imported dotted name, imported attribute or None, at import time, line) per import."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    top = _import_time_nodes(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None, id(node) in top, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")
                parts = parts if is_package else parts[:-1]
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(parts + ([base] if base else []))
            for alias in node.names:
                yield base, alias.name, id(node) in top, node.lineno


def _third_party_allowed(layer, module, package, at_import_time):
    rule = RULES[layer]
    if package in rule["top"]:
        return True
    if at_import_time:
        return False
    if rule["inner"] == ANY or package in rule["inner"]:
        return True
    return module.rsplit(".", 1)[-1] in rule.get("only", {}).get(package, ())


def check(root):
    """Sorted list of violation lines for the package under `root` (empty: all good)."""
    mods = modules(root)
    packages = {m for m, p in mods.items() if p.endswith("__init__.py")}
    graph, bad = {m: set() for m in mods}, set()
    for module, path in mods.items():
        layer = layer_of(module)
        if layer not in RULES:
            bad.add(f"{module}: layer {layer!r} is not in the layering rules (tests/layering.py)")
            continue
        where = os.path.relpath(path, root)
        for base, name, at_import_time, line in imports(path, module, module in packages):
            first = base.split(".")[0]
            if first != PKG:
                if first and first not in STDLIB and not _third_party_allowed(
                        layer, module, first, at_import_time):
                    when = "at import time" if at_import_time else "inside a function"
                    bad.add(f"{module} imports {first} {when} ({where}:{line}; {layer} may "
                            f"not, see docs/ARCHITECTURE.md)")
                continue
            target = f"{base}.{name}" if name and f"{base}.{name}" in mods else base
            while target and target not in mods:
                target = target.rpartition(".")[0]
            target_layer = layer_of(target)
            if target_layer != layer and target_layer not in RULES[layer]["package"]:
                bad.add(f"{module} imports {target} ({where}:{line}; {layer} may not import "
                        f"{target_layer})")
            if target != module and target not in packages:
                graph[module].add(target)
    for component in _cycles(graph):
        bad.add("cycle: " + " <-> ".join(component))
    return sorted(bad)


def _cycles(graph):
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, out, counter = {}, {}, set(), [], [], [0]
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def _name(layer):
    return LAYER_NAMES.get(layer, f"`{layer}/`")


def markdown_table():
    """`RULES` as the table of docs/ARCHITECTURE.md."""
    rows = ["| layer | may import from the package | third-party at import time | "
            "third-party only inside functions |", "|---|---|---|---|"]
    order = list(RULES)
    for i, (layer, rule) in enumerate(RULES.items()):
        above = [x for x in order[:i] if x in rule["package"]]
        if len(above) < 2:
            package = ", ".join(_name(x) for x in rule["package"]) or "nothing"
        else:
            missing = [_name(x) for x in order[:i] if x not in rule["package"]]
            package = "the rows above" + (f" except {', '.join(missing)}" if missing else "")
            extra = [_name(x) for x in order[i + 1:] if x in rule["package"]]
            package += f"; {', '.join(extra)}" if extra else ""
        top = ", ".join(rule["top"]) or "none (standard library only)"
        if rule["inner"] == ANY:
            inner = "any"
        else:
            inner = list(rule["inner"]) + [
                f"{p} ({', '.join(f'`{m}.py`' for m in ms)} only)"
                for p, ms in rule.get("only", {}).items()]
            inner = ", ".join(inner) or "none"
        rows.append(f"| {_name(layer)} | {package} | {top} | {inner} |")
    return "\n".join(rows) + "\n"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    violations = check(argv[0] if argv else os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    for line in violations:
        print(line)
    print(f"layering violations and cycles: {len(violations)}")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
