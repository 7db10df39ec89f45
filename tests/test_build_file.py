"""Keeps BUILD and the tree in step (Bazel cannot fetch its Python rules offline here).

BUILD is Starlark, which parses as Python: every py_library/py_binary/py_test call is read
statically; every Python file of the project must be named by some target, every named file must
exist, every test file must have its own py_test, and every `:dep` must be a defined target.
"""
from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
RULES = ("py_library", "py_binary", "py_test")
COVERED_DIRS = ("codegym_jax", "sandbox", "experiments", "tests", "benchmarks")


def _literal_strings(node: ast.expr, root: pathlib.Path, where: str) -> list[str]:
    """Files named by a srcs/data value: a list of strings, glob([...]) or a sum of those."""
    if isinstance(node, ast.List):
        out = []
        for elt in node.elts:
            if not (isinstance(elt, ast.Constant) and isinstance(elt.value, str)):
                raise AssertionError(f"{where}: list items must be string literals, got {ast.dump(elt)}")
            out.append(elt.value)
        return out
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _literal_strings(node.left, root, where) + _literal_strings(node.right, root, where)
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "glob":
        patterns = _literal_strings(node.args[0], root, where)
        out = []
        for pattern in patterns:
            if pattern.endswith("**"):
                pattern += "/*"  # Bazel's trailing ** names every file below; pathlib's names dirs
            matches = sorted(
                str(p.relative_to(root)) for p in root.glob(pattern) if p.is_file() and "__pycache__" not in p.parts
            )
            if not matches:
                raise AssertionError(f"{where}: glob pattern {pattern!r} matches no file")
            out.extend(matches)
        return out
    raise AssertionError(f"{where}: unsupported expression {ast.dump(node)}")


def parse_build(root: pathlib.Path) -> dict[str, dict]:
    """Returns {target name: {"rule", "srcs", "data", "deps", "main"}} from root/BUILD."""
    tree = ast.parse((root / "BUILD").read_text(), filename="BUILD")
    targets: dict[str, dict] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) in RULES):
            continue
        kwargs = {kw.arg: kw.value for kw in node.keywords}
        if "name" not in kwargs or not isinstance(kwargs["name"], ast.Constant):
            raise AssertionError(f"BUILD line {node.lineno}: {node.func.id} without a literal name")
        name = kwargs["name"].value
        if name in targets:
            raise AssertionError(f"BUILD line {node.lineno}: target {name!r} defined twice")
        where = f"BUILD target {name!r}"
        targets[name] = {
            "rule": node.func.id,
            "srcs": _literal_strings(kwargs["srcs"], root, where) if "srcs" in kwargs else [],
            "data": _literal_strings(kwargs["data"], root, where) if "data" in kwargs else [],
            "deps": _literal_strings(kwargs["deps"], root, where) if "deps" in kwargs else [],
            "main": kwargs["main"].value if "main" in kwargs else None,
        }
    return targets


def build_problems(root: pathlib.Path) -> list[str]:
    targets = parse_build(root)
    problems = []
    named: set[str] = set()
    for name, t in targets.items():
        for f in t["srcs"] + t["data"]:
            if not (root / f).exists():
                problems.append(f"target {name!r} names missing file {f!r}")
            named.add(f)
        for dep in t["deps"]:
            if dep.startswith(":") and dep[1:] not in targets:
                problems.append(f"target {name!r} depends on undefined target {dep!r}")
        if t["rule"] in ("py_test", "py_binary"):
            main = t["main"] or f"{name}.py"
            if not any(s == main or s.endswith("/" + main) for s in t["srcs"]):
                problems.append(f"{t['rule']} {name!r}: main {main!r} is not among its srcs")
    for d in COVERED_DIRS:
        for path in sorted((root / d).rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            rel = str(path.relative_to(root))
            if rel not in named:
                problems.append(f"{rel} is not named by any BUILD target")
    test_srcs = {s for t in targets.values() if t["rule"] == "py_test" for s in t["srcs"]}
    for path in sorted((root / "tests").rglob("test_*.py")):
        rel = str(path.relative_to(root))
        if rel not in test_srcs:
            problems.append(f"{rel} has no py_test target")
    return problems


def test_build_covers_the_tree():
    problems = build_problems(ROOT)
    assert not problems, "BUILD is out of step with the tree:\n" + "\n".join(problems)


def test_checker_reports_uncovered_and_missing_files(tmp_path):
    (tmp_path / "codegym_jax").mkdir()
    (tmp_path / "codegym_jax" / "a.py").write_text("")
    (tmp_path / "codegym_jax" / "b.py").write_text("")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_a.py").write_text("")
    (tmp_path / "BUILD").write_text(
        'py_library(name = "a", srcs = ["codegym_jax/a.py", "codegym_jax/gone.py"], deps = [":nope"])\n'
    )
    problems = "\n".join(build_problems(tmp_path))
    assert "codegym_jax/b.py is not named" in problems
    assert "missing file 'codegym_jax/gone.py'" in problems
    assert "undefined target ':nope'" in problems
    assert "tests/test_a.py has no py_test target" in problems


def test_checker_rejects_duplicate_targets_and_empty_globs(tmp_path):
    (tmp_path / "BUILD").write_text('py_library(name = "a")\npy_library(name = "a")\n')
    with pytest.raises(AssertionError, match="defined twice"):
        parse_build(tmp_path)
    (tmp_path / "BUILD").write_text('py_library(name = "a", data = glob(["nothing/*.py"]))\n')
    with pytest.raises(AssertionError, match="matches no file"):
        parse_build(tmp_path)
