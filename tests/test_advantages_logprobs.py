"""Advantages, the dynamic-sampling filter, chunked log-probs and the SFT loss against NumPy."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from codegym_jax.rl import advantages, logprobs, sft
from tolerances import assert_within_rounding


def test_group_advantages_match_numpy():
    r = np.array([[1, 0, 0, 1], [1, 1, 1, 1], [0, 0, 1, 0]], np.float32)
    mean = r.mean(1, keepdims=True)
    std = r.std(1, keepdims=True)
    np.testing.assert_allclose(advantages.group_advantages(jnp.asarray(r), "grpo"), (r - mean) / (std + 1e-6), rtol=1e-6)
    np.testing.assert_allclose(advantages.group_advantages(jnp.asarray(r), "grpo_no_std"), r - mean)
    np.testing.assert_allclose(advantages.group_advantages(jnp.asarray(r), "drgrpo"), r - mean)
    loo = np.array([[r[i, j] - (r[i].sum() - r[i, j]) / 3 for j in range(4)] for i in range(3)])
    np.testing.assert_allclose(advantages.group_advantages(jnp.asarray(r), "rloo"), loo, rtol=1e-6)
    # An all-equal group has zero advantage in every mode.
    for mode in ("grpo", "grpo_no_std", "rloo", "drgrpo"):
        np.testing.assert_allclose(advantages.group_advantages(jnp.asarray(r), mode)[1], 0.0, atol=1e-6)


def test_dynamic_sampling_drops_uniform_groups():
    r = jnp.array([[1, 0, 0], [1, 1, 1], [0, 0, 0], [0, 0, 1]])
    assert advantages.informative_groups(r).tolist() == [True, False, False, True]


def test_bad_modes_are_errors():
    with pytest.raises(ValueError, match="unknown advantage mode 'ppo'"):
        advantages.group_advantages(jnp.zeros((2, 2)), "ppo")
    with pytest.raises(ValueError, match="rloo needs at least 2"):
        advantages.group_advantages(jnp.zeros((2, 1)), "rloo")


def test_logprobs_and_entropy_match_numpy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 5, 11)).astype(np.float32)
    y = rng.integers(0, 11, (2, 5))
    z = logits - logits.max(-1, keepdims=True)
    logp_all = z - np.log(np.exp(z).sum(-1, keepdims=True))
    lp, ent = logprobs.logprobs_from_logits(jnp.asarray(logits), jnp.asarray(y))
    # float32 on both sides: an 11-way log-sum-exp and entropy sum, within 2 x 11 roundings of
    # the logits' magnitude.
    scale = float(np.abs(logits).max())
    assert_within_rounding(lp, np.take_along_axis(logp_all, y[..., None], -1)[..., 0], 2 * 11, scale, "log-probs")
    assert_within_rounding(ent, -(np.exp(logp_all) * logp_all).sum(-1), 2 * 11, scale, "entropy")


@pytest.mark.parametrize("chunk", [1, 4, 16, 64])
def test_chunked_logprobs_equal_full_values_and_gradients(chunk):
    h = jax.random.normal(jax.random.key(1), (2, 37, 16))
    w = jax.random.normal(jax.random.key(2), (16, 50))
    y = jax.random.randint(jax.random.key(3), (2, 37), 0, 50)

    def total(fn, h, w):
        lp, ent = fn(h, w)
        return jnp.sum(lp) + 0.1 * jnp.sum(ent)

    full = lambda h, w: logprobs.logprobs_from_logits(h @ w, y)  # noqa: E731
    chunked = lambda h, w: logprobs.chunked_logprobs(h, w, y, chunk)  # noqa: E731
    # Other shapes, the same math: values within the 16-term logits and 50-way log-sum-exp (each
    # side) of rounding; gradients within that and the sum over the 74 tokens (for w).
    terms = 2 * (16 + 50)
    for a, b, what in zip(full(h, w), chunked(h, w), ("log-probs", "entropy")):
        assert_within_rounding(b, a, terms, float(jnp.max(jnp.abs(h @ w))), what)
    ga = jax.grad(lambda h, w: total(full, h, w), argnums=(0, 1))(h, w)
    gb = jax.grad(lambda h, w: total(chunked, h, w), argnums=(0, 1))(h, w)
    for a, b, what in zip(ga, gb, ("d/dh", "d/dw")):
        assert_within_rounding(b, a, 2 * terms + 2 * 37, what=what)


def test_chunked_logprobs_never_build_the_whole_logits_tensor():
    b, t, d, v, chunk = 2, 256, 8, 4096, 16
    h, w = jnp.ones((b, t, d)), jnp.ones((d, v))
    y = jnp.zeros((b, t), jnp.int32)
    # Forward and backward: outside the scan over chunks no value is anywhere near [B, T, V].
    jaxpr = jax.make_jaxpr(jax.grad(lambda h: jnp.sum(logprobs.chunked_logprobs(h, w, y, chunk)[0])))(h)
    sizes = [int(np.prod(var.aval.shape)) for eqn in jaxpr.eqns for var in eqn.outvars if hasattr(var.aval, "shape")]
    assert max(sizes) < b * t * v // 8, f"a [B, T, V]-scale value appears: {max(sizes)} elements"


def test_sft_loss_is_masked_mean_with_global_denominator():
    lp = jnp.array([[-1.0, -2.0, -3.0], [-4.0, -5.0, -6.0]])
    mask = jnp.array([[1, 0, 1], [0, 1, 0]])
    assert float(sft.sft_loss(lp, mask, 3.0)) == pytest.approx((1 + 3 + 5) / 3)
    halves = sft.sft_loss(lp[:1], mask[:1], 3.0) + sft.sft_loss(lp[1:], mask[1:], 3.0)
    assert float(halves) == pytest.approx((1 + 3 + 5) / 3)
