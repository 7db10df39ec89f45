"""Policy losses, aggregation modes, KL estimators and clipping against independent NumPy code."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from codegym_jax.rl import losses
from codegym_jax.rl.losses import LossConfig


def np_loss(logp, old, adv, mask, cfg: LossConfig, sampler=None, ref=None, entropy=None):
    """Straightforward NumPy version, one sequence and one token at a time."""
    B, T = logp.shape
    per = np.zeros((B, T))
    for b in range(B):
        n = mask[b].sum()
        seq_lr = sum((logp[b, t] - old[b, t]) for t in range(T) if mask[b, t]) / max(n, 1)
        for t in range(T):
            r = np.exp(seq_lr) if cfg.policy_loss == "gspo" else np.exp(logp[b, t] - old[b, t])
            a = adv[b, t]
            v = max(-a * r, -a * min(max(r, 1 - cfg.clip_low), 1 + cfg.clip_high))
            if cfg.dual_clip and a < 0:
                v = min(v, -a * cfg.dual_clip)
            if cfg.tis_cap:
                v *= min(np.exp(old[b, t] - sampler[b, t]), cfg.tis_cap)
            if cfg.kl_coef:
                x = ref[b, t] - logp[b, t]
                kl = {"k1": -x, "k2": 0.5 * x * x, "k3": np.exp(x) - x - 1}[cfg.kl_estimator]
                v += cfg.kl_coef * kl
            if cfg.entropy_coef:
                v -= cfg.entropy_coef * entropy[b, t]
            per[b, t] = v
    seqs = [b for b in range(B) if mask[b].any()]
    if cfg.aggregation == "token-mean":
        return (per * mask).sum() / mask.sum()
    if cfg.aggregation == "seq-mean-token-mean":
        return sum((per[b] * mask[b]).sum() / mask[b].sum() for b in seqs) / len(seqs)
    if cfg.aggregation == "seq-mean-token-sum":
        return sum((per[b] * mask[b]).sum() for b in seqs) / len(seqs)
    return (per * mask).sum() / (len(seqs) * cfg.constant_normaliser)


def random_inputs(seed=0, B=5, T=7):
    rng = np.random.default_rng(seed)
    logp = rng.normal(-2, 0.5, (B, T))
    old = logp + rng.normal(0, 0.3, (B, T))
    mask = (rng.random((B, T)) > 0.3).astype(np.float64)
    mask[-1] = 0  # an empty sequence must not count
    adv = np.repeat(rng.normal(size=(B, 1)), T, 1)
    return logp, old, adv, mask, rng.normal(-2, 0.5, (B, T)), rng.normal(-2, 0.5, (B, T)), rng.random((B, T))


CONFIGS = {
    "ppo-token-mean": LossConfig(),
    "dapo-clip-higher": LossConfig(clip_high=0.28),
    "dual-clip": LossConfig(dual_clip=3.0, clip_low=0.1),
    "gspo-seq-mean-token-mean": LossConfig(policy_loss="gspo", clip_low=3e-2, clip_high=4e-2,
                                           aggregation="seq-mean-token-mean"),
    "seq-mean-token-sum": LossConfig(aggregation="seq-mean-token-sum"),
    "drgrpo-constant": LossConfig(aggregation="constant-normaliser", constant_normaliser=16.0),
    "kl-k1": LossConfig(kl_coef=0.1, kl_estimator="k1"),
    "kl-k2": LossConfig(kl_coef=0.1, kl_estimator="k2"),
    "kl-k3-entropy": LossConfig(kl_coef=0.05, kl_estimator="k3", entropy_coef=0.01),
    "tis": LossConfig(tis_cap=1.5),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_loss_matches_numpy_reference(name):
    cfg = CONFIGS[name]
    logp, old, adv, mask, sampler, ref, ent = random_inputs()
    # In float64 on both sides, so the comparison is of the math, not of float32 rounding: a sum
    # of 35 terms is within 35 x 2.2e-16 of their magnitudes; 1e-12 of the loss leaves three
    # orders of magnitude for cancellation between terms of either sign.
    with jax.enable_x64(True):
        denom = losses.loss_denominator(jnp.asarray(mask), cfg)
        f = jax.jit(lambda *a: losses.policy_loss(*a, cfg=cfg, denominator=denom, sampler_logp_BxT=sampler,
                                                      ref_logp_BxT=ref, entropy_BxT=ent)[0])
        ours = f(*(jnp.asarray(x, jnp.float64) for x in (logp, old, adv, mask)))
        assert ours.dtype == jnp.float64
    np.testing.assert_allclose(ours, np_loss(logp, old, adv, mask, cfg, sampler, ref, ent), rtol=1e-12)


@pytest.mark.parametrize("name", ["ppo-token-mean", "gspo-seq-mean-token-mean", "kl-k3-entropy", "dual-clip"])
def test_gradient_matches_finite_differences(name):
    cfg = CONFIGS[name]
    logp, old, adv, mask, sampler, ref, ent = random_inputs(1, B=3, T=4)
    denom = float(losses.loss_denominator(jnp.asarray(mask), cfg))
    x64 = lambda a: jnp.asarray(a, jnp.float64)  # noqa: E731
    with jax.enable_x64(True):
        f = lambda lp: losses.policy_loss(lp, x64(old), x64(adv), x64(mask), cfg, denom, x64(sampler),  # noqa: E731
                                          x64(ref), x64(ent))[0]
        grad = np.asarray(jax.grad(f)(x64(logp)))
        eps = 1e-6
        fd = np.zeros_like(logp)
        for idx in np.ndindex(logp.shape):
            up, down = logp.copy(), logp.copy()
            up[idx] += eps
            down[idx] -= eps
            fd[idx] = (float(f(x64(up))) - float(f(x64(down)))) / (2 * eps)
    # Central differences at h = 1e-6 in float64: truncation ~h^2 x the third derivative ~ 1e-12,
    # cancellation ~2.2e-16 x |loss| / h ~ 1e-9; 1e-6 bounds both.
    np.testing.assert_allclose(grad, fd, atol=1e-6)


def test_clipping_at_the_boundaries():
    cfg = LossConfig(clip_low=0.2, clip_high=0.28)
    old = jnp.zeros((1, 6))
    # ratios just inside and outside each boundary
    ratio = jnp.array([[0.79, 0.81, 1.27, 1.29, 1.0, 1.5]])
    logp = jnp.log(ratio)
    mask = jnp.ones((1, 6))
    for sign in (1.0, -1.0):
        adv = jnp.full((1, 6), sign)
        g = jax.grad(lambda lp: losses.policy_loss(lp, old, adv, mask, cfg, 1.0)[0])(logp)
        # A > 0: gradient vanishes once ratio > 1 + clip_high; A < 0: once ratio < 1 - clip_low.
        live = np.asarray(g != 0)[0]
        expected = [True, True, True, False, True, False] if sign > 0 else [False, True, True, True, True, True]
        assert live.tolist() == expected, (sign, live)


def test_dual_clip_bounds_negative_advantage_loss():
    cfg = LossConfig(dual_clip=3.0)
    logp = jnp.log(jnp.array([[10.0]]))
    loss, _ = losses.policy_loss(logp, jnp.zeros((1, 1)), -jnp.ones((1, 1)), jnp.ones((1, 1)), cfg, 1.0)
    assert float(loss) == pytest.approx(3.0)


def test_global_denominator_makes_split_batches_add_up():
    for name, cfg in CONFIGS.items():
        with jax.enable_x64(True):  # float64, as above: the sums' order is all that differs
            logp, old, adv, mask, sampler, ref, ent = (jnp.asarray(x, jnp.float64) for x in random_inputs(2, B=6))
            denom = losses.loss_denominator(mask, cfg)
            full = losses.policy_loss(logp, old, adv, mask, cfg, denom, sampler, ref, ent)[0]
            parts = sum(losses.policy_loss(logp[i:i + 2], old[i:i + 2], adv[i:i + 2], mask[i:i + 2], cfg, denom,
                                           sampler[i:i + 2], ref[i:i + 2], ent[i:i + 2])[0] for i in (0, 2, 4))
        np.testing.assert_allclose(parts, full, rtol=1e-12, err_msg=name)


def test_bad_settings_are_errors():
    with pytest.raises(ValueError, match="dual_clip must be > 1"):
        LossConfig(dual_clip=0.5)
    x = jnp.zeros((1, 2))
    with pytest.raises(ValueError, match="no reference log-probs"):
        losses.policy_loss(x, x, x, x + 1, LossConfig(kl_coef=0.1), 1.0)
    with pytest.raises(ValueError, match="no sampler log-probs"):
        losses.policy_loss(x, x, x, x + 1, LossConfig(tis_cap=2.0), 1.0)
    with pytest.raises(AssertionError, match="shape"):
        losses.policy_loss(x, jnp.zeros((2, 2)), x, x, LossConfig(), 1.0)
