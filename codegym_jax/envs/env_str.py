"""Environment strings: "EnvName@{payload}" names an env class and the options of one task.

Upstream splits on the first "@" and literal-evals the rest; here the name must be a Python
identifier and the payload a dict (JSON, or a Python literal as upstream files accept), which
may itself contain "@".
"""

import ast
import json


def parse_env_str(env_str: str) -> tuple[str, dict]:
    """Split "EnvName@{...}" into (name, params). Raises ValueError naming the bad part."""
    if not isinstance(env_str, str):
        raise ValueError(f"env_str must be a str, got {type(env_str).__name__}")
    name, sep, payload = env_str.partition("@")
    if not sep:
        raise ValueError(f"env_str has no '@' separating name and payload: {env_str[:120]!r}")
    if not name.isidentifier():
        raise ValueError(f"env name {name!r} is not a Python identifier (env_str {env_str[:120]!r})")
    try:
        params = json.loads(payload)
    except ValueError:
        try:
            params = ast.literal_eval(payload)
        except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
            raise ValueError(f"env_str payload of {name} is neither JSON nor a Python literal: "
                             f"{payload[:120]!r} ({exc})") from None
    if not isinstance(params, dict):
        raise ValueError(f"env_str payload of {name} must be a dict, got {type(params).__name__}: "
                         f"{payload[:120]!r}")
    return name, params


def format_env_str(name: str, params: dict) -> str:
    """Inverse of parse_env_str (JSON payload, keys kept in their order)."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"env name {name!r} is not a Python identifier")
    if not isinstance(params, dict):
        raise ValueError(f"env params must be a dict, got {type(params).__name__}")
    return f"{name}@{json.dumps(params, ensure_ascii=False)}"
