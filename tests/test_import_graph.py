"""The first-party import graph (tests/import_graph.py) has no cycles, and its layers hold:
codegym_jax/ and sandbox/ never import experiments/, tests/ or benchmarks/."""
from __future__ import annotations

import pathlib
import textwrap

import pytest

import import_graph as ig

ROOT = pathlib.Path(__file__).resolve().parents[1]
LIBRARY_LAYERS = ("codegym_jax", "sandbox")
UPPER_LAYERS = ("experiments", "tests", "benchmarks")


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return ig.import_graph(ROOT)


def cycle_report(graph: dict[str, set[str]]) -> str:
    cycles = ig.find_cycles(graph)
    return "\n".join(f"  {ig.format_cycle(c)}" for c in cycles)


def layering_violations(graph: dict[str, set[str]]) -> list[str]:
    return [f"{m} imports {d}" for m in sorted(graph) if m.split(".")[0] in LIBRARY_LAYERS
            for d in sorted(graph[m]) if d.split(".")[0] in UPPER_LAYERS]


def write_tree(root: pathlib.Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def test_no_import_cycles(graph):
    report = cycle_report(graph)
    assert not report, ("first-party import cycles (a -> b: module a imports module b, at module or "
                        "function level):\n" + report)


def test_no_import_cycles_between_packages(graph):
    # rollout -> rl -> rollout through different modules is no module cycle, but the two packages
    # can then only be built, tested and understood together
    cycles = ig.find_cycles(ig.package_graph(graph))
    report = "\n".join(f"  {ig.format_cycle(c)}\n" + "\n".join(f"    {w}" for w in ig.package_cycle_witnesses(graph, c))
                       for c in cycles)
    assert not cycles, "import cycles between packages (a -> b: a module of a imports one of b):\n" + report


def test_library_does_not_import_experiments_tests_or_benchmarks(graph):
    bad = layering_violations(graph)
    assert not bad, "codegym_jax/ and sandbox/ must not import experiments/, tests/ or benchmarks/:\n" + "\n".join(bad)


def test_graph_covers_the_tree(graph):
    # every package folder is read, and the env library / test data stay data
    assert {m.split(".")[0] for m in graph} == set(ig.PACKAGE_DIRS)
    assert "codegym_jax.envs.library" in graph
    assert not [m for m in graph if m.startswith("codegym_jax.envs.library.") or m.startswith("tests.data.")]
    assert "tests.xla_flags" in graph["tests.conftest"]  # a bare sibling import under tests/


def test_cycle_finder_detects_a_planted_cycle(tmp_path):
    # a -> b (module level), b -> c (inside a function, relative), c -> sub.d (dotted import),
    # sub.d -> a (relative from a subpackage): one cycle of four
    write_tree(tmp_path, {
        "codegym_jax/__init__.py": "",
        "codegym_jax/a.py": "from codegym_jax import b\n",
        "codegym_jax/b.py": "def late():\n    from . import c\n    return c\n",
        "codegym_jax/c.py": "import codegym_jax.sub.d\n",
        "codegym_jax/sub/__init__.py": "",
        "codegym_jax/sub/d.py": "from ..a import anything\n",
        "codegym_jax/ok.py": "import codegym_jax.a\n",
        "sandbox/__init__.py": "",
        "sandbox/x.py": "from sandbox import y\n",
        "sandbox/y.py": "import sandbox.x\n",
    })
    graph = ig.import_graph(tmp_path)
    assert ig.find_cycles(graph) == [
        ["codegym_jax.a", "codegym_jax.b", "codegym_jax.c", "codegym_jax.sub.d"],
        ["sandbox.x", "sandbox.y"],
    ]
    report = cycle_report(graph)
    assert "codegym_jax.a -> codegym_jax.b -> codegym_jax.c -> codegym_jax.sub.d -> codegym_jax.a" in report
    assert "sandbox.x -> sandbox.y -> sandbox.x" in report
    with pytest.raises(AssertionError, match="sandbox.x -> sandbox.y -> sandbox.x"):
        test_no_import_cycles(graph)


def test_package_cycle_without_a_module_cycle_is_found(tmp_path):
    write_tree(tmp_path, {
        "codegym_jax/__init__.py": "",
        "codegym_jax/helpers.py": "",
        "codegym_jax/p/__init__.py": "",
        "codegym_jax/p/a.py": "from codegym_jax.q import b\n",
        "codegym_jax/p/d.py": "import codegym_jax.helpers\n",
        "codegym_jax/q/__init__.py": "",
        "codegym_jax/q/b.py": "",
        "codegym_jax/q/c.py": "from codegym_jax.p.d import x\n",
    })
    graph = ig.import_graph(tmp_path)
    assert ig.find_cycles(graph) == []
    assert ig.find_cycles(ig.package_graph(graph)) == [["codegym_jax.p", "codegym_jax.q"]]
    assert ig.package_cycle_witnesses(graph, ["codegym_jax.p", "codegym_jax.q"]) == [
        "codegym_jax.p -> codegym_jax.q: codegym_jax.p.a imports codegym_jax.q.b",
        "codegym_jax.q -> codegym_jax.p: codegym_jax.q.c imports codegym_jax.p.d",
    ]
    with pytest.raises(AssertionError, match="codegym_jax.p -> codegym_jax.q -> codegym_jax.p"):
        test_no_import_cycles_between_packages(graph)


def test_cycle_finder_names_every_module_of_a_tangle():
    # one strongly connected component made of two cycles sharing `hub`, and a self-import
    graph = {"hub": {"p", "q"}, "p": {"hub"}, "q": {"r"}, "r": {"hub"}, "alone": {"hub"}, "me": {"me"}}
    cycles = ig.find_cycles(graph)
    assert cycles == [["hub", "p"], ["hub", "q", "r"], ["me"]]
    assert ig.find_cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_import_resolution_rules(tmp_path):
    write_tree(tmp_path, {
        "codegym_jax/__init__.py": "",
        "codegym_jax/pkg/__init__.py": "VALUE = 1\n",
        "codegym_jax/pkg/mod.py": "",
        "codegym_jax/pkg/deep/__init__.py": "",
        "codegym_jax/pkg/deep/leaf.py": "",
        # `from pkg import name`: pkg.name when a module, else pkg; no edges to parent packages
        "codegym_jax/user.py": textwrap.dedent("""\
            import os
            import codegym_jax.pkg.deep.leaf
            from codegym_jax.pkg import mod, VALUE
            from typing import TYPE_CHECKING
            if TYPE_CHECKING:
                from codegym_jax import typing_only
            """),
        "codegym_jax/typing_only.py": "",
        "codegym_jax/pkg/rel.py": "from .deep import leaf\nfrom . import VALUE\nfrom .. import user\n",
        "codegym_jax/envs/library/__init__.py": "",
        "codegym_jax/envs/library/thing_env.py": "import codegym_jax.user\n",
        "codegym_jax/envs/uses_env.py": "from codegym_jax.envs.library.thing_env import ThingEnv\n",
        "tests/helper.py": "",
        "tests/test_thing.py": "from helper import x\nimport codegym_jax.pkg.mod\n",
        "tests/data/sample_env.py": "import codegym_jax.user\n",
        "experiments/runs/stale/copy.py": "import codegym_jax.user\n",
        "sandbox/.venv/lib/site.py": "",
    })
    mods = ig.modules(tmp_path)
    assert "codegym_jax.envs.library.thing_env" not in mods and "tests.data.sample_env" not in mods
    assert not [m for m in mods if m.startswith(("experiments.", "sandbox."))]
    graph = ig.import_graph(tmp_path)
    assert graph["codegym_jax.user"] == {"codegym_jax.pkg.deep.leaf", "codegym_jax.pkg.mod", "codegym_jax.pkg"}
    assert graph["codegym_jax.pkg.rel"] == {"codegym_jax.pkg.deep.leaf", "codegym_jax.pkg", "codegym_jax.user"}
    assert graph["codegym_jax.envs.uses_env"] == {"codegym_jax.envs.library"}
    assert graph["tests.test_thing"] == {"tests.helper", "codegym_jax.pkg.mod"}
