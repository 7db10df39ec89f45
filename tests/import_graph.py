"""The first-party import graph, read statically with `ast` (nothing is imported or executed).

Plain functions returning plain data:

- `modules(root) -> {module name: repo-relative path}`: every first-party module under
  `PACKAGE_DIRS`, skipping `.venv*`, `runs/`, hidden and `__pycache__` folders and the files that
  are environment code read as data (`DATA_ONLY`: the env library's `*_env.py` and everything in
  `tests/data/`, run only inside the sandbox), and what .gitignore ignores.
- `import_graph(root) -> {module: set of first-party modules it imports}`: module-level and
  function-level imports alike, relative imports resolved; `from pkg import name` is an import of
  `pkg.name` when that is a module, else of `pkg`; `import a.b.c` is an import of `a.b.c` only
  (or of its longest prefix that is a module), not of the parent packages `a` and `a.b`. A module
  in a folder without `__init__.py` (tests/, benchmarks/) runs with that folder on sys.path, so
  its bare `import tolerances` is `tests.tolerances` when that sibling exists.
- `find_cycles(graph) -> [[m1, m2, ..., mk], ...]`: import cycles m1 -> m2 -> ... -> mk -> m1, from
  the strongly connected components, so that every module on a cycle is named by some cycle.
- `package_graph(graph)`: the same graph between packages (codegym_jax.rl, codegym_jax.rollout,
  sandbox, ...), whose cycles `find_cycles` finds too.
"""
from __future__ import annotations

import ast
import collections
import fnmatch
import functools
import os
import pathlib
import posixpath

PACKAGE_DIRS = ("codegym_jax", "sandbox", "experiments", "tests", "benchmarks")
# Environment code executed only inside the sandbox: the repo reads these files as data.
DATA_ONLY = ("codegym_jax/envs/library/*_env.py", "tests/data/**")


def skipped_dir(name: str) -> bool:
    """Folders that hold no first-party code: virtualenvs, run outputs, caches, hidden folders."""
    return name.startswith(".") or name == "__pycache__" or name == "runs" or name.endswith(".egg-info")


def glob_match(rel: str, pattern: str) -> bool:
    """Bazel-style glob: `*` stays within one folder, a trailing `/**` takes everything below."""
    if pattern.endswith("/**"):
        return rel.startswith(pattern[:-2])
    rel_parts, pat_parts = rel.split("/"), pattern.split("/")
    return len(rel_parts) == len(pat_parts) and all(fnmatch.fnmatchcase(r, p) for r, p in zip(rel_parts, pat_parts))


def is_data_only(rel: str) -> bool:
    return any(glob_match(rel, pattern) for pattern in DATA_ONLY)


def gitignore_patterns(root: str | os.PathLike) -> tuple[str, ...]:
    """The patterns of root/.gitignore (no negations here): files git ignores are not the tree's."""
    path = pathlib.Path(root) / ".gitignore"
    if not path.is_file():
        return ()
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return tuple(line for line in lines if line and not line.startswith(("#", "!")))


def ignored(rel: str, is_dir: bool, patterns: tuple[str, ...]) -> bool:
    """Whether a gitignore pattern matches the repo-relative path `rel` (itself, not its parents)."""
    for pattern in patterns:
        if pattern.endswith("/"):
            if not is_dir:
                continue
            pattern = pattern[:-1]
        if "/" in pattern:  # anchored at the root
            if fnmatch.fnmatchcase(rel, pattern.lstrip("/")):
                return True
        elif fnmatch.fnmatchcase(posixpath.basename(rel), pattern):
            return True
    return False


def tree_files(root: str | os.PathLike, top: str) -> list[str]:
    """Repo-relative posix paths of the files under root/top, skipping `skipped_dir` folders and
    what .gitignore ignores; sorted."""
    root = pathlib.Path(root)
    patterns = gitignore_patterns(root)
    out = []
    for dirpath, dirnames, filenames in os.walk(root / top):
        here = pathlib.Path(dirpath).relative_to(root).as_posix()
        dirnames[:] = sorted(d for d in dirnames
                             if not skipped_dir(d) and not ignored(f"{here}/{d}", True, patterns))
        for name in filenames:
            rel = f"{here}/{name}"
            if not name.endswith((".pyc", ".pyo")) and not ignored(rel, False, patterns):
                out.append(rel)
    return sorted(out)


def module_name(rel: str) -> str:
    """codegym_jax/rl/losses.py -> codegym_jax.rl.losses; codegym_jax/rl/__init__.py -> codegym_jax.rl."""
    parts = rel[: -len(".py")].split("/")
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: str | os.PathLike) -> dict[str, str]:
    """{module name: repo-relative path} of every first-party module, sorted by name."""
    out = {}
    for top in PACKAGE_DIRS:
        for rel in tree_files(root, top):
            if rel.endswith(".py") and not is_data_only(rel):
                out[module_name(rel)] = rel
    return dict(sorted(out.items()))


def is_package(rel: str) -> bool:
    return rel.endswith("/__init__.py")


def _resolve(name: str, known: dict[str, str]) -> str | None:
    """`name` or its longest prefix that is a first-party module (importing a.b.c imports no parents)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in known:
            return candidate
        parts.pop()
    return None


def _absolute(name: str, module: str, rel: str, known: dict[str, str], root: pathlib.Path) -> str:
    """The full name an absolute import of `name` in `module` finds: a module in a folder that is not
    a package runs with that folder first on sys.path (a script, or pytest's rootdir insertion)."""
    folder = pathlib.PurePosixPath(rel).parent
    if not (root / folder / "__init__.py").exists():
        prefix = ".".join(folder.parts)
        sibling = f"{prefix}.{name.split('.')[0]}"
        if any(m == sibling or m.startswith(sibling + ".") for m in known):
            return f"{prefix}.{name}"
    return name


def _base_package(module: str, rel: str, level: int) -> str:
    """The package a relative import with `level` leading dots starts from."""
    parts = module.split(".")
    if not is_package(rel):
        parts = parts[:-1]
    if level > 1:
        parts = parts[: len(parts) - (level - 1)]
    return ".".join(parts)


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


_STATEMENT_LISTS = ("body", "orelse", "finalbody", "handlers", "cases")


def import_nodes(tree: ast.AST):
    """Every Import/ImportFrom that can run: at module level, in functions and classes, under
    if/try/with/for; not the body of an `if TYPE_CHECKING:` (never executed)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
            continue
        if isinstance(node, ast.If) and _type_checking_only(node):
            todo.extend(node.orelse)
            continue
        for field in _STATEMENT_LISTS:
            todo.extend(getattr(node, field, ()))


@functools.lru_cache(maxsize=4096)
def _parse_cached(path: str, mtime_ns: int, size: int) -> ast.Module:
    del mtime_ns, size  # part of the cache key only
    return ast.parse(pathlib.Path(path).read_text(encoding="utf-8"), filename=path)


def parse(root: str | os.PathLike, rel: str) -> ast.Module:
    """The ast of root/rel, parsed once per version of the file."""
    path = pathlib.Path(root) / rel
    stat = path.stat()
    return _parse_cached(str(path), stat.st_mtime_ns, stat.st_size)


def imports_of(root: str | os.PathLike, module: str, known: dict[str, str]) -> set[str]:
    """The first-party modules `module` (a key of `known`, i.e. of `modules(root)`) imports."""
    root = pathlib.Path(root)
    rel = known[module]
    tree = parse(root, rel)
    out: set[str] = set()
    for node in import_nodes(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found = _resolve(_absolute(alias.name, module, rel, known, root), known)
                if found:
                    out.add(found)
            continue
        if node.level:
            base = _base_package(module, rel, node.level)
            target = f"{base}.{node.module}" if node.module and base else (node.module or base)
        else:
            target = _absolute(node.module, module, rel, known, root)
        for alias in node.names:
            if alias.name != "*" and f"{target}.{alias.name}" in known:
                out.add(f"{target}.{alias.name}")
                continue
            found = _resolve(target, known)
            if found:
                out.add(found)
    out.discard(module)
    return out


def import_graph(root: str | os.PathLike) -> dict[str, set[str]]:
    """{module: set of first-party modules it imports}, one key per module of `modules(root)`."""
    known = modules(root)
    return {module: imports_of(root, module, known) for module in known}


def strongly_connected_components(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; each component sorted, components in discovery order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def _shortest_cycle_through(start: str, graph: dict[str, set[str]], members: set[str]) -> list[str]:
    """The shortest path start -> ... -> start inside `members` (breadth first, sorted neighbours)."""
    parent: dict[str, str] = {}
    queue = collections.deque([start])
    seen = {start}
    while queue:
        node = queue.popleft()
        for child in sorted(graph.get(node, ())):
            if child not in members:
                continue
            if child == start:
                path = [node]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return path[::-1]
            if child not in seen:
                seen.add(child)
                parent[child] = node
                queue.append(child)
    raise AssertionError(f"{start} is on no cycle within {sorted(members)}")


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Import cycles as [m1, ..., mk] (m1 imports m2, ..., mk imports m1), each starting at its
    smallest name, sorted; within one strongly connected component, shortest cycles are added
    until every module of the component is on one of them."""
    cycles = []
    for component in strongly_connected_components(graph):
        members = set(component)
        if len(component) == 1 and component[0] not in graph.get(component[0], ()):
            continue
        covered: set[str] = set()
        for start in component:
            if start in covered:
                continue
            cycle = _shortest_cycle_through(start, graph, members)
            first = cycle.index(min(cycle))
            cycle = cycle[first:] + cycle[:first]
            covered.update(cycle)
            if cycle not in cycles:
                cycles.append(cycle)
    return sorted(cycles)


def format_cycle(cycle: list[str]) -> str:
    return " -> ".join(cycle + cycle[:1])


def subpackage(module: str) -> str:
    """The package layer a module belongs to: `codegym_jax.rl` for codegym_jax.rl.batches (and for
    codegym_jax.rl itself); a module directly in a top-level package (codegym_jax.buckets) is its own."""
    return ".".join(module.split(".")[:2])


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The import graph between `subpackage`s: cycles here (codegym_jax.rl <-> codegym_jax.rollout)
    tangle two packages even when no module-level cycle exists."""
    out: dict[str, set[str]] = {}
    for module, imported in graph.items():
        here = subpackage(module)
        out.setdefault(here, set()).update(subpackage(m) for m in imported if subpackage(m) != here)
    return out


def package_cycle_witnesses(graph: dict[str, set[str]], cycle: list[str]) -> list[str]:
    """For each link p -> q of a package cycle, the module imports that make it."""
    out = []
    for here, there in zip(cycle, cycle[1:] + cycle[:1]):
        edges = sorted(f"{m} imports {d}" for m in graph if subpackage(m) == here
                       for d in graph[m] if subpackage(d) == there)
        out.append(f"{here} -> {there}: " + "; ".join(edges))
    return out


if __name__ == "__main__":
    graph = import_graph(pathlib.Path(__file__).resolve().parents[1])
    for found in find_cycles(graph):
        print("cycle:", format_cycle(found))
