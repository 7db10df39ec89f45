"""Episodes against the real sandbox and built-in envs, driven by scripted policies: fixed token
sequences fed through the engine interface (a legitimate policy: the loop cannot tell)."""

import asyncio
import functools
import os
import re
import time

import numpy as np
import pytest

from codegym_jax.envs.tool_docs import extract_env_spec
from codegym_jax.rollout.agent_loop import EpisodeConfig, EpisodeTask, run_episode, run_groups
from codegym_jax.rollout.chat_format import decode, render
from codegym_jax.rollout.engine import GenerateResult, RolloutEngine, SamplingParams
from codegym_jax.rollout.tokenizer import build_bpe_tokenizer, project_texts
from codegym_jax.rollout.tool_calls import format_call
from sandbox.async_sandbox import AsyncSandbox
from sandbox.limits import SandboxLimits
from sandbox.pool import SandboxPool

LIBRARY = os.path.join(os.path.dirname(__file__), "..", "codegym_jax", "envs", "library")
ENVS = ["jump_game_env.py", "valid_palindrome_env.py", "merge_intervals_env.py"]


@functools.cache
def tokenizer():
    return build_bpe_tokenizer(project_texts(), vocab_size=800)


def source(name):
    with open(os.path.join(LIBRARY, name)) as f:
        return f.read()


@pytest.fixture(scope="module")
def pool():
    with SandboxPool(limits=SandboxLimits(max_steps=40)) as p:
        yield p


class ScriptedEngine:
    """Answers each prompt with the next fixed token sequence of the episode it belongs to.
    The episode is recognised by a "[episode K]" tag in its task text; the turn by how many
    assistant turns the prompt already holds."""

    def __init__(self, scripts, delay_s=0.0, finish="stop"):
        self.scripts = scripts  # K -> list of token-id lists
        self.delay_s = delay_s
        self.prompts = []
        self.seeds = []

    def generate(self, prompt_token_ids_batch, sampling):
        results = []
        for prompt in prompt_token_ids_batch:
            self.prompts.append(list(prompt))
            self.seeds.append(sampling.seed)
            text = decode(tokenizer(), prompt)
            key = int(re.search(r"\[episode (\d+)\]", text).group(1))
            turn = text.count("<|im_start|>assistant") - 1
            script = self.scripts[key]
            tokens = list(script[min(turn, len(script) - 1)])[: sampling.max_new_tokens]
            stop = bool(tokens) and tokens[-1] in sampling.stop_token_ids
            logprobs = [-0.1 - 0.01 * i for i in range(len(tokens))]
            results.append(GenerateResult(tokens, logprobs, "stop" if stop else "length"))
        time.sleep(self.delay_s)
        return results

    def update_weights(self, params, version):
        pass


def turn_tokens(text, close=True):
    tok = tokenizer()
    ids = tok.encode(text, add_special_tokens=False)
    return ids + ([tok.convert_tokens_to_ids("<|im_end|>")] if close else [])


def oracle_task(pool, name, seed, key):
    src = source(name)
    env_str = pool.call_function(src, "generate", seed, "easy")
    oracle = pool.run_oracle(src, env_str)
    assert oracle.reward == 1.0, oracle
    description = extract_env_spec(src).task_description
    return EpisodeTask(src, env_str, f"[episode {key}] {description}"), oracle.actions


def run(coro):
    return asyncio.run(coro)


def check_buffer(traj, script_turns, fmt):
    """Sampled spans hold exactly the scripted tokens; mask and log-probs only there; the buffer is
    the chat template's rendering of the episode's messages."""
    tok = tokenizer()
    assert len(traj.turn_spans) == len(script_turns)
    mask = np.zeros(len(traj.tokens), np.int32)
    for (start, end), sampled in zip(traj.turn_spans, script_turns):
        assert traj.tokens[start:end].tolist() == list(sampled)
        np.testing.assert_allclose(traj.sampler_logprobs[start:end], [-0.1 - 0.01 * i for i in range(end - start)],
                                   rtol=1e-6)
        mask[start:end] = 1
    np.testing.assert_array_equal(traj.loss_mask, mask)
    assert np.all(traj.sampler_logprobs[mask == 0] == 0)
    tools = None
    if fmt == "native":
        from codegym_jax.envs.tool_docs import tool_json_schemas
        tools = tool_json_schemas(extract_env_spec(source(ENVS[0])))
    text = decode(tok, traj.tokens.tolist())
    rendered = render(tok, traj.messages, tools, add_generation_prompt=False)
    assert rendered == text + "\n"


@pytest.mark.parametrize("fmt", ["codegym", "native"])
def test_oracle_calls_get_reward_one(pool, fmt):
    task, actions = oracle_task(pool, ENVS[0], seed=3, key=0)
    script = [turn_tokens(f"Step {i}.\n" + format_call(a["name"], a["parameters"], fmt)) for i, a in enumerate(actions)]
    engine = ScriptedEngine({0: script})
    assert isinstance(engine, RolloutEngine)
    traj = run(run_episode(engine, AsyncSandbox(pool), tokenizer(), task, SamplingParams(),
                           EpisodeConfig(chat_format=fmt), group_id=7, policy_version=3))
    assert (traj.termination, traj.reward) == ("done", 1.0)
    assert traj.num_tool_calls == len(actions)
    assert (traj.group_id, traj.policy_version, traj.env_str) == (7, 3, task.env_str)
    check_buffer(traj, script, fmt)
    # every prompt the engine saw was the buffer so far: append-only, never re-tokenized
    for prompt, (start, _) in zip(engine.prompts, traj.turn_spans):
        assert prompt == traj.tokens[:start].tolist()


def test_wrong_answer_gets_reward_zero(pool):
    task, actions = oracle_task(pool, ENVS[1], seed=5, key=0)
    done = actions[-1]
    wrong = {"answer": not done["parameters"]["answer"]} if isinstance(done["parameters"].get("answer"), bool) \
        else {"answer": "certainly wrong"}
    script = [turn_tokens(format_call("Done", wrong, "codegym"))]
    traj = run(run_episode(ScriptedEngine({0: script}), AsyncSandbox(pool), tokenizer(), task, SamplingParams()))
    assert (traj.termination, traj.reward, traj.num_tool_calls) == ("done", 0.0, 1)


def test_garbage_ends_with_parse_error_and_the_model_sees_why(pool):
    task, _ = oracle_task(pool, ENVS[0], seed=1, key=0)
    script = [turn_tokens("I refuse {\"name\": Observe"), turn_tokens(format_call("Nope", {}, "codegym")),
              turn_tokens(format_call("Observe", {}, "codegym") * 2)]
    traj = run(run_episode(ScriptedEngine({0: script}), AsyncSandbox(pool), tokenizer(), task, SamplingParams(),
                           EpisodeConfig(max_consecutive_parse_errors=3)))
    assert (traj.termination, traj.reward, traj.num_tool_calls) == ("parse_error", 0.0, 0)
    observations = [m["content"] for m in traj.messages if m["role"] == "tool"]
    assert len(observations) == 2
    assert "no tool call" in observations[0] and "unknown tool 'Nope'" in observations[1]
    check_buffer(traj, script, "codegym")


def test_budgets_and_termination_reasons(pool):
    task, actions = oracle_task(pool, ENVS[0], seed=2, key=0)
    sandbox = AsyncSandbox(pool)
    observe = [turn_tokens(format_call("Observe", {}, "codegym"))]
    # T_max assistant turns without Done
    traj = run(run_episode(ScriptedEngine({0: observe}), sandbox, tokenizer(), task, SamplingParams(),
                           EpisodeConfig(max_tool_calls=4)))
    assert (traj.termination, traj.num_tool_calls, len(traj.turn_spans)) == ("max_turns", 4, 4)
    # the sandbox's own step budget (SandboxLimits.max_steps = 40) also ends it as max_turns: the
    # 41st call is the one the sandbox refuses with done=True
    traj = run(run_episode(ScriptedEngine({0: observe}), sandbox, tokenizer(), task, SamplingParams()))
    assert (traj.termination, traj.num_tool_calls) == ("max_turns", 41)
    # a turn that never closes hits the per-turn token cap
    rambling = [turn_tokens("blah " * 200, close=False)]
    traj = run(run_episode(ScriptedEngine({0: rambling}), sandbox, tokenizer(), task, SamplingParams(),
                           EpisodeConfig(max_new_tokens_per_turn=16)))
    assert traj.termination == "max_tokens" and traj.turn_spans[-1][1] - traj.turn_spans[-1][0] == 16
    # the whole buffer outgrows the context budget
    prompt_len = traj.prompt_len
    traj = run(run_episode(ScriptedEngine({0: observe}), sandbox, tokenizer(), task, SamplingParams(),
                           EpisodeConfig(max_total_tokens=prompt_len + 60)))
    assert traj.termination == "context" and len(traj.tokens) <= prompt_len + 60
    # long observations are cut
    traj = run(run_episode(ScriptedEngine({0: observe}), sandbox, tokenizer(), task, SamplingParams(),
                           EpisodeConfig(max_tool_calls=1, max_observation_chars=5)))
    assert traj.termination == "max_turns"
    # an env that cannot be built
    bad = EpisodeTask(task.env_source, "JumpGameEnv@{\"jumps\": 5}", task.task_description)
    traj = run(run_episode(ScriptedEngine({0: observe}), sandbox, tokenizer(), bad, SamplingParams()))
    assert (traj.termination, traj.num_sampled) == ("env_error", 0)
    # the episode's wall-clock budget
    traj = run(run_episode(ScriptedEngine({0: observe}, delay_s=0.3), sandbox, tokenizer(), task, SamplingParams(),
                           EpisodeConfig(episode_timeout_s=0.5)))
    assert (traj.termination, traj.reward) == ("timeout", 0.0)


def test_observation_truncation(pool):
    task, _ = oracle_task(pool, ENVS[0], seed=2, key=0)
    observe = [turn_tokens(format_call("Observe", {}, "codegym"))]
    traj = run(run_episode(ScriptedEngine({0: observe}), AsyncSandbox(pool), tokenizer(), task, SamplingParams(),
                           EpisodeConfig(max_tool_calls=2, max_observation_chars=5)))
    observation = [m["content"] for m in traj.messages if m["role"] == "tool"][0]
    assert observation.startswith(observation[:5]) and "[observation truncated:" in observation
    assert len(observation.split("\n")[0]) == 5


def test_groups_run_concurrently_and_keep_order(pool):
    tasks, scripts = [], {}
    for key, name in enumerate(ENVS):
        task, actions = oracle_task(pool, name, seed=11 + key, key=key)
        tasks.append(task)
        scripts[key] = [turn_tokens(format_call(a["name"], a["parameters"], "codegym")) for a in actions]
    engine = ScriptedEngine(scripts, delay_s=0.02)
    trajectories, metrics = run(run_groups(engine, AsyncSandbox(pool), tokenizer(), tasks, samples_per_task=3,
                                           sampling=SamplingParams(seed=1), policy_version=2))
    assert [t.group_id for t in trajectories] == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert [t.env_str for t in trajectories] == [t.env_str for t in tasks for _ in range(3)]
    assert all(t.termination == "done" and t.reward == 1.0 and t.policy_version == 2 for t in trajectories)
    assert metrics["rollout/reward_mean"] == 1.0 and metrics["rollout/termination_done"] == 1.0
    # concurrency: the whole batch takes far less than the sum of its episodes
    assert metrics["rollout/wall_s"] < 0.7 * sum(t.wall_s for t in trajectories)
    assert 0.0 <= metrics["rollout/outside_generation_frac"] <= 1.0
    # seeded: every turn of every episode draws from its own stream
    assert None not in engine.seeds and len(set(engine.seeds)) == len(engine.seeds)


def test_an_overloaded_server_is_an_infrastructure_failure_not_the_policys(pool):
    """An env server that answers 429 past the client's retries, from mid-episode on or from the
    start, ends the episode as infra_error (left out of training), not env_error."""
    import threading

    from sandbox.client import EnvClient
    from sandbox.server import EnvServer

    task, _ = oracle_task(pool, ENVS[0], seed=3, key=0)
    observe = [turn_tokens(format_call("Observe", {}, "codegym"))]
    server = EnvServer(pool, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = EnvClient([f"http://127.0.0.1:{server.server_address[1]}"], retries=1, backoff_s=0.01)

    class OverloadsTheServer(ScriptedEngine):
        def generate(self, prompts, sampling):
            while server.inflight.acquire(blocking=False):  # every slot taken: each request gets 429
                pass
            return super().generate(prompts, sampling)

    try:
        traj = run(run_episode(OverloadsTheServer({0: observe}), AsyncSandbox(client), tokenizer(), task,
                               SamplingParams()))
        assert (traj.termination, traj.reward) == ("infra_error", 0.0)
        traj = run(run_episode(ScriptedEngine({0: observe}), AsyncSandbox(client), tokenizer(), task,
                               SamplingParams()))
        assert (traj.termination, traj.num_sampled) == ("infra_error", 0)
    finally:
        client.close()
        server.shutdown()
        server.server_close()
