"""Generates BUILD (Bazel, rules_python) from the tree; `--check` says what a stale BUILD lacks.

    .venv/bin/python -m tests.build_file            # rewrite BUILD
    .venv/bin/python -m tests.build_file --check    # exit 1 with a diff when BUILD is stale

One target per first-party module (`tests/import_graph.py` finds them and what they import;
`tests/path_references.py` reads the paths they build from `__file__`):

- a module with an `if __name__ == "__main__":` block is a `py_binary` (`main` = its file), any
  other a `py_library`, both named by the dotted module name (`codegym_jax.rollout.tokenizer`);
  each `tests/test_*.py` is its own `py_test` named by its file (`test_chat_format`), depending
  also on the `conftest.py` files pytest loads for it.
- deps: the first-party modules it imports, and those it runs or reads without importing them: a
  string that is a module's dotted name (`python -m NAME`, a server module to launch), a path
  built from its own `__file__` that is a module file (`ROOT / "experiments" / "run.py"`), or a
  code folder that is not a package (`sglang_jax_site/`, put on a PYTHONPATH).
- data: the non-module files it reads, found the same way: paths built from `__file__` (a file;
  a folder: all of it, or the files directly in it when it holds code, as the env library's
  `LIBRARY_DIR`; a `.glob()` on one), plus a script outside the package folders written out by
  its repo path (`.ci/...`). Files no module reaches this way ship with the package whose folder
  holds them. A target shipping a Python file as data (the docs example) also depends on what
  that file imports. Data is written as a glob where one names exactly the files.
- `testonly = True` for modules under tests/ and whatever depends on them; `imports = [folder]`
  for modules that others import by bare name from a folder that is not a package (tests/, which
  pytest puts on sys.path).
"""
from __future__ import annotations

import argparse
import ast
import difflib
import os
import pathlib
import posixpath
import re
import sys

try:  # as `python -m tests.build_file` (repo root on sys.path)
    from tests import import_graph as ig
    from tests.path_references import glob_regex, normal_path, path_references, walk
except ImportError:  # as pytest's rootdir-inserted `import build_file`
    import import_graph as ig
    from path_references import glob_regex, normal_path, path_references, walk

ROOT = pathlib.Path(__file__).resolve().parents[1]
COMMAND = ".venv/bin/python -m tests.build_file"
# Besides the package folders: folders whose files modules may read as data.
DATA_DIRS = ("docs", ".ci")
PROSE_TOKEN = re.compile(r"[A-Za-z0-9_.\-/]+")

HEADER = f"""\
# GENERATED FILE, do not edit. Regenerate it with
#     {COMMAND}
# (tests/build_file.py says how it derives targets from the tree); tests/test_build_file.py fails
# while it is stale. One root package: every path is relative to the repository root. One target
# per module, named by its dotted module name; one py_test per tests/test_*.py, named by its file.
load("@rules_python//python:defs.bzl", "py_binary", "py_library", "py_test")

package(default_visibility = ["//visibility:public"])
"""


# ---------------------------------------------------------------- reading the tree
def data_universe(root: pathlib.Path, mods: dict[str, str]) -> list[str]:
    """Files a target may ship as data: the non-module files under the package folders and
    DATA_DIRS, and the top-level files (BUILD always, since this script writes it)."""
    module_files = set(mods.values())
    files = {"BUILD"}
    for top in (*ig.PACKAGE_DIRS, *DATA_DIRS):
        files.update(f for f in ig.tree_files(root, top) if f not in module_files)
    files.update(p.name for p in root.iterdir() if p.is_file() and not p.name.startswith("."))
    return sorted(files)


class ModuleFacts:
    """What the generator reads from one source file."""

    def __init__(self, root: pathlib.Path, rel: str):
        self.rel = rel
        tree = ig.parse(root, rel)
        self.is_main = any(
            isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
            and isinstance(node.test.left, ast.Name) and node.test.left.id == "__name__"
            and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in node.test.comparators)
            for node in tree.body
        )
        nodes, parents = walk(tree)
        strings = [n.value for n in nodes if isinstance(n, ast.Constant) and isinstance(n.value, str)]
        self.exact = {s for s in strings if s and not any(c.isspace() for c in s)}
        self.paths, self.unders, self.globs = path_references(rel, nodes, parents)
        self.prose = {normal_path(t) for s in strings for t in PROSE_TOKEN.findall(s) if "/" in t} - {""}


def _conftests(rel: str, by_file: dict[str, str]) -> set[str]:
    """The conftest.py modules pytest loads for a test file: in its folder and the ones above."""
    out = set()
    folder = posixpath.dirname(rel)
    while folder:
        if f"{folder}/conftest.py" in by_file:
            out.add(by_file[f"{folder}/conftest.py"])
        folder = posixpath.dirname(folder)
    return out


def _file_imports(root: pathlib.Path, rel: str, mods: dict[str, str]) -> set[str]:
    """First-party modules a Python data file (run in-process or in a subprocess) imports."""
    name = ig.module_name(rel)
    return ig.imports_of(root, name, {**mods, name: rel}) - {name}


def _bare_imports(root: pathlib.Path, module: str, mods: dict[str, str], imported: set[str]) -> set[str]:
    """Modules `module` imports by a bare name, resolved in its own folder (not a package)."""
    rel = mods[module]
    folder = posixpath.dirname(rel)
    if (root / folder / "__init__.py").exists():
        return set()
    prefix = folder.replace("/", ".") + "."
    nodes = list(ig.import_nodes(ig.parse(root, rel)))

    def bare(name: str) -> bool:
        for node in nodes:
            if isinstance(node, ast.Import) and any(
                    a.name == name or a.name.startswith(name + ".") for a in node.names):
                return True
            if isinstance(node, ast.ImportFrom) and not node.level and node.module and (
                    node.module == name or node.module.startswith(name + ".")
                    or any(f"{node.module}.{a.name}" == name for a in node.names)):
                return True
        return False

    return {m for m in imported if m.startswith(prefix) and bare(m[len(prefix):])}


# ---------------------------------------------------------------- targets
def collect(root: str | os.PathLike) -> dict[str, dict]:
    """{target name: {"module", "rule", "srcs", "data", "deps", "main", "testonly", "imports"}}."""
    root = pathlib.Path(root)
    mods = ig.modules(root)
    by_file = {rel: m for m, rel in mods.items()}
    universe = data_universe(root, mods)
    universe_set = set(universe)
    every = sorted(universe_set | set(by_file))
    packages = {posixpath.dirname(rel) for rel in mods.values() if ig.is_package(rel)}
    facts = {m: ModuleFacts(root, rel) for m, rel in mods.items()}

    def folder_files(folder: str) -> set[str]:
        """A folder as data: all of it when it holds no module, else the files directly in it."""
        below = [e for e in universe if e.startswith(folder + "/")]
        if any(m.startswith(folder + "/") for m in by_file):
            return {e for e in below if posixpath.dirname(e) == folder}
        return set(below)

    def referenced(module: str) -> tuple[set[str], set[str]]:
        """(data files, modules) that `module` runs or reads without importing them."""
        f = facts[module]
        data, deps = set(), set()
        for s in f.exact:  # a module's dotted name: `python -m NAME`, a server module to launch
            if s in mods and not ig.is_package(mods[s]):
                deps.add(s)
            elif f"{s}.__main__" in mods:  # a package's name runs its __main__; else it is just a name
                deps.add(f"{s}.__main__")
        for path in sorted(f.paths | f.unders):
            if path in by_file:
                deps.add(by_file[path])
            elif path in universe_set:
                data.add(path)
            elif path and path not in ig.PACKAGE_DIRS and any(e.startswith(path + "/") for e in every):
                data.update(folder_files(path))
                if path not in packages:  # a code folder put on a path (rollout/sglang_jax_site/)
                    deps.update(m for rel, m in by_file.items() if posixpath.dirname(rel) == path)
        for pattern in f.globs:
            regex = glob_regex(pattern)
            data.update(e for e in universe if regex.fullmatch(e))
            deps.update(m for rel, m in by_file.items() if regex.fullmatch(rel))
        for token in f.prose:  # a script written out by its repo path (`.ci/...`), not docs
            if token in universe_set and token.split("/")[0] in DATA_DIRS and not token.endswith((".md", ".py")):
                data.add(token)
        deps.discard(module)
        return data, deps

    imports = {m: ig.imports_of(root, m, mods) for m in mods}
    sibling_imported = set()
    for m in mods:
        sibling_imported.update(_bare_imports(root, m, mods, imports[m]))

    targets: dict[str, dict] = {}
    for module, rel in mods.items():
        base = posixpath.basename(rel)
        is_test = rel.startswith("tests/") and base.startswith("test_")
        data, deps = referenced(module)
        deps |= imports[module]
        for d in data:
            if d.endswith(".py"):
                deps |= _file_imports(root, d, mods)
        if is_test:
            deps |= _conftests(rel, by_file)
        deps.discard(module)
        rule = "py_test" if is_test else ("py_binary" if facts[module].is_main else "py_library")
        targets[base[:-3] if is_test else module] = {
            "module": module,
            "rule": rule,
            "srcs": [rel],
            "data": sorted(data),
            "deps": sorted(deps),
            "main": rel if rule == "py_binary" else None,
            "testonly": rel.startswith("tests/") and not is_test,
            "imports": [posixpath.dirname(rel)] if module in sibling_imported else [],
        }
    # data no module reaches ships with the package whose folder holds it
    shipped = {d for t in targets.values() for d in t["data"]}
    for d in universe:
        folder = posixpath.dirname(d)
        while folder and folder not in packages:
            folder = posixpath.dirname(folder)
        if d not in shipped and folder:
            owner = targets[ig.module_name(f"{folder}/__init__.py")]
            owner["data"] = sorted({*owner["data"], d})
            if d.endswith(".py"):
                owner["deps"] = sorted(set(owner["deps"]) | (_file_imports(root, d, mods) - {owner["module"]}))
    # deps as target names; testonly spreads to whatever depends on a testonly target
    by_module = {t["module"]: name for name, t in targets.items()}
    for t in targets.values():
        t["deps"] = sorted(by_module[d] for d in t["deps"])
    changed = True
    while changed:
        changed = False
        for t in targets.values():
            if t["rule"] != "py_test" and not t["testonly"] and any(targets[d]["testonly"] for d in t["deps"]):
                t["testonly"] = changed = True
    return targets


# ---------------------------------------------------------------- writing BUILD
def _globbed(files: list[str], every_file: list[str], mods: dict[str, str]) -> tuple[list[str], list[str]]:
    """(files, Bazel glob patterns) naming exactly `files`: "folder/**" for a folder without code
    whose every file is wanted, "folder/*" or an `import_graph.DATA_ONLY` pattern for all the
    wanted files directly in one folder; the files no pattern covers are listed."""
    wanted = set(files)
    module_dirs = {posixpath.dirname(rel) for rel in mods.values()}
    patterns = []
    taken: list[str] = []
    for folder in sorted({posixpath.dirname(f) for f in files} - {""}, key=lambda d: (d.count("/"), d)):
        # try the folder and the ones above it, outermost first
        chain = [folder]
        while posixpath.dirname(chain[-1]):
            chain.append(posixpath.dirname(chain[-1]))
        for candidate in reversed(chain):
            if any(candidate == t or candidate.startswith(t + "/") for t in taken):
                break
            below = [f for f in every_file if f.startswith(candidate + "/")]
            if len(below) > 1 and set(below) <= wanted and \
                    not any(d == candidate or d.startswith(candidate + "/") for d in module_dirs):
                patterns.append(f"{candidate}/**")
                taken.append(candidate)
                wanted -= set(below)
                break
    for folder in sorted({posixpath.dirname(f) for f in wanted} - {""}):
        here = sorted(f for f in wanted if posixpath.dirname(f) == folder)
        if len(here) < 2:
            continue
        for pattern in [f"{folder}/*"] + [p for p in ig.DATA_ONLY if posixpath.dirname(p) == folder]:
            regex = glob_regex(pattern)
            if sorted(f for f in every_file if regex.fullmatch(f)) == here:
                patterns.append(pattern)
                wanted -= set(here)
                break
    return sorted(wanted), sorted(patterns)


def _list(items: list[str]) -> str:
    quoted = [f'"{i}"' for i in items]
    if len(quoted) == 1:
        return f"[{quoted[0]}]"
    return "[\n" + "".join(f"        {q},\n" for q in quoted) + "    ]"


def render(root: str | os.PathLike, targets: dict[str, dict] | None = None) -> str:
    """The text of BUILD for the tree at `root` (`targets`: `collect(root)`, when already made)."""
    root = pathlib.Path(root)
    targets = collect(root) if targets is None else targets
    mods = ig.modules(root)
    universe = data_universe(root, mods)
    every_file = sorted(set(universe) | set(mods.values()))
    shipped: set[str] = set()
    sections: dict[str, list[str]] = {}
    for name, t in sorted(targets.items(), key=lambda kv: kv[1]["srcs"][0]):
        lines = [f"{t['rule']}(", f'    name = "{name}",']
        if t["testonly"]:
            lines.append("    testonly = True,")
        lines.append(f"    srcs = {_list(t['srcs'])},")
        if t["main"]:
            lines.append(f'    main = "{t["main"]}",')
        if t["imports"]:
            lines.append(f"    imports = {_list(t['imports'])},")
        if t["data"]:
            shipped.update(t["data"])
            files, patterns = _globbed(t["data"], every_file, mods)
            parts = ([f"glob({_list(patterns)})"] if patterns else []) + ([_list(files)] if files else [])
            lines.append(f"    data = {' + '.join(parts)},")
        if t["deps"]:
            lines.append(f"    deps = {_list([':' + d for d in t['deps']])},")
        lines.append(")")
        sections.setdefault(posixpath.dirname(t["srcs"][0]), []).append("\n".join(lines))
    out = [HEADER]
    for folder in sorted(sections):
        out.append(f"# {'-' * 64} {folder}/")
        out.append("\n\n".join(sections[folder]))
    unshipped = [f for f in universe if f not in shipped and f.split("/")[0] in ig.PACKAGE_DIRS]
    if unshipped:
        out.append("# In the package folders but shipped by no target (no module reads them):\n"
                   + "\n".join(f"#   {f}" for f in unshipped))
    return "\n\n".join(out) + "\n"


def target_cycles(targets: dict[str, dict]) -> list[list[str]]:
    """Cycles among the targets' deps (Bazel rejects them)."""
    return ig.find_cycles({name: set(t["deps"]) for name, t in targets.items()})


def check(root: str | os.PathLike, expected: str | None = None) -> list[str]:
    """Problems with root/BUILD: none when it is exactly what `render(root)` gives."""
    root = pathlib.Path(root)
    expected = render(root) if expected is None else expected
    path = root / "BUILD"
    actual = path.read_text(encoding="utf-8") if path.exists() else ""
    if actual == expected:
        return []
    diff = difflib.unified_diff(actual.splitlines(), expected.splitlines(), "BUILD (as it is)",
                                "BUILD (generated from the tree)", lineterm="", n=2)
    return [f"BUILD is stale: run `{COMMAND}` to regenerate it. What differs:", *diff,
            f"BUILD is stale: run `{COMMAND}` to regenerate it."]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 with a diff when BUILD is stale")
    parser.add_argument("--root", default=str(ROOT), help="repository root (default: this checkout)")
    args = parser.parse_args(argv)
    root = pathlib.Path(args.root)
    targets = collect(root)
    text = render(root, targets)
    for cycle in target_cycles(targets):
        print(f"warning: dependency cycle, which Bazel rejects: {ig.format_cycle(cycle)}", file=sys.stderr)
    if args.check:
        problems = check(root, text)
        if problems:
            print("\n".join(problems), file=sys.stderr)
            return 1
        print("BUILD is up to date.")
        return 0
    (root / "BUILD").write_text(text, encoding="utf-8")
    print(f"wrote {root / 'BUILD'} ({len(targets)} targets)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
