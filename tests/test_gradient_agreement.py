"""The gradient-agreement diagnostic: its statistics against the signal-plus-noise model they
assume, and its policy gradient against one taken independently (log-softmax of qwen.forward's
logits)."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from codegym_jax.models import qwen
from codegym_jax.models.config import DecoderConfig
from codegym_jax.rl.losses import LossConfig
from experiments.research import gradient_agreement as GA
from tolerances import assert_trees_within, gradient_terms, rounding_bound, tree_max_abs

CFG = DecoderConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_layers=2,
                  num_heads=4, num_kv_heads=2, head_dim=8)


def signal_plus_noise(ratio: float, dims: int = 20_000, groups: int = 40, seed: int = 0):
    """grad_of(ids) = sum over ids of (s + n_i), |s|^2 = ratio * E|n_i|^2."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=dims)
    signal *= np.sqrt(ratio * dims) / np.linalg.norm(signal)
    noise = rng.normal(size=(groups, dims))
    return lambda ids: sum(signal + noise[i] for i in ids)


@pytest.mark.parametrize("half", [4, 16])
def test_cosines_follow_k_r_over_one_plus_k_r(half):
    ratio = 0.05
    cos = GA.gradient_cosines(signal_plus_noise(ratio), range(40), half, repeats=4, rng=np.random.default_rng(1))
    expected = half * ratio / (1 + half * ratio)
    assert abs(np.mean(cos) - expected) < 0.03, (cos, expected)
    # and the extrapolation recovers 1 / ratio groups for signal to equal noise
    assert abs(GA.groups_for_even_signal(half, float(np.mean(cos))) - 1 / ratio) < 0.25 / ratio


def test_pure_noise_and_pure_signal():
    noise_only = GA.gradient_cosines(signal_plus_noise(0.0), range(40), 8, repeats=4, rng=np.random.default_rng(2))
    assert max(abs(c) for c in noise_only) < 0.05
    assert GA.groups_for_even_signal(8, -0.01) == float("inf")
    same = GA.gradient_cosines(lambda ids: np.ones(5) * len(ids), range(4), 2, repeats=2, rng=np.random.default_rng(3))
    assert same == pytest.approx([1.0, 1.0])
    assert GA.groups_for_even_signal(2, 1.0) == 0.0


def test_half_sizes_and_bad_input():
    assert GA.half_sizes(30) == [1, 2, 4, 8]
    assert GA.half_sizes(2) == [1] and GA.half_sizes(1) == []
    with pytest.raises(ValueError, match="two halves of 4 groups need 8 groups, got 6"):
        GA.gradient_cosines(lambda ids: np.ones(3), range(6), 4, repeats=1, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="a zero gradient"):
        GA.gradient_cosines(lambda ids: np.zeros(3), range(4), 1, repeats=1, rng=np.random.default_rng(0))


def one_row_batch(tokens, mask, advantage):
    L = len(tokens)
    return {
        "tokens_BxL": jnp.asarray([tokens], jnp.int32),
        "positions_BxL": jnp.arange(L, dtype=jnp.int32)[None],
        "segment_ids_BxL": jnp.ones((1, L), jnp.int32),
        "loss_mask_BxL": jnp.asarray([mask], jnp.int32),
        "advantages_BxL": jnp.full((1, L), advantage, jnp.float32),
        "sampler_logprobs_BxL": jnp.zeros((1, L), jnp.float32),
    }


def test_policy_gradient_is_minus_advantage_times_mean_logprob_gradient():
    params = qwen.init_params(CFG, jax.random.key(0))
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, CFG.vocab_size, 10).tolist()
    mask = [0, 0, 0, 1, 1, 1, 0, 1, 1, 1]  # the sampled tokens; targets are tokens[1:]
    loss_cfg = LossConfig(aggregation="token-mean", kl_coef=0.05)  # as the default; no reference needed
    # Jitted: op by op, the scanned layers' gradients take seconds each.
    policy_gradient = jax.jit(GA.policy_gradient, static_argnums=(1, 3, 4))
    got = policy_gradient(params, CFG, one_row_batch(tokens, mask, 0.7), loss_cfg, 1.0)

    def mean_logprob(p):
        logits, _ = qwen.forward(p, CFG, jnp.asarray([tokens[:-1]]), jnp.arange(9)[None])
        logp = jax.nn.log_softmax(logits[0], axis=-1)[jnp.arange(9), jnp.asarray(tokens[1:])]
        m = jnp.asarray(mask[1:], jnp.float32)
        return jnp.sum(logp * m) / jnp.sum(m)

    want = jax.tree.map(lambda g: -0.7 * g, jax.jit(jax.grad(mean_logprob))(params))
    # Two programs computing one gradient: within a backward's rounding of its largest entry.
    bound = rounding_bound(gradient_terms(CFG, 9, 9), tree_max_abs(want))
    assert_trees_within(got, want, bound, "policy gradient")
    # Opposite advantages on the same episode cancel: the two rows' gradients are each within
    # rounding of the exact one, so their sum is within twice that of zero.
    both = {k: jnp.concatenate([v, w]) for (k, v), w in
            zip(one_row_batch(tokens, mask, 1.0).items(), one_row_batch(tokens, mask, -1.0).values())}
    zero = policy_gradient(params, CFG, both, loss_cfg, 1.0)
    assert_trees_within(zero, jax.tree.map(jnp.zeros_like, zero), 2 * bound / 0.7, "opposite advantages")
