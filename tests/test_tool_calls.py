"""Tool-call parser: well-formed calls in both formats, and every malformed turn becomes an error
observation (never an exception)."""

import json

import pytest
from hypothesis import given, settings, strategies as st

from codegym_jax.rollout.tool_calls import format_call, parse_tool_call

TOOLS = ["Observe", "Add", "Done"]


@pytest.mark.parametrize("fmt", ["codegym", "native"])
def test_round_trip(fmt):
    args = {"a": 1, "b": [1, 2], "s": "x\"y"}
    parsed = parse_tool_call("let me add.\n" + format_call("Add", args, fmt), fmt, TOOLS)
    assert parsed.error is None
    assert parsed.action == {"name": "Add", "parameters": args}


def test_codegym_exact_paper_form():
    text = '<|FunctionCallBegin|>[{"name": "Done", "parameters": {"answer": 3}}]<|FunctionCallEnd|>'
    assert parse_tool_call(text, "codegym", TOOLS).action == {"name": "Done", "parameters": {"answer": 3}}


def test_native_arguments_as_json_string():
    text = '<tool_call>\n{"name": "Done", "arguments": "{\\"answer\\": 3}"}\n</tool_call>'
    assert parse_tool_call(text, "native", TOOLS).action == {"name": "Done", "parameters": {"answer": 3}}


@pytest.mark.parametrize("fmt,text,needle", [
    ("codegym", "I think the answer is 4", "no tool call"),
    ("codegym", '<|FunctionCallBegin|>[{"name": "Add", "parameters": {]<|FunctionCallEnd|>', "not valid JSON"),
    ("codegym", '<|FunctionCallBegin|>[{"name": "Add", "parameters": {}}]', "not closed"),
    ("codegym", format_call("Add", {}, "codegym") * 2, "2 tool calls"),
    ("codegym", '<|FunctionCallBegin|>[{"name": "Add"}, {"name": "Done"}]<|FunctionCallEnd|>', "2 tool calls"),
    ("codegym", '<|FunctionCallBegin|>[]<|FunctionCallEnd|>', "0 tool calls"),
    ("codegym", format_call("Rm", {}, "codegym"), "unknown tool 'Rm'"),
    ("codegym", '<|FunctionCallBegin|>[{"name": "Add", "parameters": [1]}]<|FunctionCallEnd|>', "must be a JSON object"),
    ("codegym", '<|FunctionCallBegin|>[3]<|FunctionCallEnd|>', '"name" string'),
    ("codegym", '<|FunctionCallBegin|>' + "[" * 100000 + '<|FunctionCallEnd|>', "not valid JSON"),
    ("native", format_call("Add", {}, "codegym"), "no tool call"),
    ("native", "<tool_call>\n{name: Add}\n</tool_call>", "not valid JSON"),
    ("native", format_call("Add", {}, "native") + format_call("Done", {}, "native"), "2 tool calls"),
    ("native", '<tool_call>{"name": "Done", "arguments": "{oops"}</tool_call>', "not valid JSON"),
    ("native", '<tool_call>{"name": 5, "arguments": {}}</tool_call>', '"name" string'),
])
def test_malformed_calls_give_error_observations(fmt, text, needle):
    parsed = parse_tool_call(text, fmt, TOOLS)
    assert parsed.action is None
    assert parsed.error.startswith("Error: ") and needle in parsed.error, parsed.error


def test_error_lists_available_tools():
    parsed = parse_tool_call(format_call("Nope", {}, "native"), "native", TOOLS)
    assert "Observe, Add, Done" in parsed.error


def test_unknown_format_is_a_caller_bug():
    with pytest.raises(ValueError, match="xml"):
        parse_tool_call("", "xml", TOOLS)


@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(st.sampled_from(list('{}[]":,<>|/ \nabcAdd1') + [
    "<|FunctionCallBegin|>", "<|FunctionCallEnd|>", "<tool_call>", "</tool_call>", '"name"',
    '"parameters"', '"arguments"', '"Observe"', '"Done"']), max_size=40),
    fmt=st.sampled_from(["codegym", "native"]))
def test_never_raises_and_result_is_consistent(pieces, fmt):
    text = "".join(pieces)
    parsed = parse_tool_call(text, fmt, TOOLS)
    assert (parsed.action is None) != (parsed.error is None)
    if parsed.action is not None:
        assert parsed.action["name"] in TOOLS and isinstance(parsed.action["parameters"], dict)
        json.dumps(parsed.action)
