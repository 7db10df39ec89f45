"""Oracle transcripts of built-in environments written from given calls and replies, without a
sandbox run, for tests that look at what a model does on each token of a real transcript; and the
tools an environment's own oracle calls, run in-process."""
from __future__ import annotations

import json

from codegym_jax.envs.library import library_env_files
from codegym_jax.envs.tool_docs import extract_env_spec
from codegym_jax.rollout.agent_loop import EpisodeConfig, EpisodeTask
from codegym_jax.rollout.oracle_transcripts import oracle_trajectory


def library_transcript(tokenizer, env_name: str, instance: dict, actions: list[dict],
                       observations: list[str]):
    """The compact-docs transcript of `env_name@instance` with these tool calls and replies."""
    source = library_env_files()[env_name].read_text()
    task = EpisodeTask(source, f"{env_name}@{json.dumps(instance)}",
                       extract_env_spec(source).task_description)
    return oracle_trajectory(tokenizer, task, actions, observations, EpisodeConfig(tool_docs="compact"))


def oracle_calls(env) -> list[str]:
    """Runs `env.solve()` in-process and returns the names of the tools it called, in order."""
    calls, step = [], env.step

    def recorded(action):
        calls.append(json.loads(action)["name"])
        return step(action)

    env.step = recorded
    env.solve()
    return calls
