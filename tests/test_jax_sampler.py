"""JaxSampler on a tiny random Qwen2 made with transformers: greedy decoding equals transformers'
greedy `generate`, sampled log-probs equal the learner's recomputed ones (fp32, <= 1e-4), slots
refill, stop tokens, seeds, weight swaps, async batching."""

import asyncio

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from codegym_jax.models import qwen
from codegym_jax.models.hf_io import load_hf_model
from codegym_jax.rollout.engine import RolloutEngine, SamplingParams
from codegym_jax.rollout.jax_sampler import JaxSampler
from model_fixtures import hf_logprob_rows
from tolerances import assert_greedy_tokens, assert_within, logprob_bound

PROMPTS = [[5, 6, 7, 8, 9], [11, 3], [40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57],
           [2], [100, 90, 80, 70]]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         tie_word_embeddings=False)
    model = Qwen2ForCausalLM(config).eval()
    with torch.no_grad():  # sharper distributions than the 0.02-std init, so greedy ties are unlikely
        for p in model.parameters():
            p.mul_(6.0 if p.dim() > 1 else 1.0)
    path = tmp_path_factory.mktemp("tiny_qwen2")
    model.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def hf_model(model_dir):
    from transformers import Qwen2ForCausalLM

    return Qwen2ForCausalLM.from_pretrained(model_dir, torch_dtype="float32").eval()


@pytest.fixture(scope="module")
def model(model_dir):
    return load_hf_model(model_dir)


@pytest.fixture(scope="module")
def sampler(model):
    cfg, params = model
    with JaxSampler(cfg, params, max_batch=2, max_len=64, decode_chunk=4) as s:
        yield s


def learner_logprobs(cfg, params, tokens, temperature=1.0):
    """log p(tokens[i] | tokens[:i]) from one full forward, as the learner recomputes them, and
    how far another program's log-probs of them may be by rounding."""
    n = len(tokens)
    width = -(-n // 64) * 64  # right padding to a few lengths, so a few compiles serve every test
    ids = np.zeros((1, width), np.int32)
    ids[0, :n] = tokens
    logits = _jitted_forward(params, cfg, jnp.asarray(ids), jnp.arange(width)[None],
                             jnp.asarray(np.arange(width) < n, jnp.int32)[None])[0][0, :n] / temperature
    logp = jax.nn.log_softmax(logits, axis=-1)
    bound = logprob_bound(cfg, width, float(jnp.max(jnp.abs(logits))))
    return np.asarray(logp[jnp.arange(n - 1), jnp.asarray(tokens[1:])]), bound


_jitted_forward = jax.jit(qwen.forward, static_argnums=(1,))


def assert_greedy_like_transformers(cfg, params, hf_model, prompt, res):
    """Each greedy token is transformers' argmax after the same prefix (up to near-ties of two
    forwards' rounding), with transformers' log-prob and the learner's."""
    full = list(prompt) + list(res.token_ids)
    ref, bound = learner_logprobs(cfg, params, full)
    rows, _ = hf_logprob_rows(hf_model, full)
    assert_greedy_tokens(res.token_ids, rows[len(prompt) - 1:-1], bound, f"prompt {prompt}", res.logprobs)
    assert_within(res.logprobs, ref[len(prompt) - 1:], bound, "vs the learner")


def assert_same_greedy(got, want, bound, what):
    """Two greedy results of programs of other shapes: the same tokens, with log-probs within
    `bound`, up to a near-tie (where they part, each program's pick scored within 2 x bound of the
    other's); past one they continue other prefixes."""
    for i, (a, b) in enumerate(zip(got.token_ids, want.token_ids)):
        gap = abs(got.logprobs[i] - want.logprobs[i])
        if a != b:
            assert gap <= 2 * bound, f"{what}: token {i} is {a} against {b}, log-probs {gap:.3g} apart"
            return
        assert gap <= bound, f"{what}: token {i}'s log-probs are {gap:.3g} apart, past {bound:.3g}"
    assert len(got.token_ids) == len(want.token_ids), what


def test_greedy_matches_transformers(sampler, model, hf_model):
    assert isinstance(sampler, RolloutEngine)
    results = sampler.generate(PROMPTS, SamplingParams(max_new_tokens=12, greedy=True))
    for prompt, res in zip(PROMPTS, results):
        assert_greedy_like_transformers(*model, hf_model, prompt, res)
        assert res.finish_reason == "length" and len(res.token_ids) == 12


def test_long_sequences_past_the_first_attention_window_match_transformers(model, hf_model):
    # Decode chunks attend over the first 128 cache slots until the furthest running slot
    # passes them, then over 256: sequences of 170+ tokens cross that boundary, side by side
    # with a shorter one whose slot never needs the wider window.
    cfg, params = model
    prompts = [PROMPTS[2], PROMPTS[0], PROMPTS[3]]
    new = [150, 40, 160]
    with JaxSampler(cfg, params, max_batch=3, max_len=256, decode_chunk=8) as s:
        futures = [s.submit(p, SamplingParams(max_new_tokens=n, greedy=True)) for p, n in zip(prompts, new)]
        results = [f.result() for f in futures]
    for prompt, n, res in zip(prompts, new, results):
        assert len(res.token_ids) == n
        assert_greedy_like_transformers(cfg, params, hf_model, prompt, res)


def test_sampled_logprobs_equal_learner_recomputation(sampler, model):
    cfg, params = model
    for temperature in (1.0, 0.7):
        sampling = SamplingParams(max_new_tokens=10, temperature=temperature, top_p=0.9, top_k=20, seed=5)
        for prompt, res in zip(PROMPTS, sampler.generate(PROMPTS, sampling)):
            assert len(res.token_ids) == len(res.logprobs) == 10
            ref, bound = learner_logprobs(cfg, params, prompt + list(res.token_ids), temperature)
            assert_within(res.logprobs, ref[len(prompt) - 1:], bound, f"T={temperature} {prompt}")


def test_stop_tokens_end_a_sequence(sampler):
    free = sampler.generate([PROMPTS[0]], SamplingParams(max_new_tokens=12, greedy=True))[0].token_ids
    stop = free[4]
    res = sampler.generate([PROMPTS[0]], SamplingParams(max_new_tokens=12, greedy=True, stop_token_ids=(stop,)))[0]
    assert res.finish_reason == "stop"
    assert list(res.token_ids) == list(free[:free.index(stop) + 1])


def test_seeds_make_samples_reproducible_independent_of_batch(sampler, model):
    sampling = SamplingParams(max_new_tokens=8, temperature=1.0, seed=123)
    alone = sampler.generate([PROMPTS[1]], sampling)[0]
    batched = sampler.generate([PROMPTS[0], PROMPTS[1], PROMPTS[2]], sampling)[1]
    # The same draws: a token could differ only where a uniform draw fell within rounding of a
    # boundary of the cumulative distribution (the two prefills have other shapes).
    assert alone.token_ids == batched.token_ids
    _, bound = learner_logprobs(*model, PROMPTS[1] + list(alone.token_ids))
    assert_within(alone.logprobs, batched.logprobs, 2 * bound, "alone vs batched")
    unseeded = [r.token_ids for r in sampler.generate([PROMPTS[1]] * 4, SamplingParams(max_new_tokens=8))]
    assert len(set(unseeded)) > 1


def test_cache_budget_ends_with_length(model):
    cfg, params = model
    with JaxSampler(cfg, params, max_batch=1, max_len=16, decode_chunk=4) as s:
        res = s.generate([PROMPTS[0]], SamplingParams(max_new_tokens=100, greedy=True))[0]
    assert res.finish_reason == "length" and len(res.token_ids) == 16 - len(PROMPTS[0])
    with pytest.raises(ValueError, match="no room"):
        s.submit(list(range(16)), SamplingParams())


def test_update_weights_swaps_params(model):
    cfg, params = model
    with JaxSampler(cfg, params, max_batch=2, max_len=32) as s:
        before = s.generate(PROMPTS[:2], SamplingParams(max_new_tokens=6, greedy=True))
        shifted = jax.tree.map(lambda x: x, params)
        shifted["embed"] = params["embed"][::-1]
        s.update_weights(shifted, version=1)
        after = s.generate(PROMPTS[:2], SamplingParams(max_new_tokens=6, greedy=True))
        assert s.version == 1 and before != after
        ref, bound = learner_logprobs(cfg, shifted, PROMPTS[0] + list(after[0].token_ids))
        assert_within(after[0].logprobs, ref[len(PROMPTS[0]) - 1:], bound, "after the swap")
        with pytest.raises(ValueError, match="structure"):
            s.update_weights({"embed": params["embed"]}, version=2)


def test_async_requests_share_slots(model):
    cfg, params = model
    with JaxSampler(cfg, params, max_batch=3, max_len=48) as s:
        greedy = SamplingParams(max_new_tokens=9, greedy=True)
        expected = s.generate(PROMPTS, greedy)

        async def many():
            return await asyncio.gather(*(s.generate_async(p, greedy) for p in PROMPTS * 2))

        results = asyncio.run(many())
    # Log-probs agree to float rounding (prefill shapes differ with the batch); greedy tokens are
    # the same up to near-ties within that rounding.
    for prompt, got, want in zip(PROMPTS * 2, results, expected * 2):
        _, bound = learner_logprobs(cfg, params, prompt + list(want.token_ids))
        assert_same_greedy(got, want, 2 * bound, f"prompt {prompt}")


@pytest.mark.parametrize("vocabulary", ["project_bpe", "qwen2.5"])
def test_agent_loop_trajectories_carry_the_learners_logprobs(vocabulary):
    """End to end: JaxSampler + chat format + real sandbox. The model is random except that
    <|im_end|> gets ~15% probability everywhere (embeddings share a constant direction that the
    <|im_end|> unembedding column is aligned with), so episodes have several closed turns with
    observations in between. On every sampled token the trajectory's sampler log-prob equals the
    learner's log-prob recomputed from the whole buffer. Twice: on an 800-token project BPE, and
    on Qwen2.5's vocabulary with its model's 151,936 embedding rows (ids past 2**16, and rows past
    the tokenizer's 151,665 tokens, as a real Qwen2.5 folder has)."""
    import os

    from codegym_jax.envs.tool_docs import extract_env_spec
    from codegym_jax.models.config import DecoderConfig
    from codegym_jax.rollout.agent_loop import EpisodeConfig, EpisodeTask, run_groups
    from codegym_jax.rollout.tokenizer import build_bpe_tokenizer, project_texts
    from sandbox.async_sandbox import AsyncSandbox
    from sandbox.pool import SandboxPool

    if vocabulary == "qwen2.5":
        from qwen2_vocab import MODEL_VOCAB_SIZE, qwen25_tokenizer

        tokenizer, vocab_size = qwen25_tokenizer(), MODEL_VOCAB_SIZE
    else:
        tokenizer = build_bpe_tokenizer(project_texts(), vocab_size=800)
        vocab_size = len(tokenizer)
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    cfg = DecoderConfig(vocab_size=vocab_size, hidden_size=64, intermediate_size=128, num_layers=2,
                      num_heads=4, num_kv_heads=2, head_dim=16)
    params = qwen.init_params(cfg, jax.random.PRNGKey(0))
    params["embed"] = params["embed"] + 0.5 * jax.random.normal(jax.random.PRNGKey(1), (cfg.hidden_size,))
    probe = jnp.arange(64)[None] * 7 % cfg.vocab_size
    hidden, _ = qwen.forward_hidden(params, cfg, probe, jnp.arange(64)[None])
    direction = hidden[0].mean(0)
    boost = float(np.log(0.18 * cfg.vocab_size))  # ~15% against the vocabulary's other logits near 0
    params["lm_head"] = params["lm_head"].at[:, im_end].set(boost * direction / jnp.dot(direction, direction))

    library = os.path.join(os.path.dirname(__file__), "..", "codegym_jax", "envs", "library")
    episode_cfg = EpisodeConfig(max_tool_calls=3, max_new_tokens_per_turn=24, max_total_tokens=2048)
    with SandboxPool() as pool, JaxSampler(cfg, params, max_batch=4, max_len=2048) as sampler:
        tasks = []
        for seed, name in enumerate(["jump_game_env.py", "valid_palindrome_env.py"]):
            with open(os.path.join(library, name)) as f:
                source = f.read()
            env_str = pool.call_function(source, "generate", seed, "easy")
            tasks.append(EpisodeTask(source, env_str, extract_env_spec(source).task_description))
        trajectories, metrics = asyncio.run(run_groups(
            sampler, AsyncSandbox(pool), tokenizer, tasks, 2, SamplingParams(temperature=1.0, seed=3), episode_cfg))
    assert metrics["rollout/episodes"] == 4
    assert sum(len(t.turn_spans) for t in trajectories) > 4  # some episodes went past one turn
    sampled_ids = np.concatenate([t.tokens[t.loss_mask > 0] for t in trajectories])
    assert sampled_ids.max() < cfg.vocab_size and (vocabulary != "qwen2.5" or sampled_ids.max() >= 2**16)
    for traj in trajectories:
        assert traj.termination in ("parse_error", "max_turns", "max_tokens", "context")
        tokens = traj.tokens.tolist()
        ref, bound = learner_logprobs(cfg, params, tokens)
        sampled = np.flatnonzero(traj.loss_mask)
        assert_within(traj.sampler_logprobs[sampled], ref[sampled - 1], bound, traj.env_str)


def test_next_turn_reuses_the_slot_cache(model):
    """A prompt extending a finished sequence prefills only its new tokens, and gives the same
    result as a sampler that prefills it from scratch; a weight swap invalidates the reuse."""
    cfg, params = model
    greedy = SamplingParams(max_new_tokens=6, greedy=True)
    with JaxSampler(cfg, params, max_batch=2, max_len=64) as s, \
            JaxSampler(cfg, params, max_batch=2, max_len=64) as fresh:
        first = s.generate([PROMPTS[2]], greedy)[0]
        follow = PROMPTS[2] + list(first.token_ids) + [7, 8, 9]
        s.stats.update(prefill_tokens=0, reused_tokens=0)
        again = s.generate([follow], greedy)[0]
        assert s.stats == {"prefill_tokens": 3, "reused_tokens": len(follow) - 4}
        ref = fresh.generate([follow], greedy)[0]
        _, bound = learner_logprobs(cfg, params, follow + list(ref.token_ids))
        assert_same_greedy(again, ref, 2 * bound, "reused vs fresh")
        s.update_weights(jax.tree.map(lambda x: x * 1.0, params), version=1)
        s.stats.update(prefill_tokens=0, reused_tokens=0)
        s.generate([follow + list(again.token_ids)], greedy)
        assert s.stats["reused_tokens"] == 0
