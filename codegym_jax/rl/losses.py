"""Policy-gradient losses as pure functions, with global denominators.

Every per-token array is [B, T] and aligned with the learner's targets. A loss is
`sum over tokens / denominator`, where the denominator comes from `loss_denominator` over the
WHOLE batch before any micro-batching, so summing micro-batch losses gives the full-batch loss
whatever the micro-batch size, accumulation steps or device count.
"""
from __future__ import annotations

import dataclasses
from typing import Literal

import chex
import jax
import jax.numpy as jnp

Aggregation = Literal["token-mean", "seq-mean-token-mean", "seq-mean-token-sum", "constant-normaliser"]


@dataclasses.dataclass(frozen=True)
class LossConfig:
    """Policy loss settings; defaults are the paper's GRPO (clip 0.2, no KL, no entropy bonus)."""

    # "ppo": per-token clipped ratio; "gspo": sequence-level ratio (length-normalised).
    policy_loss: Literal["ppo", "gspo"] = "ppo"
    clip_low: float = 0.2
    # DAPO clip-higher: clip_high > clip_low.
    clip_high: float = 0.2
    # Dual-clip constant c > 1 bounds the loss of negative-advantage tokens at c * |A|; 0 = off.
    dual_clip: float = 0.0
    aggregation: Aggregation = "token-mean"
    # Dr.GRPO's constant: tokens per sequence the sum is divided by (e.g. the max response length).
    constant_normaliser: float = 1024.0
    kl_coef: float = 0.0
    kl_estimator: Literal["k1", "k2", "k3"] = "k3"
    entropy_coef: float = 0.0
    # Truncated importance weight min(pi_old / pi_sampler, cap) for sampler-learner mismatch; 0 = off.
    tis_cap: float = 0.0

    def __post_init__(self):
        if self.clip_low < 0 or self.clip_high < 0:
            raise ValueError(f"clip ranges must be >= 0, got {self.clip_low}, {self.clip_high}")
        if self.dual_clip and self.dual_clip <= 1:
            raise ValueError(f"dual_clip must be > 1 (or 0 to disable), got {self.dual_clip}")


def loss_denominator(mask_BxT: jax.Array, cfg: LossConfig) -> jax.Array:
    """The global normaliser of `aggregate` for this (whole) batch."""
    mask = mask_BxT.astype(jnp.float32)
    if cfg.aggregation == "token-mean":
        total = jnp.sum(mask)
    else:
        sequences = jnp.sum(jnp.any(mask_BxT > 0, axis=-1).astype(jnp.float32))
        total = sequences * (cfg.constant_normaliser if cfg.aggregation == "constant-normaliser" else 1.0)
    return jnp.maximum(total, 1.0)


def aggregate(values_BxT: jax.Array, mask_BxT: jax.Array, cfg: LossConfig, denominator: jax.Array) -> jax.Array:
    """Masked sum of per-token values under `cfg.aggregation`, divided by the global denominator."""
    chex.assert_equal_shape([values_BxT, mask_BxT])
    mask = mask_BxT.astype(jnp.float32)
    per_seq = jnp.sum(values_BxT * mask, axis=-1)
    if cfg.aggregation == "seq-mean-token-mean":
        per_seq = per_seq / jnp.maximum(jnp.sum(mask, axis=-1), 1.0)
    return jnp.sum(per_seq) / denominator


def kl_penalty(logp_BxT: jax.Array, ref_logp_BxT: jax.Array, estimator: str) -> jax.Array:
    """Per-token KL(pi || ref) estimates from samples of pi (Schulman's k1, k2, k3)."""
    log_ratio = ref_logp_BxT - logp_BxT
    if estimator == "k1":
        return -log_ratio
    if estimator == "k2":
        return 0.5 * jnp.square(log_ratio)
    if estimator == "k3":
        return jnp.exp(log_ratio) - log_ratio - 1.0
    raise ValueError(f"unknown kl estimator {estimator!r}; expected k1, k2 or k3")


def importance_ratio(logp_BxT, old_logp_BxT, mask_BxT, cfg: LossConfig) -> jax.Array:
    """pi/pi_old per token ("ppo"), or the length-normalised sequence ratio per token ("gspo")."""
    log_ratio = (logp_BxT - old_logp_BxT) * mask_BxT
    if cfg.policy_loss == "ppo":
        return jnp.exp(log_ratio)
    if cfg.policy_loss == "gspo":
        lengths = jnp.maximum(jnp.sum(mask_BxT, axis=-1, keepdims=True), 1.0)
        seq_log_ratio = jnp.sum(log_ratio, axis=-1, keepdims=True) / lengths
        # Value: the sequence ratio on every token; gradient: flows through the mean log-ratio.
        return jnp.exp(seq_log_ratio) * jnp.ones_like(logp_BxT)
    raise ValueError(f"unknown policy_loss {cfg.policy_loss!r}; expected ppo or gspo")


def policy_loss(
    logp_BxT: jax.Array,
    old_logp_BxT: jax.Array,
    advantages_BxT: jax.Array,
    mask_BxT: jax.Array,
    cfg: LossConfig,
    denominator: jax.Array,
    sampler_logp_BxT: jax.Array | None = None,
    ref_logp_BxT: jax.Array | None = None,
    entropy_BxT: jax.Array | None = None,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Clipped policy-gradient loss and its token-sums for metrics (divide by token count)."""
    chex.assert_equal_shape([logp_BxT, old_logp_BxT, advantages_BxT, mask_BxT])
    mask = mask_BxT.astype(jnp.float32)
    ratio = importance_ratio(logp_BxT, old_logp_BxT, mask, cfg)
    clipped = jnp.clip(ratio, 1.0 - cfg.clip_low, 1.0 + cfg.clip_high)
    unclipped_loss = -advantages_BxT * ratio
    clipped_loss = -advantages_BxT * clipped
    per_token = jnp.maximum(unclipped_loss, clipped_loss)
    if cfg.dual_clip:
        dual = jnp.minimum(per_token, -advantages_BxT * cfg.dual_clip)
        per_token = jnp.where(advantages_BxT < 0, dual, per_token)
    if cfg.tis_cap:
        if sampler_logp_BxT is None:
            raise ValueError("tis_cap is set but no sampler log-probs were given")
        weight = jnp.minimum(jnp.exp(old_logp_BxT - sampler_logp_BxT), cfg.tis_cap)
        per_token = per_token * jax.lax.stop_gradient(weight)
    sums = {
        "clip_fraction": jnp.sum((clipped_loss > unclipped_loss) * mask),
        "approx_kl": jnp.sum(0.5 * jnp.square(logp_BxT - old_logp_BxT) * mask),
        "ratio": jnp.sum(ratio * mask),
        "tokens": jnp.sum(mask),
    }
    if cfg.kl_coef:
        if ref_logp_BxT is None:
            raise ValueError("kl_coef is set but no reference log-probs were given")
        kl = kl_penalty(logp_BxT, ref_logp_BxT, cfg.kl_estimator)
        per_token = per_token + cfg.kl_coef * kl
        sums["kl_ref"] = jnp.sum(kl * mask)
    if entropy_BxT is not None:
        sums["entropy"] = jnp.sum(entropy_BxT * mask)
        if cfg.entropy_coef:
            per_token = per_token - cfg.entropy_coef * entropy_BxT
    return aggregate(per_token, mask, cfg, denominator), sums
