"""Parse the policy's tool call out of one assistant turn. Never raises on model output.

Formats (docs/architecture.md, "Tool-call formats"):
  codegym: <|FunctionCallBegin|>[{"name": ..., "parameters": {...}}]<|FunctionCallEnd|>
  native:  <tool_call>{"name": ..., "arguments": {...}}</tool_call>   (Qwen2.5)
Exactly one call per turn. Anything else (no call, bad JSON, two calls, unknown tool, wrong
shape) gives an error message that goes back to the model as its observation.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Iterable

FORMATS = ("codegym", "native")
_MARKERS = {
    "codegym": ("<|FunctionCallBegin|>", "<|FunctionCallEnd|>", "parameters"),
    "native": ("<tool_call>", "</tool_call>", "arguments"),
}


@dataclasses.dataclass(frozen=True)
class ParsedCall:
    """`action` is the sandbox action {"name", "parameters"} or None; then `error` says why."""

    action: dict | None
    error: str | None


def format_call(name: str, arguments: dict, fmt: str) -> str:
    """The text of one well-formed call in `fmt` (what a policy should emit)."""
    begin, end, key = _markers(fmt)
    body = {"name": name, key: arguments}
    if fmt == "codegym":
        return f"{begin}{json.dumps([body])}{end}"
    return f"{begin}\n{json.dumps(body)}\n{end}"


def _markers(fmt: str) -> tuple[str, str, str]:
    if fmt not in _MARKERS:
        raise ValueError(f"unknown tool-call format {fmt!r}; expected one of {FORMATS}")
    return _MARKERS[fmt]


def _fail(message: str) -> ParsedCall:
    return ParsedCall(None, f"Error: {message}")


def parse_tool_call(text: str, fmt: str, tool_names: Iterable[str]) -> ParsedCall:
    begin, end, key = _markers(fmt)
    tool_names = list(tool_names)
    example = format_call("ToolName", {"arg": "value"}, fmt)
    count = text.count(begin)
    if count == 0:
        return _fail(f"no tool call found. Call exactly one tool per turn, like: {example}")
    if count > 1:
        return _fail(f"{count} tool calls found; call exactly one tool per turn.")
    body = text.split(begin, 1)[1]
    if end not in body:
        return _fail(f"the tool call is not closed with {end}.")
    body = body.split(end, 1)[0].strip()
    try:
        payload: Any = json.loads(body)
    except (json.JSONDecodeError, RecursionError) as e:
        return _fail(f"the tool call is not valid JSON ({e}).")
    if fmt == "codegym" and isinstance(payload, list):
        if len(payload) != 1:
            return _fail(f"{len(payload)} tool calls found in the list; call exactly one tool per turn.")
        payload = payload[0]
    if not isinstance(payload, dict) or not isinstance(payload.get("name"), str):
        return _fail(f'a tool call is a JSON object with a "name" string and a "{key}" object.')
    arguments = payload.get(key, {})
    if isinstance(arguments, str) and fmt == "native":  # some models emit arguments as a JSON string
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError as e:
            return _fail(f'"{key}" is a string that is not valid JSON ({e}).')
    if not isinstance(arguments, dict):
        return _fail(f'"{key}" must be a JSON object, got {type(arguments).__name__}.')
    name = payload["name"]
    if name not in tool_names:
        return _fail(f"unknown tool {name!r}; available tools: {', '.join(tool_names)}.")
    return ParsedCall({"name": name, "parameters": arguments}, None)


def split_native_calls(text: str) -> tuple[str, list[dict]]:
    """(the text outside the calls, the calls) of a reply in the native format that may hold any
    number of `<tool_call>` blocks (an OpenAI-style reply's parallel calls). Each call is
    {"name": str, "arguments": dict}; a block that is not such a call is left in the text, so
    nothing the model wrote is lost. Never raises on model output."""
    begin, end, key = _MARKERS["native"]
    calls: list[dict] = []
    kept: list[str] = []
    rest = text
    while begin in rest:
        before, after = rest.split(begin, 1)
        if end not in after:
            break
        body, rest = after.split(end, 1)
        call = _native_call(body.strip(), key)
        if call is None:
            kept.append(before + begin + body + end)
        else:
            kept.append(before)
            calls.append(call)
    kept.append(rest)
    return "".join(kept).strip(), calls


def _native_call(body: str, key: str) -> dict | None:
    try:
        payload: Any = json.loads(body)
    except (json.JSONDecodeError, RecursionError):
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("name"), str):
        return None
    arguments = payload.get(key, {})
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except (json.JSONDecodeError, RecursionError):
            return None
    return {"name": payload["name"], "arguments": arguments} if isinstance(arguments, dict) else None
