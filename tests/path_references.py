"""Static evaluation of the file paths a module builds from its own `__file__` (read with `ast`,
nothing imported or executed), for tests/build_file.py to turn into a target's data and deps.

- `walk(tree) -> (nodes, parents)`: every node of a parsed module, breadth first, and each one's
  parent.
- `path_references(rel, nodes, parents) -> (paths, folders, globs)`: the repo-relative paths the
  module at `rel` builds from `__file__` (`ROOT / "experiments" / "run.py"`, `os.path.dirname(...)`,
  `.parents[1]`, `joinpath`...), the folders it joins with something unknown (some file in them),
  and the patterns of `.glob()` / `.rglob()` calls on such paths.
- `normal_path(token)`: a path-like token of prose as a repo path.
- `glob_regex(pattern)`: a regex for a Bazel / pathlib glob pattern.

A path expression evaluates to ("path", repo-relative path) for a path anchored at the module's own
`__file__`, ("under", folder) for one joined with something unknown (a file in that folder),
("glob", repo-relative pattern) for `.glob()` / `.rglob()` on a path, ("seg", text) for a string
constant, or None when unknown (a parameter, tmp_path, a user's directory...).
"""
from __future__ import annotations

import ast
import posixpath
import re


def walk(tree: ast.AST) -> tuple[list[ast.AST], dict[ast.AST, ast.AST]]:
    """Every node of the tree, and each one's parent."""
    nodes, parents = [tree], {}
    for node in nodes:  # grows while it is read: breadth first
        for child in ast.iter_child_nodes(node):
            parents[child] = node
            nodes.append(child)
    return nodes, parents


_IDENTITY_CALLS = {"abspath", "realpath", "normpath", "str", "fspath", "resolve", "absolute", "expanduser"}
_JOIN_CALLS = {"join", "Path", "PurePath", "PurePosixPath", "joinpath"}
_RECEIVER_CALLS = {"resolve", "absolute", "expanduser", "joinpath", "glob", "rglob"}


def _call_name(node: ast.Call) -> str | None:
    return node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)


def _consumed(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Whether `node` is the base or a piece of a larger path expression."""
    parent = parents.get(node)
    if isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.Div):
        return True
    if isinstance(parent, ast.Call) and node in parent.args:
        return _call_name(parent) in _IDENTITY_CALLS | _JOIN_CALLS | {"dirname"}
    if isinstance(parent, ast.Attribute) and parent.attr in {"parent", "parents"} | _RECEIVER_CALLS:
        return True
    return False


def _is_module_namespace(node: ast.AST) -> bool:
    """`os`, `os.path`, `pathlib`: the receivers of module functions, not of path methods."""
    return (isinstance(node, ast.Name) and node.id in ("os", "path", "pathlib")) or (
        isinstance(node, ast.Attribute) and node.attr == "path")


class _PathEvaluator:
    def __init__(self, rel: str, nodes: list[ast.AST]):
        self.rel = rel
        self.assigned: dict[str, list[ast.AST]] = {}
        for node in nodes:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                self.assigned.setdefault(node.targets[0].id, []).append(node.value)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
                self.assigned.setdefault(node.target.id, []).append(node.value)
        self._busy: set[str] = set()

    @staticmethod
    def _join(base, piece):
        if base is not None and base[0] in ("path", "under") and (piece is None or base[0] == "under"):
            return ("under", base[1])  # some file below a known folder: join(LIBRARY, name)
        if base is None or piece is None or base[0] == "glob" or piece[0] in ("glob", "under"):
            return None
        if piece[0] == "path":
            return piece
        if base[0] == "seg":
            return ("seg", posixpath.join(base[1], piece[1]))
        joined = posixpath.normpath(posixpath.join(base[1], piece[1]))
        if joined == ".":
            return ("path", "")
        return None if joined.startswith(("..", "/")) else ("path", joined)

    @staticmethod
    def _parent(value, levels: int = 1):
        if value is None or value[0] != "path":
            return None
        path = value[1]
        for _ in range(levels):
            if path == "":
                return None
            path = posixpath.dirname(path)
        return ("path", path)

    def value(self, node: ast.AST):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return ("seg", node.value)
        if isinstance(node, ast.Name):
            if node.id == "__file__":
                return ("path", self.rel)
            values = self.assigned.get(node.id, [])
            if not values or node.id in self._busy:
                return None
            self._busy.add(node.id)
            try:
                found = {self.value(v) for v in values}
            finally:
                self._busy.discard(node.id)
            return found.pop() if len(found) == 1 else None  # one meaning, or unknown
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            return self._join(self.value(node.left), self.value(node.right))
        if isinstance(node, ast.Attribute) and node.attr == "parent":
            return self._parent(self.value(node.value))
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) and node.value.attr == "parents" \
                and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, int):
            return self._parent(self.value(node.value.value), node.slice.value + 1)
        if not isinstance(node, ast.Call):
            return None
        name = _call_name(node)
        receiver = node.func.value if isinstance(node.func, ast.Attribute) else None
        if name in _RECEIVER_CALLS and receiver is not None and not _is_module_namespace(receiver):
            base = self.value(receiver)
            if name in ("glob", "rglob"):
                pattern = self.value(node.args[0]) if node.args else None
                if base is None or base[0] != "path" or pattern is None or pattern[0] != "seg":
                    return None
                return ("glob", posixpath.join(base[1], pattern[1] if name == "glob" else f"**/{pattern[1]}"))
            for arg in node.args if name == "joinpath" else ():
                base = self._join(base, self.value(arg))
            return base
        if name == "dirname" and len(node.args) == 1:
            return self._parent(self.value(node.args[0]))
        if name in _IDENTITY_CALLS and len(node.args) == 1:
            return self.value(node.args[0])
        if name in _JOIN_CALLS and node.args:
            out = self.value(node.args[0])
            for arg in node.args[1:]:
                out = self._join(out, self.value(arg))
            return out
        return None


def path_references(rel: str, nodes: list[ast.AST],
                    parents: dict[ast.AST, ast.AST]) -> tuple[set[str], set[str], set[str]]:
    """(repo paths, folders some file of which, glob patterns) the module's code builds from its own
    `__file__`: the largest such expressions, and paths bound to names unless the name only serves
    as a base for others."""
    evaluator = _PathEvaluator(rel, nodes)
    base_names = {n.id for n in nodes if isinstance(n, ast.Name) and _consumed(n, parents)}
    paths, unders, globs = set(), set(), set()
    for node in nodes:
        if not isinstance(node, ast.expr) or isinstance(node, (ast.Name, ast.Constant)) or _consumed(node, parents):
            continue
        parent = parents.get(node)
        if isinstance(parent, (ast.Assign, ast.AnnAssign)):
            targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
            if all(isinstance(t, ast.Name) and t.id in base_names for t in targets):
                continue
        value = evaluator.value(node)
        if value is not None and value[0] == "path":
            paths.add(value[1])
        elif value is not None and value[0] == "under":
            unders.add(value[1])
        elif value is not None and value[0] == "glob":
            globs.add(value[1])
    paths.discard(rel)
    return paths, unders, globs


def normal_path(token: str) -> str:
    """A path-like token of prose as a repo path: trailing punctuation and a leading `./` dropped."""
    token = token.rstrip(".,:;/")
    return token[2:] if token.startswith("./") else token


def glob_regex(pattern: str) -> re.Pattern:
    """Bazel / pathlib glob semantics: `**` spans folders, `*` and `?` stay within one."""
    out, parts = "", pattern.split("/")
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "**":
            out += "(?:[^/]+/)*[^/]+" if last else "(?:[^/]+/)*"
            continue
        out += "".join("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c) for c in part)
        out += "" if last else "/"
    return re.compile(out)

