"""Issue 26: no function in `keras_electra/` is over 100 lines.

A function's length runs from its first decorator (or its `def`) to its last line, docstring
and comments included; methods and nested functions count on their own (a nested function's
lines count for its outer function too). The scan is the AST of every module, so a function
planted in a copy of a module is found, and a long one names its file, line and length.
"""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
MAX_FUNCTION_LINES = 100


def function_lengths(package_dir):
    """`[(length, "path:line name")]` of every function and method under `package_dir`."""
    package_dir = pathlib.Path(package_dir)
    rows = []
    for path in sorted(package_dir.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = min([d.lineno for d in node.decorator_list] + [node.lineno])
                where = f"{path.relative_to(package_dir.parent)}:{node.lineno} {node.name}"
                rows.append((node.end_lineno - first + 1, where))
    return rows


def too_long(package_dir, limit=MAX_FUNCTION_LINES):
    return sorted((row for row in function_lengths(package_dir) if row[0] > limit),
                  reverse=True)


def test_no_package_function_is_over_100_lines():
    offenders = too_long(ROOT / "keras_electra")
    assert not offenders, (
        f"{len(offenders)} function(s) over {MAX_FUNCTION_LINES} lines; split them into "
        "smaller functions: " + "; ".join(f"{where} ({length} lines)"
                                          for length, where in offenders))


def test_the_scan_counts_decorators_docstrings_and_methods(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    body = "\n".join(f"    x{i} = {i}" for i in range(97))
    (package / "module.py").write_text(
        "import functools\n\n\n"
        "@functools.lru_cache\n"            # the decorator counts: 1 + def + docstring + 97
        f"def at_limit():\n    \"\"\"Doc.\"\"\"\n{body}\n\n\n"
        "class Holder:\n"
        "    @staticmethod\n"
        f"    def over():\n        \"\"\"Doc.\"\"\"\n{body.replace('    ', '        ')}\n"
        "        return x0\n")
    lengths = {where.split(" ")[1]: length for length, where in function_lengths(package)}
    assert lengths == {"at_limit": 100, "over": 101}
    assert too_long(package) == [(101, "pkg/module.py:108 over")]
