"""Multi-turn episodes: engine ⇄ token buffer ⇄ sandbox, many episodes at once on one event loop.

One episode: render the prompt, then per turn generate (stop at <|im_end|>), parse one tool call,
step the env in the sandbox, append the observation delta; until the env is done or a budget runs
out. Generation of one episode overlaps with sandbox steps of the others.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any, Callable, Sequence

import numpy as np

from codegym_jax.envs.tool_docs import extract_env_spec
from codegym_jax.rollout.chat_format import TokenBuffer, initial_messages
from codegym_jax.rollout.engine import SamplingParams, generate_one
from codegym_jax.rollout.tool_calls import parse_tool_call
from codegym_jax.rollout.trajectory import TERMINATIONS, Trajectory
from sandbox.results import InfrastructureError

# Sandbox step errors after which the episode cannot go on (the rest are shown to the model).
_FATAL_ENV_ERRORS = ("crash", "memory", "session_lost", "refused")


@dataclasses.dataclass(frozen=True)
class EpisodeConfig:
    """Budgets and format of one episode.

    chat_format: "codegym" or "native" (docs/architecture.md, "Tool-call formats").
    tool_docs: "full" docstrings in the codegym prompt, or "compact" one-line signatures.
    max_tool_calls: T_max, assistant turns allowed (paper: 256).
    max_new_tokens_per_turn: cap on one turn's sampled tokens.
    max_total_tokens: context budget for the whole buffer (prompt + turns + observations).
    max_observation_chars: longer observations are cut, with a note saying so.
    max_consecutive_parse_errors: this many unparseable turns in a row end the episode.
    episode_timeout_s: wall-clock budget of one episode.
    """

    chat_format: str = "codegym"
    tool_docs: str = "full"
    max_tool_calls: int = 256
    max_new_tokens_per_turn: int = 512
    max_total_tokens: int = 8192
    max_observation_chars: int = 4000
    max_consecutive_parse_errors: int = 3
    episode_timeout_s: float = 600.0


@dataclasses.dataclass(frozen=True)
class EpisodeTask:
    env_source: str
    env_str: str
    task_description: str
    # A released record's own opening messages (codegym format), used instead of the project's.
    prompt: tuple[dict, ...] | None = None


def opening_messages(spec, task: EpisodeTask, cfg: EpisodeConfig) -> tuple[list[dict], list[dict] | None]:
    """(messages, tools) that open the episode: the task's own prompt when it has one (the
    record's messages, exactly, for the chat template to render), else the project's prompt."""
    if task.prompt is None:
        return initial_messages(spec, task.task_description, cfg.chat_format, cfg.tool_docs)
    if cfg.chat_format != "codegym":
        raise ValueError(f"a task with its own prompt needs chat_format='codegym' (the format released "
                         f"records' prompts ask for), got {cfg.chat_format!r}")
    return [dict(m) for m in task.prompt], None


def truncate_observation(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    return text[:max_chars] + f"\n[observation truncated: {len(text) - max_chars} more characters]"


class _Episode:
    def __init__(self, tokenizer, task: EpisodeTask, cfg: EpisodeConfig):
        spec = extract_env_spec(task.env_source)
        self.tool_names = [t.name for t in spec.tools]
        messages, tools = opening_messages(spec, task, cfg)
        self.buffer = TokenBuffer(tokenizer, messages, tools)
        self.reward = 0.0
        self.num_tool_calls = 0
        self.generate_s = 0.0


async def _play(engine, sandbox, ep: _Episode, task: EpisodeTask, cfg: EpisodeConfig,
                sampling: SamplingParams) -> str:
    """Runs the episode in `ep`; returns the termination reason."""
    buf = ep.buffer
    turn_end = buf.turn_end_id
    stops = tuple(sorted(set(sampling.stop_token_ids) | {turn_end}))
    try:
        session = await sandbox.open_session(task.env_source, task.env_str)
    except InfrastructureError:
        return "infra_error"
    except Exception:  # the env cannot be built: nothing to play
        return "env_error"
    try:
        parse_errors = 0
        for turn in range(cfg.max_tool_calls):
            room = cfg.max_total_tokens - len(buf)
            if room < 1:
                return "context"
            max_new = min(cfg.max_new_tokens_per_turn, room)
            # a seeded episode gets a different (still deterministic) seed per turn, so turns do
            # not reuse one random stream
            seed = None if sampling.seed is None else (sampling.seed * 1_000_003 + turn) % (1 << 31)
            turn_sampling = dataclasses.replace(sampling, max_new_tokens=max_new, stop_token_ids=stops, seed=seed)
            t0 = time.perf_counter()
            result = await generate_one(engine, buf.tokens, turn_sampling)
            ep.generate_s += time.perf_counter() - t0
            text = buf.append_sampled(result.token_ids, result.logprobs)
            if not result.token_ids or result.token_ids[-1] != turn_end:
                if result.finish_reason == "abort":
                    return "env_error"
                return "context" if max_new < cfg.max_new_tokens_per_turn else "max_tokens"
            parsed = parse_tool_call(text, cfg.chat_format, ep.tool_names)
            if parsed.action is None:
                parse_errors += 1
                if parse_errors >= cfg.max_consecutive_parse_errors:
                    return "parse_error"
                observation = parsed.error
            else:
                parse_errors = 0
                ep.num_tool_calls += 1
                try:
                    step = await sandbox.step(session, parsed.action)
                except InfrastructureError:
                    return "infra_error"
                ep.reward = float(step.reward)
                if step.done:
                    if step.error == "max_steps":
                        return "max_turns"
                    if step.error in _FATAL_ENV_ERRORS:
                        return "env_error"
                    return "done"
                if step.error in _FATAL_ENV_ERRORS:
                    return "env_error"
                observation = step.observation
            observation = truncate_observation(observation, cfg.max_observation_chars)
            if not buf.append_observation(observation, max_len=cfg.max_total_tokens):
                return "context"
        return "max_turns"
    finally:
        try:
            await sandbox.close_session(session)
        except Exception:
            pass


async def run_episode(engine, sandbox, tokenizer, task: EpisodeTask, sampling: SamplingParams,
                      cfg: EpisodeConfig = EpisodeConfig(), group_id: int = 0,
                      policy_version: int = 0) -> Trajectory:
    """One episode against `sandbox` (an AsyncSandbox). Never raises for model or env behaviour."""
    start = time.perf_counter()
    ep = _Episode(tokenizer, task, cfg)
    try:
        termination = await asyncio.wait_for(_play(engine, sandbox, ep, task, cfg, sampling),
                                             cfg.episode_timeout_s)
    except asyncio.TimeoutError:
        termination = "timeout"
    buf = ep.buffer
    return Trajectory(
        tokens=np.asarray(buf.tokens, np.int32),
        loss_mask=np.asarray(buf.loss_mask, np.int32),
        sampler_logprobs=np.asarray(buf.logprobs, np.float32),
        reward=ep.reward if termination == "done" else 0.0,
        termination=termination,
        env_str=task.env_str,
        group_id=group_id,
        policy_version=policy_version,
        turn_spans=list(buf.turn_spans),
        prompt_len=buf.prompt_len,
        num_tool_calls=ep.num_tool_calls,
        messages=buf.messages,
        wall_s=time.perf_counter() - start,
        generate_s=ep.generate_s,
    )


async def run_groups(engine, sandbox, tokenizer, tasks: Sequence[EpisodeTask], samples_per_task: int,
                     sampling: SamplingParams, cfg: EpisodeConfig = EpisodeConfig(),
                     policy_version: int = 0, max_concurrent: int = 64,
                     on_episode: Callable[[Trajectory], None] | None = None,
                     ) -> tuple[list[Trajectory], dict[str, Any]]:
    """G = samples_per_task episodes for each of B tasks, all in flight together (at most
    max_concurrent). Trajectories come back grouped: task i's are [i*G, (i+1)*G), group_id i.
    Seeds: sample g of task i uses sampling.seed + i*G + g when a seed is set.
    on_episode: called with each trajectory as it finishes (progress bars)."""
    gate = asyncio.Semaphore(max_concurrent)

    async def one(i: int, g: int) -> Trajectory:
        s = sampling
        if s.seed is not None:
            s = dataclasses.replace(s, seed=s.seed + i * samples_per_task + g)
        async with gate:
            trajectory = await run_episode(engine, sandbox, tokenizer, tasks[i], s, cfg, i, policy_version)
        if on_episode is not None:
            on_episode(trajectory)
        return trajectory

    start = time.perf_counter()
    trajectories = await asyncio.gather(*(one(i, g) for i in range(len(tasks))
                                          for g in range(samples_per_task)))
    return list(trajectories), rollout_metrics(trajectories, time.perf_counter() - start)


def rollout_metrics(trajectories: Sequence[Trajectory], wall_s: float) -> dict[str, Any]:
    n = max(len(trajectories), 1)
    sampled = sum(t.num_sampled for t in trajectories)
    metrics: dict[str, Any] = {
        "rollout/episodes": len(trajectories),
        "rollout/reward_mean": sum(t.reward for t in trajectories) / n,
        "rollout/tool_calls_mean": sum(t.num_tool_calls for t in trajectories) / n,
        "rollout/tokens_mean": sum(len(t.tokens) for t in trajectories) / n,
        "rollout/sampled_tokens": sampled,
        "rollout/wall_s": wall_s,
        "rollout/sampled_tokens_per_s": sampled / wall_s if wall_s > 0 else 0.0,
    }
    total_wall = sum(t.wall_s for t in trajectories)
    if total_wall > 0:
        metrics["rollout/outside_generation_frac"] = 1.0 - sum(t.generate_s for t in trajectories) / total_wall
    for reason in TERMINATIONS:
        metrics[f"rollout/termination_{reason}"] = sum(t.termination == reason for t in trajectories) / n
    return metrics
