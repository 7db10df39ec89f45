"""Stage 2: static and smoke checks of generated environment code."""

import ast
import json
import sys

from codegym_jax.envs.env_str import format_env_str, parse_env_str
from codegym_jax.envs.tool_docs import extract_env_spec

# Step errors that mean the env misbehaves (an "Error: ..." observation is fine: that is the contract).
FATAL_STEP_ERRORS = ("timeout", "crash", "memory", "session_lost", "env_exception", "observation_too_long")
_PLACEHOLDER = {"int": 1, "float": 1.0, "str": "a", "bool": True}


def env_classes(tree: ast.Module) -> list[str]:
    """Module-level classes that assign self.func_mapping (the env classes)."""
    names = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            for inner in ast.walk(node):
                if (isinstance(inner, ast.Attribute) and inner.attr == "func_mapping"
                        and isinstance(inner.ctx, ast.Store)):
                    names.append(node.name)
                    break
    return names


def non_stdlib_imports(tree: ast.Module) -> list[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    # gymnasium is provided by the sandbox (upstream env files subclass gymnasium.Env).
    return sorted(name for name in found if name not in sys.stdlib_module_names and name != "gymnasium")


def placeholder(type_text: str | None):
    text = (type_text or "").strip()
    if text.startswith("list"):
        return []
    if text.startswith("dict"):
        return {}
    return _PLACEHOLDER.get(text, 1)


def static_check(source: str, example_input: str) -> tuple[str | None, dict]:
    """(rejection reason or None, facts). Facts: class_name, tools, env_str."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return f"syntax_error: line {exc.lineno}: {exc.msg}", {}
    classes = env_classes(tree)
    if len(classes) != 1:
        return f"env_class_count: {len(classes)} classes assign func_mapping", {}
    try:
        spec = extract_env_spec(source, classes[0])
    except ValueError as exc:
        return f"func_mapping_mismatch: {exc}", {}
    names = [tool.name for tool in spec.tools]
    for required in ("Observe", "Done"):
        if required not in names:
            return f"missing_tool: {required}", {}
    for tool in spec.tools:
        if not (tool.description and tool.returns and tool.example_output):
            return f"missing_docstring: {tool.name} lacks description, Returns or Example Output", {}
        undocumented = [p.name for p in tool.params if not p.description]
        if undocumented:
            return f"missing_docstring: {tool.name} leaves {undocumented} undescribed", {}
    outside = non_stdlib_imports(tree)
    if outside:
        return f"non_stdlib_import: {outside}", {}
    try:
        params = json.loads(example_input)
        if not isinstance(params, dict):
            raise ValueError(f"example input is {type(params).__name__}, not an object")
        env_str = format_env_str(spec.class_name, params)
        if parse_env_str(env_str) != (spec.class_name, params):
            raise ValueError(f"{env_str[:80]!r} does not parse back to its parts")
    except ValueError as exc:
        return f"env_str_round_trip: {exc}", {}
    return None, {"class_name": spec.class_name, "tools": names, "env_str": env_str,
                  "task_description": spec.task_description}


def smoke_check(pool, source: str, env_str: str) -> str | None:
    """Open the example instance in the sandbox, call every tool but Done once with placeholder
    arguments and compute the reference answer; a hang, crash or exception is a rejection."""
    spec = extract_env_spec(source)
    try:
        session = pool.open_session(source, env_str)
    except Exception as exc:
        return f"sandbox_open: {str(exc)[:200]}"
    try:
        for tool in spec.tools:
            if tool.name == "Done":
                continue
            action = {"name": tool.name, "parameters": {p.name: placeholder(p.type) for p in tool.params}}
            result = pool.step(session, action)
            if result.error in FATAL_STEP_ERRORS:
                return f"tool_{result.error}: {tool.name}: {result.observation[:160]}"
    finally:
        pool.close_session(session)
    try:
        pool.get_ref_answer(source, env_str)
    except Exception as exc:
        return f"ref_answer_error: {str(exc)[:200]}"
    return None
