"""Checks on every value a sandbox worker sends back, applied in the parent.

A worker runs untrusted code, which can replace whatever the worker would have sent: nothing in
a reply is trusted until checked here. Rewards must be finite and within the declared range;
observations, oracle transcripts and function results must be plain data of bounded size,
measured by walking them with a budget, so a result built of shared references (small as
pickled, exponential once expanded) is refused instead of expanded. Error messages are cut to a
bounded length. A reply that breaks a bound becomes ("fail", "bad_result", why).
"""
from __future__ import annotations

import math

from sandbox.limits import SandboxLimits

_PLAIN_SCALARS = (str, int, float, bool, type(None))


class BadResult(ValueError):
    """A worker's reply broke a bound; the message says which."""


def _size(value, budget: int) -> int:
    """Characters `value` takes written out (strings by length, other scalars as a few), walking
    shared references each time they are reached; raises BadResult once over `budget`."""
    used, stack = 0, [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            used += len(item) + 2
        elif isinstance(item, (list, tuple)):
            used += 2
            stack.extend(item)
        elif isinstance(item, dict):
            used += 2
            for key, inner in item.items():
                if not isinstance(key, str):
                    raise BadResult(f"a dict key of type {type(key).__name__} (only str keys are plain data)")
                stack.append(key)
                stack.append(inner)
        elif isinstance(item, _PLAIN_SCALARS):
            if isinstance(item, float) and not math.isfinite(item):
                raise BadResult(f"a non-finite number ({item!r})")
            used += 8
        else:
            raise BadResult(f"a value of type {type(item).__name__} (only plain data crosses the sandbox)")
        if used > budget:
            raise BadResult(f"a result of more than {budget:,} characters written out")
    return used


def _reward(value, limits: SandboxLimits) -> float:
    low, high = limits.reward_range
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not low <= value <= high:
        raise BadResult(f"reward {value!r} is not a finite number in the declared range [{low:g}, {high:g}]")
    return float(value)


def _flag(value, name: str) -> bool:
    if not isinstance(value, bool):
        raise BadResult(f"{name} {value!r} is not a bool")
    return value


def _text(value, name: str, cap: int) -> str:
    if not isinstance(value, str):
        raise BadResult(f"{name} of type {type(value).__name__} is not a str")
    if len(value) > cap:
        raise BadResult(f"{name} of {len(value):,} characters exceeds the limit of {cap:,}")
    return value


def _ok_value(op: str, value, limits: SandboxLimits):
    if op == "step":
        if not isinstance(value, tuple) or len(value) != 3:
            raise BadResult(f"a step reply must be (observation, done, reward), got {type(value).__name__}")
        return (_text(value[0], "observation", limits.max_observation_chars), _flag(value[1], "done"),
                _reward(value[2], limits))
    if op == "open":
        if not isinstance(value, dict) or set(value) != {"done", "reward"}:
            raise BadResult(f"an open reply must be {{'done', 'reward'}}, got {str(value)[:80]!r}")
        return {"done": _flag(value["done"], "done"), "reward": _reward(value["reward"], limits)}
    if op == "oracle":
        if not isinstance(value, dict) or set(value) != {"reward", "steps", "actions", "observations", "error"}:
            raise BadResult(f"an oracle reply has the wrong fields: {str(value)[:80]!r}")
        steps = value["steps"]
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise BadResult(f"oracle steps {steps!r} is not a non-negative int")
        if not isinstance(value["actions"], list) or not isinstance(value["observations"], list) or \
                not all(isinstance(a, dict) for a in value["actions"]):
            raise BadResult("oracle actions must be a list of dicts and observations a list")
        for i, observation in enumerate(value["observations"]):
            _text(observation, f"oracle observation {i}", limits.max_observation_chars)
        _size([value["actions"], value["observations"]], limits.max_result_chars)
        error = value["error"]
        if error is not None and not isinstance(error, str):
            raise BadResult(f"oracle error of type {type(error).__name__} is not a str")
        return dict(value, reward=_reward(value["reward"], limits), error=None if error is None else cut(error, limits))
    if op == "solve":
        if not isinstance(value, dict) or set(value) != {"error"} or not isinstance(value["error"], (str, type(None))):
            raise BadResult(f"a solve reply must be {{'error': str | None}}, got {str(value)[:80]!r}")
        return {"error": None if value["error"] is None else cut(value["error"], limits)}
    if op in ("call", "ref"):
        _size(value, limits.max_result_chars)
        return value
    if op == "close":
        if value is not None:
            raise BadResult(f"a close reply must be None, got {type(value).__name__}")
        return value
    if op == "ping":
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadResult(f"a ping reply must be an int, got {type(value).__name__}")
        return value
    raise ValueError(f"unknown sandbox op {op!r}")


def cut(message: str, limits: SandboxLimits) -> str:
    """An error message cut to `limits.max_error_chars`, saying how much was left out."""
    if len(message) <= limits.max_error_chars:
        return message
    return message[:limits.max_error_chars] + f" [cut: {len(message) - limits.max_error_chars:,} more characters]"


def checked_reply(op: tuple, reply, limits: SandboxLimits) -> tuple:
    """`reply` to `op` as ("ok", checked value) or ("fail", kind, message); anything that
    breaks a bound comes back as ("fail", "bad_result", why)."""
    if not isinstance(reply, tuple) or not reply or reply[0] not in ("ok", "fail"):
        return "fail", "bad_result", f"the worker sent a malformed reply ({type(reply).__name__})"
    if reply[0] == "fail":
        if len(reply) != 3 or not isinstance(reply[1], str) or not isinstance(reply[2], str) or len(reply[1]) > 64:
            return "fail", "bad_result", "the worker sent a malformed failure reply"
        return "fail", reply[1], cut(reply[2], limits)
    if len(reply) != 2:
        return "fail", "bad_result", "the worker sent a malformed reply"
    try:
        return "ok", _ok_value(op[0], reply[1], limits)
    except BadResult as exc:
        return "fail", "bad_result", f"the environment returned {exc}"
