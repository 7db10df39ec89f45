"""The built-in environment library: one CodeGym environment per file, stdlib only.

These files are environment code like any other: they are read statically here and executed only
inside the sandbox.
"""
from __future__ import annotations

import ast
import pathlib

LIBRARY_DIR = pathlib.Path(__file__).resolve().parent

# Research data: variants of LongestCommonPrefixEnv made to study one question each (an oracle
# that takes one of two procedures; one that sometimes answers before reading, as a synthesised
# solve() that consults get_ref_answer() does). They train only when a config names them in
# data.train_envs (the README default and experiments/configs/tiny_cpu_routes.py do), never as
# part of "every library env".
RESEARCH_ENVS = ("LongestCommonPrefixRoutesEnv", "LongestCommonPrefixShortcutEnv")


def env_class_name(source: str, path: str = "<source>") -> str:
    """The one environment class a file defines (the class with a `func_mapping`, read statically)."""
    tree = ast.parse(source, filename=path)
    classes = [node.name for node in tree.body if isinstance(node, ast.ClassDef)]
    if len(classes) != 1:
        raise ValueError(f"{path}: expected exactly one top-level class, found {classes}")
    return classes[0]


def library_env_files(directory: str | pathlib.Path = LIBRARY_DIR) -> dict[str, pathlib.Path]:
    """{env class name: file} for every environment file in `directory`, sorted by name."""
    directory = pathlib.Path(directory)
    if not directory.is_dir():
        raise ValueError(f"env directory {str(directory)!r} does not exist")
    out: dict[str, pathlib.Path] = {}
    for path in sorted(directory.glob("*.py")):
        if path.name.startswith("__"):
            continue
        name = env_class_name(path.read_text(encoding="utf-8"), str(path))
        if name in out:
            raise ValueError(f"env class {name!r} is defined in both {out[name]} and {path}: instances generated "
                             f"from env files need one file per class; a released CodeGym folder "
                             f"({{code_id}}__{{EnvName}}.py files) keys its envs by code_id and takes its "
                             f"instances from its records: give them as data.released.records")
        out[name] = path
    return dict(sorted(out.items()))
