"""Prompt rendering in both formats and the token buffer's invariants (hypothesis):
decode(buffer) is the chat template's rendering of the messages, sampled tokens are kept verbatim
and the loss mask covers exactly them."""

import functools
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from codegym_jax.envs.tool_docs import extract_env_spec, render_tool_docs, tool_json_schemas
from codegym_jax.rollout.chat_format import TokenBuffer, decode, initial_messages, render
from codegym_jax.rollout.tokenizer import SPECIAL_TOKENS, build_bpe_tokenizer, load, project_texts, save

LIBRARY = os.path.join(os.path.dirname(__file__), "..", "codegym_jax", "envs", "library")


@functools.cache
def tokenizer():
    return build_bpe_tokenizer(project_texts(), vocab_size=800)


@functools.cache
def spec():
    with open(os.path.join(LIBRARY, "valid_palindrome_env.py")) as f:
        return extract_env_spec(f.read())


def test_tokenizer_special_tokens_and_save_load(tmp_path):
    tok = tokenizer()
    ids = tok.convert_tokens_to_ids(list(SPECIAL_TOKENS))
    assert ids == list(range(len(SPECIAL_TOKENS)))
    text = "<|im_start|>user\nCall <|FunctionCallBegin|>[{\"name\": \"Observe\"}]<|FunctionCallEnd|> ü漢<|im_end|>"
    enc = tok.encode(text, add_special_tokens=False)
    assert tok.convert_tokens_to_ids("<|FunctionCallBegin|>") in enc
    assert decode(tok, enc) == text
    save(tok, tmp_path / "tok")
    again = load(tmp_path / "tok")
    assert again.encode(text, add_special_tokens=False) == enc
    messages, tools = initial_messages(spec(), "Is it a palindrome?", "native")
    assert render(again, messages, tools, True) == render(tok, messages, tools, True)


def test_codegym_prompt_layout():
    messages, tools = initial_messages(spec(), "Decide whether s reads the same backwards.", "codegym")
    assert tools is None
    assert [m["role"] for m in messages] == ["system", "user"]
    assert render_tool_docs(spec()) in messages[0]["content"]
    assert messages[1]["content"].endswith("Decide whether s reads the same backwards.")
    assert '<|FunctionCallBegin|>[{"name": "Observe", "parameters": {}}]<|FunctionCallEnd|>' in messages[1]["content"]
    text = render(tokenizer(), messages, tools, True)
    assert text.startswith("<|im_start|>system\nYou can call the following functions.")
    assert text.endswith("Decide whether s reads the same backwards.<|im_end|>\n<|im_start|>assistant\n")


def test_native_prompt_lists_json_schemas():
    messages, tools = initial_messages(spec(), "task text", "native")
    assert tools == tool_json_schemas(spec())
    text = render(tokenizer(), messages, tools, True)
    for schema in tools:
        assert json.dumps(schema) in text
    assert "<tool_call>" in text and text.endswith("task text<|im_end|>\n<|im_start|>assistant\n")


def test_unknown_format():
    with pytest.raises(ValueError, match="yaml"):
        initial_messages(spec(), "t", "yaml")


_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)
_SPECIAL_TEXT = st.sampled_from(list(SPECIAL_TOKENS) + ["<tool_response>", "\n", " ", "{\"name\": "])
_OBSERVATION = st.lists(st.one_of(_TEXT, _SPECIAL_TEXT), max_size=5).map("".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fmt=st.sampled_from(["codegym", "native"]),
       turns=st.lists(st.tuples(st.lists(st.integers(0, 799), max_size=12), _OBSERVATION), min_size=1, max_size=4),
       task=_TEXT)
def test_buffer_is_the_template_rendering_and_masks_cover_sampled_spans(fmt, turns, task):
    tok = tokenizer()
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    messages, tools = initial_messages(spec(), task, fmt)
    buf = TokenBuffer(tok, messages, tools)
    assert buf.text() == render(tok, buf.messages, tools, True)
    sampled_spans = []
    for index, (sampled, observation) in enumerate(turns):
        # the engine may sample any ids (unparseable bytes, special tokens); they end with <|im_end|>
        sampled = [t for t in sampled if t != im_end] + [im_end]
        logprobs = [-0.01 * (i + 1) for i in range(len(sampled))]
        start = len(buf)
        buf.append_sampled(sampled, logprobs)
        sampled_spans.append((start, len(buf), sampled, logprobs))
        if index < len(turns) - 1:
            buf.append_observation(observation)
            assert buf.text() == render(tok, buf.messages, tools, True)
    # after the last turn the template adds only the newline that follows <|im_end|>
    assert render(tok, buf.messages, tools, False) == buf.text() + "\n"
    mask = [0] * len(buf)
    for start, end, sampled, logprobs in sampled_spans:
        assert buf.tokens[start:end] == sampled
        assert buf.logprobs[start:end] == logprobs
        mask[start:end] = [1] * (end - start)
    assert buf.loss_mask == mask
    assert buf.turn_spans == [(s, e) for s, e, _, _ in sampled_spans]
    assert [m["role"] for m in buf.messages[2:]] == (["assistant", "tool"] * len(turns))[:2 * len(turns) - 1]


def test_observation_needs_a_closed_turn():
    tok = tokenizer()
    buf = TokenBuffer(tok, *initial_messages(spec(), "t", "codegym"))
    with pytest.raises(ValueError, match="im_end"):
        buf.append_observation("x")
    half = tok.encode("half a turn", add_special_tokens=False)
    buf.append_sampled(half, [0.0] * len(half))
    with pytest.raises(ValueError, match="im_end"):
        buf.append_observation("x")


def test_observation_that_does_not_fit_is_not_appended():
    tok = tokenizer()
    buf = TokenBuffer(tok, *initial_messages(spec(), "t", "codegym"))
    turn = tok.encode("ok", add_special_tokens=False) + [tok.convert_tokens_to_ids("<|im_end|>")]
    buf.append_sampled(turn, [0.0] * len(turn))
    before, messages = list(buf.tokens), list(buf.messages)
    assert not buf.append_observation("a long observation " * 20, max_len=len(buf) + 10)
    assert buf.tokens == before and buf.messages == messages
    assert buf.append_observation("short", max_len=len(buf) + 100)
    assert buf.text() == render(tok, buf.messages, None, True)
