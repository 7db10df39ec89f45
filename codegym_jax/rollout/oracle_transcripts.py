"""Oracle trajectories as chat transcripts: the SFT warm start (and the paper's oracle-SFT baseline).

Each task's oracle `solve()` runs in the sandbox; its tool calls become assistant turns in the
chosen tool-call format and its observations tool turns, laid out by the same TokenBuffer the
agent loop uses, so SFT trains on exactly the token layout the policy later samples in.
"""
from __future__ import annotations

import numpy as np

from codegym_jax.envs.tool_docs import extract_env_spec
from codegym_jax.rollout.agent_loop import EpisodeConfig, EpisodeTask, opening_messages, truncate_observation
from codegym_jax.rollout.chat_format import TokenBuffer
from codegym_jax.rollout.tool_calls import format_call
from codegym_jax.rollout.trajectory import Trajectory


def oracle_trajectory(tokenizer, task: EpisodeTask, actions: list[dict], observations: list[str],
                      cfg: EpisodeConfig, group_id: int = 0) -> Trajectory | None:
    """The transcript of one oracle run; None when it does not fit `cfg`'s budgets."""
    if len(actions) != len(observations):
        raise ValueError(f"{len(actions)} oracle actions but {len(observations)} observations")
    if len(actions) > cfg.max_tool_calls:
        return None
    spec = extract_env_spec(task.env_source)
    messages, tools = opening_messages(spec, task, cfg)
    buf = TokenBuffer(tokenizer, messages, tools)
    for i, (action, observation) in enumerate(zip(actions, observations)):
        text = format_call(action["name"], action.get("parameters", {}), cfg.chat_format)
        ids = list(tokenizer.encode(text, add_special_tokens=False)) + [buf.turn_end_id]
        if len(ids) > cfg.max_new_tokens_per_turn:
            return None
        buf.append_sampled(ids, [0.0] * len(ids))
        last = i == len(actions) - 1
        if not last:
            shown = truncate_observation(observation, cfg.max_observation_chars)
            if not buf.append_observation(shown, max_len=cfg.max_total_tokens):
                return None
    if len(buf) > cfg.max_total_tokens:
        return None
    return Trajectory(
        tokens=np.asarray(buf.tokens, np.int32),
        loss_mask=np.asarray(buf.loss_mask, np.int32),
        sampler_logprobs=np.asarray(buf.logprobs, np.float32),
        reward=1.0,
        termination="done",
        env_str=task.env_str,
        group_id=group_id,
        policy_version=-1,
        turn_spans=list(buf.turn_spans),
        prompt_len=buf.prompt_len,
        num_tool_calls=len(actions),
        messages=buf.messages,
    )


def oracle_trajectories(pool, tokenizer, tasks: list[EpisodeTask], cfg: EpisodeConfig) -> list[Trajectory]:
    """Runs every task's oracle in the sandbox; keeps solved runs that fit the budgets."""
    out = []
    for i, task in enumerate(tasks):
        result = pool.run_oracle(task.env_source, task.env_str)
        if result.error or result.reward != 1:
            continue
        traj = oracle_trajectory(tokenizer, task, result.actions, result.observations, cfg, group_id=i)
        if traj is not None:
            out.append(traj)
    return out
