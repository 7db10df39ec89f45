"""Evaluation of a policy on task instances: success, pass@k, tool calls against the oracle's,
termination reasons, by difficulty and by environment; and one row per episode.

The same agent loop as training runs the episodes (so eval measures exactly what RL optimises);
only the sampling differs (eval's temperature, greedy by default).
"""
from __future__ import annotations

import asyncio
import collections
import math
from typing import Any, Callable, Sequence

import numpy as np

from codegym_jax.envs.tasks import TaskInstance
from codegym_jax.rollout.agent_loop import EpisodeConfig, EpisodeTask, run_groups
from codegym_jax.rollout.engine import SamplingParams
from codegym_jax.rollout.trajectory import TERMINATIONS, Trajectory


def episode_tasks(tasks: Sequence[TaskInstance]) -> list[EpisodeTask]:
    """Task instances as the agent loop's tasks (each env file read once)."""
    sources: dict[str, str] = {}
    out = []
    for t in tasks:
        if t.env_file not in sources:
            sources[t.env_file] = t.read_source()
        out.append(EpisodeTask(sources[t.env_file], t.env_str, t.task_description or "",
                               tuple(t.prompt) if t.prompt is not None else None))
    return out


def pass_at_k(num_samples: int, num_correct: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct: 1 - C(n-c, k) / C(n, k)."""
    if not 1 <= k <= num_samples:
        raise ValueError(f"pass@k needs 1 <= k <= samples, got k={k}, samples={num_samples}")
    if num_samples - num_correct < k:
        return 1.0
    return 1.0 - math.comb(num_samples - num_correct, k) / math.comb(num_samples, k)


def summarize(tasks: Sequence[TaskInstance], trajectories: Sequence[Trajectory], samples_per_task: int,
              pass_k: Sequence[int] = (1,)) -> dict[str, Any]:
    """Flat metrics plus per-difficulty and per-env tables; trajectories are grouped per task
    (task i's samples at [i*G, (i+1)*G))."""
    if len(trajectories) != len(tasks) * samples_per_task:
        raise ValueError(f"{len(trajectories)} trajectories for {len(tasks)} tasks x {samples_per_task} samples")
    rewards_NxG = np.array([t.reward for t in trajectories], np.float64).reshape(len(tasks), samples_per_task)
    calls = np.array([t.num_tool_calls for t in trajectories], np.float64)
    out: dict[str, Any] = {
        "episodes": len(trajectories),
        "tasks": len(tasks),
        "success": float(rewards_NxG.mean()) if len(tasks) else 0.0,
        "tool_calls_mean": float(calls.mean()) if len(calls) else 0.0,
        "tokens_mean": float(np.mean([len(t.tokens) for t in trajectories])) if trajectories else 0.0,
    }
    if len(tasks):
        correct_N = (rewards_NxG > 0).sum(axis=1)
        for k in pass_k:
            out[f"pass@{k}"] = float(np.mean([pass_at_k(samples_per_task, int(c), k) for c in correct_N]))
    oracle = np.repeat([t.oracle_steps or 0 for t in tasks], samples_per_task).astype(np.float64)
    solved = np.array([t.reward > 0 for t in trajectories])
    if solved.any() and (oracle[solved] > 0).all():
        # >1: the agent used more calls than the oracle on tasks it solved.
        out["solved_tool_calls_over_oracle"] = float(np.mean(calls[solved] / oracle[solved]))
    out["oracle_steps_mean"] = float(oracle.mean()) if len(oracle) else 0.0
    for reason in TERMINATIONS:
        out[f"termination_{reason}"] = float(np.mean([t.termination == reason for t in trajectories])) \
            if trajectories else 0.0
    for key, name in (("difficulty", "by_difficulty"), ("env_key", "by_env")):
        groups: dict[str, list[float]] = collections.defaultdict(list)
        for i, task in enumerate(tasks):
            groups[str(getattr(task, key))].extend(rewards_NxG[i].tolist())
        out[name] = {g: {"success": float(np.mean(v)), "episodes": len(v)} for g, v in sorted(groups.items())}
    return out


def _last_content(t: Trajectory, role: str) -> str | None:
    for m in reversed(t.messages):
        if m["role"] == role:
            return str(m.get("content") or "")
    return None


def episode_records(tasks: Sequence[TaskInstance], trajectories: Sequence[Trajectory],
                    samples_per_task: int) -> list[dict[str, Any]]:
    """One JSON-able row per episode (grouped as in `summarize`): which task and sample, how it
    ended, its last action and its last observation (for an episode ending in `Done`, the one
    the answer followed), and every action it took, so failures and procedures can be counted
    without reading transcripts."""
    if len(trajectories) != len(tasks) * samples_per_task:
        raise ValueError(f"{len(trajectories)} trajectories for {len(tasks)} tasks x {samples_per_task} samples")
    rows = []
    for i, t in enumerate(trajectories):
        task = tasks[i // samples_per_task]
        actions = [str(m.get("content") or "") for m in t.messages if m["role"] == "assistant"]
        rows.append({
            "task": i // samples_per_task, "sample": i % samples_per_task, "env_name": task.env_name,
            "code_id": task.code_id, "env_str": task.env_str, "difficulty": task.difficulty, "reward": float(t.reward),
            "termination": t.termination, "tool_calls": t.num_tool_calls, "oracle_steps": task.oracle_steps,
            "tokens": len(t.tokens), "sampled_tokens": int(t.num_sampled),
            "last_action": actions[-1] if actions else None, "last_observation": _last_content(t, "tool"),
            "actions": actions,
        })
    return rows


def evaluate(engine, sandbox, tokenizer, tasks: Sequence[TaskInstance], episode_cfg: EpisodeConfig,
             sampling: SamplingParams, samples_per_task: int = 1, pass_k: Sequence[int] = (1,),
             max_concurrent: int = 64, progress: Callable[[Trajectory], None] | None = None,
             ) -> tuple[dict[str, Any], list[Trajectory]]:
    """(summary, trajectories) of `samples_per_task` episodes per task. `sandbox` is an AsyncSandbox."""
    trajectories, _ = asyncio.run(run_groups(
        engine, sandbox, tokenizer, episode_tasks(tasks), samples_per_task, sampling, episode_cfg,
        policy_version=-1, max_concurrent=max_concurrent, on_episode=progress))
    return summarize(tasks, trajectories, samples_per_task, pass_k), trajectories


def eval_subset(tasks: Sequence[TaskInstance], num_tasks: int, seed: int) -> list[TaskInstance]:
    """A fixed, seeded subset of `num_tasks` tasks (all when 0 or more than there are),
    balanced over environments by taking them round-robin from shuffled per-env lists."""
    if num_tasks <= 0 or num_tasks >= len(tasks):
        return list(tasks)
    rng = np.random.default_rng(seed)
    by_env: dict[str, list[TaskInstance]] = collections.defaultdict(list)
    for t in tasks:
        by_env[t.env_key].append(t)
    queues = [list(rng.permutation(len(v))) for v in by_env.values()]
    lists = list(by_env.values())
    out: list[TaskInstance] = []
    while len(out) < num_tasks:
        for env_tasks, queue in zip(lists, queues):
            if queue and len(out) < num_tasks:
                out.append(env_tasks[queue.pop()])
    return out
