"""Trajectories -> learner batches: one episode per row, rows and length padded to buckets.

One episode per row keeps the sequence-level aggregations and GSPO's per-row ratio exact. Rows
are padded to a power-of-two multiple of `row_multiple` (micro-batch rows x data-parallel size)
and the length to a power-of-two multiple of `length_multiple`, so a run compiles its train step
for a handful of shapes instead of one per batch. Padding rows have an all-zero loss mask and
segment 0: they add nothing to the loss, its denominators or the gradients.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from codegym_jax.buckets import bucket
from codegym_jax.rollout.trajectory import Trajectory


def _empty(rows: int, length: int) -> dict[str, np.ndarray]:
    return {
        "tokens_BxL": np.zeros((rows, length), np.int32),
        "positions_BxL": np.zeros((rows, length), np.int32),
        "segment_ids_BxL": np.zeros((rows, length), np.int32),
        "loss_mask_BxL": np.zeros((rows, length), np.int32),
        "sampler_logprobs_BxL": np.zeros((rows, length), np.float32),
    }


def trajectory_batch(trajectories: Sequence[Trajectory], row_multiple: int = 1, length_multiple: int = 128,
                     max_length: int | None = None) -> dict[str, np.ndarray]:
    """Token arrays [B, L] of `trajectories`, row i = trajectory i (the rest padding).

    An episode longer than `max_length` is an error (the agent loop's context budget keeps them
    within it), never silently cut."""
    if not trajectories:
        raise ValueError("no trajectories to batch")
    longest = max(len(t.tokens) for t in trajectories)
    if max_length is not None and longest > max_length:
        raise ValueError(f"an episode has {longest} tokens, more than max_length={max_length}")
    rows = bucket(len(trajectories), row_multiple)
    length = bucket(longest, length_multiple, max_length)
    batch = _empty(rows, length)
    for i, t in enumerate(trajectories):
        n = len(t.tokens)
        batch["tokens_BxL"][i, :n] = t.tokens
        batch["positions_BxL"][i, :n] = np.arange(n)
        batch["segment_ids_BxL"][i, :n] = 1
        batch["loss_mask_BxL"][i, :n] = t.loss_mask
        batch["sampler_logprobs_BxL"][i, :n] = t.sampler_logprobs
    return batch


def rl_batch(trajectories: Sequence[Trajectory], advantages: Sequence[float], row_multiple: int = 1,
             length_multiple: int = 128, max_length: int | None = None) -> dict[str, np.ndarray]:
    """The RL batch: each episode's advantage on all its tokens (the mask selects the sampled
    ones); old log-probs start as the sampler's (the caller may replace them by a recompute)."""
    if len(advantages) != len(trajectories):
        raise ValueError(f"{len(trajectories)} trajectories but {len(advantages)} advantages")
    batch = trajectory_batch(trajectories, row_multiple, length_multiple, max_length)
    adv = np.zeros(batch["tokens_BxL"].shape, np.float32)
    for i, (t, a) in enumerate(zip(trajectories, advantages)):
        adv[i, :len(t.tokens)] = a
    batch["advantages_BxL"] = adv
    batch["old_logprobs_BxL"] = batch["sampler_logprobs_BxL"].copy()
    return batch


def split_into_mini_batches(items: Sequence, mini_batch_size: int) -> list[list]:
    """Consecutive mini-batches of at most `mini_batch_size` items (the last may be smaller)."""
    if mini_batch_size < 1:
        raise ValueError(f"mini_batch_size must be >= 1, got {mini_batch_size}")
    return [list(items[i:i + mini_batch_size]) for i in range(0, len(items), mini_batch_size)]
