"""The SGLang weight-sync cycle end to end, against our engine behind SGLang's endpoints.

The trainer side writes versioned HF safetensors (`SGLangEngine.update_weights`), the server is
paused, told to load them with `/update_weights_from_disk`, and continued; what it serves next must
be what the new parameters produce. The reference is transformers' Qwen2 loaded from the very
folders the trainer wrote, so the writer, the server's loader and its sampler are all checked.
"""

import asyncio
import concurrent.futures
import sys
import time

import jax
import pytest

from codegym_jax.models.hf_io import save_hf_model
from codegym_jax.models.qwen import init_params
from codegym_jax.rollout.engine import SamplingParams
from codegym_jax.rollout.sglang_compat_server import CompatServer, build_jax_service
from codegym_jax.rollout.sglang_engine import SGLangEngine, SGLangRequestError, post_json
from codegym_jax.rollout.sglang_launcher import ServerConfig, SGLangServer, free_port
from model_fixtures import hf_logprob_rows
from tolerances import assert_greedy_tokens, logprob_bound

PROMPTS = [[5, 6, 7, 8, 9], [11, 3], [40, 41, 42, 43, 44, 45, 46]]
GREEDY = SamplingParams(max_new_tokens=6, temperature=0.0, top_p=1.0, top_k=0, stop_token_ids=(), seed=None)


def _tiny_cfg():
    from codegym_jax.models.config import DecoderConfig

    return DecoderConfig(
        vocab_size=256, hidden_size=64, intermediate_size=128, num_layers=2, num_heads=4,
        num_kv_heads=2, head_dim=16, max_position_embeddings=512, rope_theta=10000.0,
    )


def _assert_serves(results, prompts, model_dir):
    """Each served greedy token is the argmax of transformers on the folder's safetensors after
    the same prefix (up to near-ties of the two forwards' rounding), with its log-prob."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    for res, prompt in zip(results, prompts):
        tokens = list(prompt) + list(res.token_ids)
        rows, scale = hf_logprob_rows(model, tokens)
        assert len(res.token_ids) == GREEDY.max_new_tokens
        assert_greedy_tokens(res.token_ids, rows[len(prompt) - 1:-1], logprob_bound(_tiny_cfg(), len(tokens), scale),
                             f"prompt {prompt}", res.logprobs)


@pytest.fixture(scope="module")
def cfg():
    return _tiny_cfg()


@pytest.fixture(scope="module")
def v0_dir(cfg, tmp_path_factory):
    path = tmp_path_factory.mktemp("initial") / "v0"
    save_hf_model(str(path), cfg, init_params(cfg, jax.random.PRNGKey(0)))
    return path


@pytest.fixture(scope="module")
def server(v0_dir, tmp_path_factory):
    """The compat server as its own process, started by the launcher like an SGLang server."""
    log = tmp_path_factory.mktemp("compat_log") / "server.log"
    cfg = ServerConfig(
        python=sys.executable, model_path=str(v0_dir), program="compat", port=free_port(),
        extra_args=("--max-batch", "4", "--max-len", "128"), log_path=str(log), startup_timeout_s=300,
    )
    with SGLangServer(cfg) as srv:
        yield srv


@pytest.mark.slow
def test_update_pause_continue_serves_the_new_weights(server, cfg, v0_dir, tmp_path):
    weights_dir = tmp_path / "weights"
    with SGLangEngine([server.url], model_cfg=cfg, weights_dir=weights_dir, keep_versions=2) as engine:
        before = engine.generate(PROMPTS, GREEDY)
        _assert_serves(before, PROMPTS, v0_dir)

        for version in (1, 2, 3):
            path = engine.update_weights(init_params(cfg, jax.random.PRNGKey(version)), version)
            after = engine.generate(PROMPTS, GREEDY)
            _assert_serves(after, PROMPTS, path)
            assert [r.token_ids for r in after] != [r.token_ids for r in before]
            status, info = post_json(server.url + "/get_model_info", None, 10)
            assert status == 200
            assert (info["model_path"], info["weight_version"]) == (str(path), str(version))
            assert engine.policy_version == version
            before = after
        assert sorted(p.name for p in weights_dir.iterdir()) == ["v00000002", "v00000003"]

        async def episodes():  # the asyncio face gives the same samples
            return await asyncio.gather(*(engine.generate_async(p, GREEDY) for p in PROMPTS))

        assert [r.token_ids for r in asyncio.run(episodes())] == [r.token_ids for r in before]


@pytest.mark.slow
def test_paused_server_holds_requests_until_continue(server):
    with SGLangEngine([server.url], request_timeout_s=60) as engine, \
            concurrent.futures.ThreadPoolExecutor(1) as client:
        expected = engine.generate([PROMPTS[0]], GREEDY)[0]
        assert post_json(server.url + "/pause_generation", {"mode": "retract"}, 10)[0] == 200
        try:
            pending = client.submit(engine.generate, [PROMPTS[0]], GREEDY)
            with pytest.raises(concurrent.futures.TimeoutError):
                pending.result(timeout=1.5)
        finally:
            assert post_json(server.url + "/continue_generation", {}, 10)[0] == 200
        assert pending.result(timeout=60)[0].token_ids == expected.token_ids


@pytest.mark.slow
def test_failed_update_reports_and_leaves_the_server_serving(server, tmp_path):
    with SGLangEngine([server.url], request_timeout_s=60) as engine:
        expected = engine.generate(PROMPTS, GREEDY)
        _, info_before = post_json(server.url + "/get_model_info", None, 10)
        with pytest.raises(SGLangRequestError, match="failed"):
            engine.update_weights_from_disk(tmp_path / "does_not_exist", 99)
        _, info_after = post_json(server.url + "/get_model_info", None, 10)
        assert info_after["weight_version"] == info_before["weight_version"]
        started = time.monotonic()
        again = engine.generate(PROMPTS, GREEDY)  # not left paused
        assert time.monotonic() - started < 30
        assert [r.token_ids for r in again] == [r.token_ids for r in expected]


@pytest.mark.slow
def test_every_server_is_updated_and_requests_spread_round_robin(cfg, v0_dir, tmp_path):
    servers = [CompatServer(build_jax_service(str(v0_dir), max_batch=4, max_len=128)).start_in_thread()
               for _ in range(2)]
    try:
        urls = [s.url for s in servers]
        with SGLangEngine(urls, model_cfg=cfg, weights_dir=tmp_path / "w", max_in_flight=2) as engine:
            path = engine.update_weights(init_params(cfg, jax.random.PRNGKey(7)), 7)
            for s in servers:  # each server, asked directly, serves the new weights
                with SGLangEngine([s.url]) as direct:
                    _assert_serves(direct.generate(PROMPTS[:2], GREEDY), PROMPTS[:2], path)
            counts_before = [s.service.requests_served for s in servers]
            engine.generate(PROMPTS[:2] * 2, GREEDY)
            assert [s.service.requests_served - c for s, c in zip(servers, counts_before)] == [2, 2]
    finally:
        for s in servers:
            s.stop()
