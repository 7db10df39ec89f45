"""One RL step on a list of episodes: rewards -> group advantages -> dynamic-sampling filter ->
shuffled mini-batches with old (and reference) log-probs -> one optimizer update each.

The episodes come grouped as the agent loop returns them (task i's `group_size` episodes at
[i*G, (i+1)*G)). Nothing here samples or talks to an engine: a test can call `rl_step` with a
hand-made trajectory list, and the RL stage calls it with the rollout's.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Literal, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from codegym_jax.rl import advantages, batches, learner
from codegym_jax.rl.objectives import LossFn
from codegym_jax.rollout.trajectory import Trajectory

Batch = dict[str, Any]
TrainStepFn = Callable[[learner.TrainState, Batch], tuple[learner.TrainState, dict[str, jax.Array]]]
LogprobFn = Callable[[Any, Batch], jax.Array]


@dataclasses.dataclass(frozen=True)
class RLStepSettings:
    """How one step turns episodes into updates (the RL stage fills it from the experiment config)."""

    # Episodes per task, as rolled out.
    group_size: int
    # Episodes per optimizer update.
    mini_batch_size: int
    advantage: Literal["grpo", "grpo_no_std", "rloo", "drgrpo"] = "grpo"
    # Drop groups whose rewards are all equal (no learning signal).
    dynamic_sampling: bool = True
    # Old log-probs of the clipped ratio recomputed by the learner (else the sampler's).
    recompute_old_logprobs: bool = True
    # Batch rows are padded to a power-of-two multiple of this (micro-batch rows x data-parallel size).
    row_multiple: int = 1
    length_multiple: int = 256
    # The longest episode the context budget allows (an error beyond it, never a silent cut).
    max_length: int | None = None


class RLStepOutcome(NamedTuple):
    rewards_NxG: np.ndarray
    informative_N: np.ndarray
    episodes_trained: int
    # One dict of device scalars per update, not yet pulled to the host (`update_summary`).
    update_metrics: list[dict[str, jax.Array]]
    # Groups left out because an episode met an infrastructure failure (not the policy's).
    infra_groups: int = 0


def infra_groups(trajectories: Sequence[Trajectory], group_size: int) -> np.ndarray:
    """[N] bool: group i has an episode the sandbox could not serve (`infra_error`)."""
    return np.array([t.termination == "infra_error" for t in trajectories], bool).reshape(-1, group_size).any(axis=1)


def group_episodes(trajectories: Sequence[Trajectory], group_size: int, mode: str, dynamic_sampling: bool):
    """(kept [(trajectory, advantage)], rewards [N, G], informative mask [N])."""
    if not trajectories or len(trajectories) % group_size:
        raise ValueError(f"{len(trajectories)} episodes do not form groups of {group_size}")
    rewards_NxG = np.array([t.reward for t in trajectories], np.float32).reshape(-1, group_size)
    adv_NxG = np.asarray(advantages.group_advantages(jnp.asarray(rewards_NxG), mode))
    informative = np.asarray(advantages.informative_groups(jnp.asarray(rewards_NxG)))
    # An infrastructure failure's reward 0 says nothing about the policy: its whole group is
    # left out (its advantages would be relative to that 0).
    lost = infra_groups(trajectories, group_size)
    kept = []
    for i in range(rewards_NxG.shape[0]):
        if lost[i] or (dynamic_sampling and not informative[i]):
            continue
        for g in range(group_size):
            kept.append((trajectories[i * group_size + g], float(adv_NxG[i, g])))
    return kept, rewards_NxG, informative


def rl_step(state: learner.TrainState, trajectories: Sequence[Trajectory], settings: RLStepSettings,
            train_step: TrainStepFn, logprob_fn: LogprobFn, rng: np.random.Generator,
            ref_params: Any = None) -> tuple[learner.TrainState, RLStepOutcome]:
    """The updates of one RL step. `rng` shuffles the kept episodes before they are cut into
    mini-batches; `ref_params` (the KL penalty's reference policy) adds reference log-probs.
    Every mini-batch's old log-probs are taken before the first update, so all of them are
    the rollout policy's."""
    s = settings
    kept, rewards_NxG, informative = group_episodes(trajectories, s.group_size, s.advantage, s.dynamic_sampling)
    update_metrics = []
    if kept:
        kept = [kept[i] for i in rng.permutation(len(kept))]
        mini = []
        for chunk in batches.split_into_mini_batches(kept, s.mini_batch_size):
            b = batches.rl_batch([k[0] for k in chunk], [k[1] for k in chunk], s.row_multiple,
                                 s.length_multiple, s.max_length)
            if s.recompute_old_logprobs:
                b["old_logprobs_BxL"] = logprob_fn(state.params, b)
            if ref_params is not None:
                b["ref_logprobs_BxL"] = logprob_fn(ref_params, b)
            mini.append(b)
        for b in mini:
            state, m = train_step(state, b)
            update_metrics.append(m)
    return state, RLStepOutcome(rewards_NxG, informative, len(kept), update_metrics,
                                int(infra_groups(trajectories, s.group_size).sum()))


def update_summary(outcome: RLStepOutcome) -> dict[str, float]:
    """The step's host-side metrics; pulls the updates' metrics (call after dispatching the next
    work, so the pull does not idle the accelerator)."""
    pulled = jax.device_get(outcome.update_metrics)
    row = {
        "reward_mean": float(outcome.rewards_NxG.mean()),
        "groups_informative_frac": float(outcome.informative_N.mean()),
        "episodes_trained": outcome.episodes_trained,
        "groups_infra_error": outcome.infra_groups,
        "updates": len(pulled),
    }
    if pulled:
        for key in pulled[0]:
            row[f"update/{key}"] = float(np.mean([m[key] for m in pulled]))
    return row


def train_steps_by_rows(optimizer, loss_fn: LossFn, shardings: learner.TrainState, mesh: jax.sharding.Mesh,
                        micro_batch_size: int) -> TrainStepFn:
    """train_step(state, batch) for batches of any bucketed row count: each count is jitted
    once, as `rows // micro_batch_size` accumulated micro-batches."""
    compiled: dict[int, TrainStepFn] = {}

    def train_step(state, batch):
        rows = batch["tokens_BxL"].shape[0]
        if rows % micro_batch_size:
            raise ValueError(f"batch of {rows} rows is not a multiple of micro_batch_size={micro_batch_size}")
        micro = rows // micro_batch_size
        if micro not in compiled:
            compiled[micro] = learner.jit_train_step(learner.make_train_step(optimizer, loss_fn, micro),
                                                     shardings, mesh)
        return compiled[micro](state, batch)

    return train_step
