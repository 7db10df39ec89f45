"""Oracle runs in the sandbox become chat transcripts with the agent loop's exact token layout."""
from __future__ import annotations

import pytest

from codegym_jax.envs.library import library_env_files
from codegym_jax.envs.tool_docs import extract_env_spec
from codegym_jax.rollout import tokenizer as tk
from codegym_jax.rollout.agent_loop import EpisodeConfig, EpisodeTask
from codegym_jax.rollout.chat_format import decode, initial_messages, render
from codegym_jax.rollout.oracle_transcripts import oracle_trajectories, oracle_trajectory
from codegym_jax.rollout.tool_calls import parse_tool_call
from sandbox.pool import SandboxPool


@pytest.fixture(scope="module", params=["project_bpe", "qwen2.5"])
def tokenizer(request):
    """A 1,024-token BPE trained on project text, and Qwen2.5's own vocabulary, where
    <|FunctionCallBegin|> is plain text over several tokens and <tool_call> one added token."""
    if request.param == "qwen2.5":
        from qwen2_vocab import qwen25_tokenizer

        return qwen25_tokenizer()
    return tk.build_bpe_tokenizer(tk.project_texts(), vocab_size=1024)


@pytest.fixture(scope="module")
def pool():
    with SandboxPool() as p:
        yield p


@pytest.fixture(scope="module")
def tasks(pool):
    out = []
    for path in list(library_env_files().values())[:4]:
        source = path.read_text()
        env_str = pool.call_function(source, "generate", 1, "easy")
        out.append(EpisodeTask(source, env_str, extract_env_spec(source).task_description))
    return out


@pytest.mark.parametrize("fmt", ["codegym", "native"])
def test_transcripts_replay_the_oracle_in_the_policy_format(pool, tokenizer, tasks, fmt):
    trajs = oracle_trajectories(pool, tokenizer, tasks, EpisodeConfig(chat_format=fmt))
    assert len(trajs) == len(tasks)
    for task, traj in zip(tasks, trajs):
        oracle = pool.run_oracle(task.env_source, task.env_str)
        spec = extract_env_spec(task.env_source)
        # The buffer is the chat template's rendering of the transcript's messages (the template
        # adds a newline after the final <|im_end|>, where the policy stops).
        _, tools = initial_messages(spec, task.task_description, fmt)
        rendered = render(tokenizer, traj.messages, tools, add_generation_prompt=False)
        assert rendered == decode(tokenizer, traj.tokens) + "\n"
        # Loss mask: exactly the assistant turns, each parsing back to the oracle's call.
        masked = [i for i, m in enumerate(traj.loss_mask) if m]
        assert masked == [i for s, e in traj.turn_spans for i in range(s, e)]
        calls = []
        for s, e in traj.turn_spans:
            text = decode(tokenizer, traj.tokens[s:e - 1])
            parsed = parse_tool_call(text, fmt, [t.name for t in spec.tools])
            assert parsed.error is None, parsed.error
            calls.append(parsed.action)
        assert calls == [{"name": a["name"], "parameters": a.get("parameters", {})} for a in oracle.actions]
        assert traj.reward == 1.0 and traj.termination == "done"
        assert traj.num_tool_calls == oracle.steps


def test_transcripts_over_budget_are_dropped(pool, tokenizer, tasks):
    oracle = pool.run_oracle(tasks[0].env_source, tasks[0].env_str)
    tight_calls = EpisodeConfig(max_tool_calls=oracle.steps - 1)
    assert oracle_trajectory(tokenizer, tasks[0], oracle.actions, oracle.observations, tight_calls) is None
    tight_context = EpisodeConfig(max_total_tokens=300)
    assert oracle_trajectory(tokenizer, tasks[0], oracle.actions, oracle.observations, tight_context) is None
    with pytest.raises(ValueError, match="oracle actions but"):
        oracle_trajectory(tokenizer, tasks[0], oracle.actions, oracle.observations[:-1], EpisodeConfig())
