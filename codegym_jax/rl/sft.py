"""Masked cross-entropy for SFT warm starts (and the paper's oracle-SFT baseline)."""
from __future__ import annotations

import chex
import jax
import jax.numpy as jnp


def sft_loss(logp_BxT: jax.Array, mask_BxT: jax.Array, denominator: jax.Array) -> jax.Array:
    """-sum(log p * mask) / denominator; pass the WHOLE batch's mask sum as the denominator so
    micro-batch losses add up to the full-batch loss."""
    chex.assert_equal_shape([logp_BxT, mask_BxT])
    return -jnp.sum(logp_BxT * mask_BxT.astype(jnp.float32)) / denominator
