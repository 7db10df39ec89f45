"""SGLangEngine against a real sglang-jax server on CPU, checked against transformers.

The server runs from `.venv-sglang-jax` (made by `.ci/sglang_jax_venv.sh`; CI creates it) on a
tiny random Qwen2 written by our HF writer, and is started through our launcher (which applies
the sglang-jax CPU fixes at import time). Every token and log-prob that comes back is recomputed
with transformers' Qwen2 on the same safetensors.
"""

import json
import sys

import numpy as np
import pytest

from codegym_jax.models.config import DecoderConfig
from codegym_jax.rollout.engine import SamplingParams
from codegym_jax.rollout.sglang_engine import SGLangEngine, SGLangRequestError, parse_generate_response
from codegym_jax.rollout.sglang_launcher import (
    DEFAULT_SGLANG_JAX_VENV,
    ServerConfig,
    SGLangServer,
    free_port,
    sglang_jax_cpu_config,
)
from model_fixtures import hf_logprob_rows
from tolerances import assert_greedy_tokens, assert_within, logprob_bound

SGLANG_JAX_PYTHON = DEFAULT_SGLANG_JAX_VENV / "bin" / "python"
needs_sglang_jax = pytest.mark.skipif(
    not SGLANG_JAX_PYTHON.exists(),
    reason=f"sglang-jax venv absent ({SGLANG_JAX_PYTHON}); create it with .ci/sglang_jax_venv.sh",
)

# head_dim 128: sglang-jax's CPU attention needs it (docs/architecture.md, "Facts about
# dependencies").
TINY_CFG = DecoderConfig(vocab_size=512, hidden_size=128, intermediate_size=256, num_layers=2, num_heads=1,
                       num_kv_heads=1, head_dim=128, max_position_embeddings=2048, rope_theta=10000.0)

PROMPTS = [[5, 6, 7, 8, 9], [11, 3], [40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50]]


def _sampling(**kw):
    base = dict(max_new_tokens=8, temperature=1.0, top_p=1.0, top_k=0, stop_token_ids=(), seed=None)
    base.update(kw)
    return SamplingParams(**base)


# ---------------------------------------------------------------------------- reply parsing
def _reply(output_ids, entries, finish):
    return {"output_ids": output_ids, "meta_info": {"finish_reason": finish, "output_token_logprobs": entries}}


def test_parse_keeps_matched_stop_token_that_output_ids_drop():
    tokens, logprobs, finish = parse_generate_response(
        _reply([7], [[-1.5, 7, None], [-0.25, 2, None]], {"type": "stop", "matched": 2})
    )
    assert (tokens, logprobs, finish) == ([7, 2], [-1.5, -0.25], "stop")


@pytest.mark.parametrize(
    "reply",
    [
        _reply([7, 8], [[-1.0, 7, None], [-1.0, 9, None]], {"type": "length", "length": 2}),  # ids disagree
        _reply([7], [[-1.0, 7, None], [-1.0, 3, None]], {"type": "stop", "matched": 2}),  # extra != matched
        _reply([7], [[-1.0, 7, None], [-1.0, 3, None]], {"type": "length", "length": 2}),  # extra, no stop
        _reply([7], None, {"type": "length", "length": 1}),  # return_logprob ignored
        _reply([7], [[-1.0, 7, None]], {"type": "exploded"}),
        {"output_ids": [1]},
    ],
)
def test_parse_rejects_inconsistent_replies(reply):
    with pytest.raises(SGLangRequestError):
        parse_generate_response(reply)


def test_launcher_reports_a_server_that_dies_during_startup(tmp_path):
    log = tmp_path / "server.log"
    cfg = ServerConfig(python=sys.executable, model_path=str(tmp_path / "no_model"), program="compat",
                       port=free_port(), log_path=str(log), startup_timeout_s=120)
    with pytest.raises(RuntimeError, match="exited with code"):
        SGLangServer(cfg).start()
    assert "no_model" in log.read_text()


# ---------------------------------------------------------------------------- real server
def _write_tokenizer(path):
    """Our BPE tokenizer, marked for transformers-4 readers (sglang-jax) as Qwen2TokenizerFast."""
    from codegym_jax.rollout import tokenizer

    tokenizer.save(tokenizer.build_bpe_tokenizer(["def solve(x): return x + 1"] * 4, vocab_size=300), path)
    cfg_path = path / "tokenizer_config.json"
    tok_cfg = json.loads(cfg_path.read_text())
    tok_cfg["tokenizer_class"] = "Qwen2TokenizerFast"
    # transformers 5 lists extra special tokens where transformers 4 expects a dict of named ones.
    tok_cfg["additional_special_tokens"] = tok_cfg.pop("extra_special_tokens", [])
    cfg_path.write_text(json.dumps(tok_cfg))


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    import jax

    from codegym_jax.models.hf_io import save_hf_model
    from codegym_jax.models.qwen import init_params

    path = tmp_path_factory.mktemp("tiny_qwen2")
    save_hf_model(path, TINY_CFG, init_params(TINY_CFG, jax.random.PRNGKey(0)))
    _write_tokenizer(path)
    return path


@pytest.fixture(scope="module")
def hf_model(tiny_model_dir):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    return model.eval()


def _hf_logprobs(hf_model, tokens, temperature=1.0):
    """log_softmax(logits / T) at every position of `tokens` (row i predicts tokens[i + 1]), and
    how far another float32 forward's log-probs may be by rounding (both sides are float32: the
    launcher's fixes make sglang-jax's lm_head float32 too; left in bfloat16 it is ~2e-3 off)."""
    rows, scale = hf_logprob_rows(hf_model, tokens, temperature)
    return rows, logprob_bound(TINY_CFG, len(tokens), scale)


@pytest.fixture(scope="module")
def server(tiny_model_dir, tmp_path_factory):
    log = tmp_path_factory.mktemp("sglang_log") / "server.log"
    cfg = sglang_jax_cpu_config(str(tiny_model_dir), free_port(), log_path=str(log), startup_timeout_s=300)
    with SGLangServer(cfg) as srv:
        yield srv


@pytest.fixture
def engine(server):
    with SGLangEngine([server.url], max_in_flight=4, request_timeout_s=120) as eng:
        yield eng


@needs_sglang_jax
@pytest.mark.slow
def test_greedy_tokens_and_logprobs_match_transformers(engine, hf_model):
    results = engine.generate(PROMPTS, _sampling(temperature=0.0, max_new_tokens=8))
    for prompt, res in zip(PROMPTS, results):
        assert res.finish_reason == "length"
        assert len(res.token_ids) == len(res.logprobs) == 8
        full = prompt + list(res.token_ids)
        ref, bound = _hf_logprobs(hf_model, full)
        assert_greedy_tokens(res.token_ids, ref[len(prompt) - 1:-1], bound, f"prompt {prompt}", res.logprobs)


@needs_sglang_jax
@pytest.mark.slow
def test_sampled_tokens_respect_top_k_and_carry_the_sampling_logprob(engine, hf_model):
    prompts = [[3 + i, 17, 29 + 2 * i] for i in range(8)]  # 8 requests, 4 in flight
    sampling = _sampling(temperature=0.7, top_k=5, max_new_tokens=6)
    results = engine.generate(prompts, sampling)
    distinct = set()
    for prompt, res in zip(prompts, results):
        assert len(res.token_ids) == len(res.logprobs) == 6
        ref, bound = _hf_logprobs(hf_model, prompt + list(res.token_ids), temperature=0.7)
        for i, (tok, lp) in enumerate(zip(res.token_ids, res.logprobs)):
            row = ref[len(prompt) - 1 + i]
            # In the top 5 (up to the two forwards' rounding at near-ties).
            assert row[tok] >= np.sort(row)[-5] - 2 * bound, (prompt, i, tok)
            assert abs(lp - row[tok]) <= bound, (prompt, i, lp, row[tok], bound)
        distinct.add(tuple(res.token_ids))
    assert len(distinct) == len(prompts)


@needs_sglang_jax
@pytest.mark.slow
def test_repeated_requests_draw_fresh_samples(engine):
    # One prompt sampled in separate calls (a GRPO group): the server's random stream must move on.
    samples = {tuple(engine.generate([PROMPTS[1]], _sampling(max_new_tokens=6))[0].token_ids) for _ in range(5)}
    assert len(samples) >= 3


@needs_sglang_jax
@pytest.mark.slow
def test_stop_token_ends_generation_and_stays_in_the_output(engine, hf_model):
    greedy = engine.generate([PROMPTS[0]], _sampling(temperature=0.0, max_new_tokens=6))[0]
    stop = greedy.token_ids[2]
    first = greedy.token_ids.index(stop)
    res = engine.generate([PROMPTS[0]], _sampling(temperature=0.0, max_new_tokens=6, stop_token_ids=(stop,)))[0]
    assert res.finish_reason == "stop"
    assert res.token_ids == greedy.token_ids[: first + 1]
    # Each request's log-probs are within rounding of transformers', so within twice that of each other.
    _, bound = _hf_logprobs(hf_model, PROMPTS[0] + list(greedy.token_ids))
    assert_within(res.logprobs, greedy.logprobs[: first + 1], 2 * bound, "stopped vs free")


@needs_sglang_jax
@pytest.mark.slow
def test_unreachable_server_is_retried_on_the_next_one(server):
    dead = f"http://127.0.0.1:{free_port()}"
    with SGLangEngine([dead, server.url], max_in_flight=2, max_retries=2, backoff_s=0.01) as eng:
        results = eng.generate(PROMPTS, _sampling(temperature=0.0, max_new_tokens=3))
    assert [len(r.token_ids) for r in results] == [3, 3, 3]
    with SGLangEngine([dead], max_retries=1, backoff_s=0.01) as eng:
        with pytest.raises(SGLangRequestError, match="after 2 attempts"):
            eng.generate([PROMPTS[0]], _sampling(max_new_tokens=2))
