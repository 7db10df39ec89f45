"""BUILD is generated from the tree by tests/build_file.py; these tests keep the two in step.

`python -m tests.build_file --check` compares BUILD with what the tree gives. Independently of the
generator, BUILD (Starlark, which parses as Python) is also read statically: every Python file of
the project is named by some target, every named file exists, each test file has its own py_test,
every `:dep` is a defined target and the deps have no cycle (Bazel would reject one).
"""
from __future__ import annotations

import ast
import pathlib
import shutil
import subprocess
import sys

import pytest

import build_file
import import_graph as ig

ROOT = pathlib.Path(__file__).resolve().parents[1]
RULES = ("py_library", "py_binary", "py_test")


def run_check(root: pathlib.Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tests.build_file", "--check", "--root", str(root)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_build_is_generated_from_the_tree():
    assert (ROOT / "BUILD").is_file(), f"no BUILD: generate it with `{build_file.COMMAND}`"
    result = run_check(ROOT)
    assert result.returncode == 0, (
        f"BUILD is stale: regenerate it with `{build_file.COMMAND}` (from the repository root).\n"
        + result.stderr[-8000:])


def copy_generator_inputs(dest: pathlib.Path) -> None:
    """What the generator reads: the modules and Python data files (their text), the names of
    the other data files (empty stand-ins), and BUILD."""
    mods = ig.modules(ROOT)
    shutil.copyfile(ROOT / ".gitignore", dest / ".gitignore")
    for rel in [*mods.values(), *build_file.data_universe(ROOT, mods)]:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if rel.endswith(".py") or rel == "BUILD":
            shutil.copyfile(ROOT / rel, target)
        else:
            target.touch()


def test_check_fails_naming_a_new_module(tmp_path):
    copy_generator_inputs(tmp_path)
    assert build_file.main(["--root", str(tmp_path)]) == 0  # as the tree is now, whatever BUILD says
    assert run_check(tmp_path).returncode == 0

    (tmp_path / "codegym_jax" / "brand_new_module.py").write_text("from codegym_jax import jsonl\n")
    (tmp_path / "tests" / "test_brand_new_module.py").write_text("import codegym_jax.brand_new_module\n")
    result = run_check(tmp_path)
    assert result.returncode == 1
    assert "codegym_jax/brand_new_module.py" in result.stderr
    assert '+    name = "test_brand_new_module",' in result.stderr
    assert '+    deps = [":codegym_jax.jsonl"],' in result.stderr
    assert build_file.COMMAND in result.stderr  # says how to regenerate


def test_check_fails_on_a_new_import_and_on_new_data(tmp_path):
    copy_generator_inputs(tmp_path)
    build_file.main(["--root", str(tmp_path)])
    with open(tmp_path / "codegym_jax" / "jsonl.py", "a") as f:
        f.write("\n\ndef _late():\n    from codegym_jax import run_paths\n    return run_paths\n")
    result = run_check(tmp_path)
    assert result.returncode == 1
    assert [line for line in result.stderr.splitlines() if line.startswith("+") and '":codegym_jax.run_paths"' in line]

    build_file.main(["--root", str(tmp_path)])
    (tmp_path / "codegym_jax" / "rollout" / "bpe_tokenizer" / "vocab.txt").touch()  # inside a shipped glob
    assert run_check(tmp_path).returncode == 0
    (tmp_path / "codegym_jax" / "synthesis" / "extra.json").touch()  # package data no module reads
    result = run_check(tmp_path)
    assert result.returncode == 1 and "codegym_jax/synthesis/extra.json" in result.stderr
    (tmp_path / "codegym_jax" / "synthesis" / "extra.json").unlink()
    (tmp_path / "codegym_jax" / "synthesis" / "debug.log").touch()  # .gitignore: *.log
    (tmp_path / "experiments" / "runs" / "x").mkdir(parents=True)
    (tmp_path / "experiments" / "runs" / "x" / "stray.py").write_text("import tests.xla_flags\n")
    assert run_check(tmp_path).returncode == 0


# ---------------------------------------------------------------- reading BUILD statically
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
        out = []
        for pattern in _literal_strings(node.args[0], root, where):
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
    for d in ig.PACKAGE_DIRS:
        for rel in ig.tree_files(root, d):
            if rel.endswith(".py") and rel not in named:
                problems.append(f"{rel} is not named by any BUILD target")
    test_srcs = {s for t in targets.values() if t["rule"] == "py_test" for s in t["srcs"]}
    for path in sorted((root / "tests").glob("test_*.py")):
        rel = str(path.relative_to(root))
        if rel not in test_srcs:
            problems.append(f"{rel} has no py_test target")
    deps = {name: {d[1:] for d in t["deps"] if d.startswith(":")} for name, t in targets.items()}
    for cycle in ig.find_cycles(deps):
        problems.append(f"dependency cycle (Bazel rejects it): {ig.format_cycle(cycle)}")
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
        'py_library(name = "a", srcs = ["codegym_jax/a.py", "codegym_jax/gone.py"], deps = [":nope", ":c"])\n'
        'py_library(name = "c", deps = [":a"])\n'
    )
    problems = "\n".join(build_problems(tmp_path))
    assert "codegym_jax/b.py is not named" in problems
    assert "missing file 'codegym_jax/gone.py'" in problems
    assert "undefined target ':nope'" in problems
    assert "tests/test_a.py has no py_test target" in problems
    assert "dependency cycle (Bazel rejects it): a -> c -> a" in problems


def test_checker_rejects_duplicate_targets_and_empty_globs(tmp_path):
    (tmp_path / "BUILD").write_text('py_library(name = "a")\npy_library(name = "a")\n')
    with pytest.raises(AssertionError, match="defined twice"):
        parse_build(tmp_path)
    (tmp_path / "BUILD").write_text('py_library(name = "a", data = glob(["nothing/*.py"]))\n')
    with pytest.raises(AssertionError, match="matches no file"):
        parse_build(tmp_path)
