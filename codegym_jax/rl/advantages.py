"""Group-relative advantages and the dynamic-sampling filter; rewards are [groups, samples]."""
from __future__ import annotations

from typing import Literal

import chex
import jax
import jax.numpy as jnp

AdvantageMode = Literal["grpo", "grpo_no_std", "rloo", "drgrpo"]


def group_advantages(rewards_NxG: jax.Array, mode: AdvantageMode, eps: float = 1e-6) -> jax.Array:
    """One advantage per episode.

    grpo: (r - mean) / (std + eps); grpo_no_std and drgrpo (Dr.GRPO): r - mean;
    rloo: r minus the mean of the group's other samples.
    """
    chex.assert_rank(rewards_NxG, 2)
    r = rewards_NxG.astype(jnp.float32)
    g = r.shape[1]
    mean = jnp.mean(r, axis=1, keepdims=True)
    if mode == "grpo":
        return (r - mean) / (jnp.std(r, axis=1, keepdims=True) + eps)
    if mode in ("grpo_no_std", "drgrpo"):
        return r - mean
    if mode == "rloo":
        if g < 2:
            raise ValueError(f"rloo needs at least 2 samples per group, got {g}")
        return r - (jnp.sum(r, axis=1, keepdims=True) - r) / (g - 1)
    raise ValueError(f"unknown advantage mode {mode!r}; expected grpo, grpo_no_std, rloo or drgrpo")


def informative_groups(rewards_NxG: jax.Array) -> jax.Array:
    """[N] bool: groups whose rewards are not all equal (the others carry no gradient signal)."""
    chex.assert_rank(rewards_NxG, 2)
    return jnp.any(rewards_NxG != rewards_NxG[:, :1], axis=1)
