"""The OpenAI-compatible server (codegym_jax.serve) with the official `openai` client over loopback.

The model is the shipped tiny base fine-tuned here until its greedy replies to one weather
conversation are a `<tool_call>` and then a sentence, so a tool call really comes out of the
sampler, through the chat template, the parser and the HTTP reply into the client's objects.
"""
from __future__ import annotations

import concurrent.futures
import json
import pathlib
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import openai
import pytest
import requests

from codegym_jax.models import qwen
from codegym_jax.models.hf_io import load_hf_model
from codegym_jax.rl import learner
from codegym_jax.rl.objectives import sft_cross_entropy
from codegym_jax.rollout import tokenizer as tokenizer_lib
from codegym_jax.rollout.chat_format import render
from codegym_jax.serve.app import assistant_message
from codegym_jax.serve.generation import ServedModel
from codegym_jax.rollout.sglang_launcher import free_port
from codegym_jax.serve.server import open_served_model, running_server

ROOT = pathlib.Path(__file__).resolve().parents[1]
BASE = ROOT / "experiments" / "tiny_base"
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
QUESTION = [{"role": "user", "content": "What is the weather in Paris?"}]
CALL = {"name": "get_weather", "arguments": {"city": "Paris"}}
CALL_TEXT = f"<tool_call>\n{json.dumps(CALL)}\n</tool_call>"
ANSWER = "It is sunny in Paris."
REPLY = {"role": "tool", "content": "sunny, 21 C"}


def _conversations(tokenizer):
    """(tokens, target mask) of the two turns the model must reproduce greedily."""
    after_call = QUESTION + [{"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": CALL}]}, REPLY]
    rows = []
    for messages, target in ((QUESTION, CALL_TEXT), (after_call, ANSWER)):
        prompt = tokenizer.encode(render(tokenizer, messages, TOOLS, True), add_special_tokens=False)
        reply = tokenizer.encode(target + "<|im_end|>", add_special_tokens=False)
        rows.append((prompt + reply, [0] * len(prompt) + [1] * len(reply)))
    return rows


def _batch(rows, length):
    batch = {k: np.zeros((len(rows), length), np.int32)
             for k in ("tokens_BxL", "positions_BxL", "segment_ids_BxL", "loss_mask_BxL")}
    for i, (tokens, mask) in enumerate(rows):
        n = len(tokens)
        batch["tokens_BxL"][i, :n], batch["loss_mask_BxL"][i, :n] = tokens, mask
        batch["positions_BxL"][i, :n], batch["segment_ids_BxL"][i, :n] = np.arange(n), 1
    return {k: jnp.asarray(v) for k, v in batch.items()}


@pytest.fixture(scope="module")
def tool_model():
    """(tiny_base's folder, params that greedily answer the weather conversation as scripted)."""
    arch, params = load_hf_model(BASE)
    tokenizer = tokenizer_lib.load(BASE)
    batch = _batch(_conversations(tokenizer), 320)
    optimizer = learner.make_optimizer(learner.OptimizerConfig(learning_rate=3e-3, warmup_steps=1, weight_decay=0.0))
    step = jax.jit(learner.make_train_step(optimizer, sft_cross_entropy(arch)), donate_argnums=0)
    state = learner.TrainState(jnp.zeros((), jnp.int32), params, optimizer.init(params), jax.random.key(0))

    @jax.jit
    def memorised(p):
        logits = qwen.forward(p, arch, batch["tokens_BxL"], batch["positions_BxL"], batch["segment_ids_BxL"])[0]
        hit = jnp.argmax(logits[:, :-1], -1) == batch["tokens_BxL"][:, 1:]
        return jnp.all(hit | (batch["loss_mask_BxL"][:, 1:] == 0))

    for k in range(400):
        state, _ = step(state, batch)
        if k % 20 == 19 and bool(memorised(state.params)):
            return BASE, state.params
    pytest.fail("400 SFT steps did not make the tiny model reproduce the scripted weather conversation")


@pytest.fixture(scope="module")
def server(tool_model):
    folder, params = tool_model
    with open_served_model(folder, slots=8, params=params, name="weather") as model, \
            running_server(model) as url:
        yield url, model


def _client(url, key="unused"):
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=120)


def test_tool_calls_round_trip_through_the_openai_client(server):
    url, _ = server
    client = _client(url)
    first = client.chat.completions.create(model="weather", messages=QUESTION, tools=TOOLS, temperature=0)
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert call.type == "function" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    assert not choice.message.content
    # The client's own message object goes back as history, with the tool's reply.
    history = QUESTION + [choice.message.model_dump(exclude_none=True),
                          {**REPLY, "tool_call_id": call.id}]
    second = client.chat.completions.create(model="weather", messages=history, tools=TOOLS, temperature=0,
                                            logprobs=True)
    assert second.choices[0].message.content == ANSWER
    assert second.choices[0].message.tool_calls is None and second.choices[0].finish_reason == "stop"
    tokens = second.choices[0].logprobs.content
    assert "".join(t.token for t in tokens) == ANSWER
    assert all(t.logprob <= 0 for t in tokens)
    # tool_choice="none": the tools are not offered and nothing is parsed as a call.
    plain = client.chat.completions.create(model="weather", messages=QUESTION, tools=TOOLS, tool_choice="none",
                                           temperature=0, max_tokens=8)
    assert plain.choices[0].message.tool_calls is None


def test_concurrent_requests_share_the_batch_and_match_alone(server):
    url, model = server
    client = _client(url)
    alone = client.chat.completions.create(model="weather", messages=QUESTION, tools=TOOLS, temperature=0)
    before = dict(model.engine.stats)
    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        chats = [pool.submit(client.chat.completions.create, model="weather", messages=QUESTION, tools=TOOLS,
                             temperature=0) for _ in range(8)]
        texts = [pool.submit(client.completions.create, model="weather", prompt="The weather", max_tokens=12,
                             temperature=1.0, seed=s) for s in range(4)]
        chats, texts = [f.result() for f in chats], [f.result() for f in texts]
    for reply in chats:
        (call,) = reply.choices[0].message.tool_calls
        assert (call.function.name, call.function.arguments) == (alone.choices[0].message.tool_calls[0].function.name,
                                                                 alone.choices[0].message.tool_calls[0].function.arguments)
    assert all(t.usage.completion_tokens >= 1 for t in texts)
    assert model.engine.stats["prefill_tokens"] > before["prefill_tokens"]
    # The same seed and prompt give the same sample, whatever else is in the batch.
    again = client.completions.create(model="weather", prompt="The weather", max_tokens=12, temperature=1.0, seed=2)
    assert again.choices[0].text == texts[2].choices[0].text


def test_completions_n_stop_and_usage(server):
    url, model = server
    client = _client(url)
    reply = client.completions.create(model="weather", prompt=["Paris", "The"], n=2, max_tokens=6, temperature=1.0,
                                      seed=7, logprobs=0)
    assert [c.index for c in reply.choices] == [0, 1, 2, 3]
    assert reply.usage.prompt_tokens == sum(len(model.tokenizer.encode(p, add_special_tokens=False))
                                            for p in ("Paris", "The"))
    for c in reply.choices:
        assert len(c.logprobs.tokens) == len(c.logprobs.token_logprobs) <= 6
    prompt = render(model.tokenizer, QUESTION, TOOLS, True)
    cut = client.completions.create(model="weather", prompt=prompt, max_tokens=40, temperature=0, stop=["get_"])
    assert cut.choices[0].text == '<tool_call>\n{"name": "' and cut.choices[0].finish_reason == "stop"
    # The local-model route names the model by its folder.
    by_path = client.completions.create(model=str(BASE), prompt="Paris", max_tokens=2)
    assert by_path.model == str(BASE)


@pytest.mark.parametrize("body, field", [
    ({"messages": [{"role": "robot", "content": "hi"}]}, "messages.0.role"),
    ({"messages": []}, "messages"),
    ({"messages": QUESTION, "temperature": 3}, "temperature"),
    ({"messages": QUESTION, "n": 0}, "n"),
    ({"messages": QUESTION, "stream": True}, "stream"),
    ({"messages": QUESTION, "presence_penalty": 0.5}, "presence_penalty"),
    ({"messages": QUESTION, "max_tokens": 100000}, "max_tokens"),
    ({"messages": QUESTION, "frobnicate": 1}, "frobnicate"),
    ({"messages": QUESTION, "tools": [{"type": "function", "function": {}}]}, "tools.0.function.name"),
    ({"messages": QUESTION + [{"role": "assistant", "content": "", "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{not json"}}]}]},
     "messages.1.tool_calls.0.function.arguments"),
])
def test_malformed_chat_requests_get_400_naming_the_field(server, body, field):
    url, _ = server
    with pytest.raises(openai.BadRequestError) as caught:
        _client(url).post("/chat/completions", body={"model": "weather", **body}, cast_to=object)
    error = caught.value.body
    assert caught.value.status_code == 400
    assert error["param"] == field and field in error["message"], error


def test_bad_json_unknown_model_and_bad_tokens(server):
    url, _ = server
    raw = requests.post(f"{url}/v1/completions", data="{\"model\": ", headers={"content-type": "application/json"},
                        timeout=30)
    assert raw.status_code == 400 and "JSON" in raw.json()["error"]["message"]
    deep = requests.post(f"{url}/v1/completions", data="[" * 100000 + "]" * 100000,
                         headers={"content-type": "application/json"}, timeout=30)
    assert deep.status_code == 400
    with pytest.raises(openai.NotFoundError, match="'gpt-4o' does not exist"):
        _client(url).completions.create(model="gpt-4o", prompt="x", max_tokens=1)
    with pytest.raises(openai.BadRequestError, match="outside the vocabulary"):
        _client(url).completions.create(model="weather", prompt=[5, 10 ** 6], max_tokens=1)


def test_non_loopback_bind_needs_the_key(tool_model):
    folder, params = tool_model
    with open_served_model(folder, slots=2, params=params, name="weather") as model:
        with pytest.raises(ValueError, match="needs an API key"):
            running_server(model, host="0.0.0.0").__enter__()  # refused before it serves
        with running_server(model, host="0.0.0.0", api_key="s3cret") as url:
            with pytest.raises(openai.AuthenticationError) as caught:
                _client(url, key="wrong").models.list()
            assert caught.value.status_code == 401
            assert requests.get(f"{url}/v1/models", timeout=30).status_code == 401
            assert requests.get(f"{url}/health", timeout=30).status_code == 200
            assert _client(url, key="s3cret").models.list().data[0].id == "weather"


def test_qwen3_thinking_replies_are_split():
    class Template:
        chat_template = "... </think> ..."

    model = ServedModel(engine=None, tokenizer=Template(), names=("m",), context_len=64, max_new_tokens=8, stop_ids=())
    message, called = assistant_message(model, f"<think>\nFind the city.\n</think>\n\n{CALL_TEXT}", True)
    assert called and message["reasoning_content"] == "Find the city." and message["content"] is None
    assert json.loads(message["tool_calls"][0]["function"]["arguments"]) == {"city": "Paris"}
    message, called = assistant_message(model, "<tool_call>\n{broken\n</tool_call> left as text", True)
    assert not called and message["content"] == "<tool_call>\n{broken\n</tool_call> left as text"


def test_command_line_serves_a_folder():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "codegym_jax.serve", "--model", str(BASE), "--port", str(port),
                             "--slots", "2", "--log-level", "warning"], cwd=ROOT)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass  # not listening yet: poll again
            assert proc.poll() is None and time.monotonic() < deadline, "the server did not come up"
            time.sleep(0.5)
        reply = _client(f"http://127.0.0.1:{port}").completions.create(model="tiny_base", prompt="Paris", max_tokens=3)
        assert reply.usage.completion_tokens >= 1
    finally:
        proc.terminate()
        proc.wait(timeout=60)
