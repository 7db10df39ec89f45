"""Evaluation: pass@k against brute force, summaries, subsets, and whole eval runs against the real
sandbox with scripted policies (an oracle replayer that must score 100%, a babbler that must score 0)."""
import itertools
import math

import numpy as np
import pytest

from codegym_jax.envs.library import library_env_files
from codegym_jax.envs.tasks import TaskInstance
from codegym_jax.evaluation import episode_records, eval_subset, evaluate, pass_at_k, summarize
from codegym_jax.rollout import tokenizer as tokenizer_lib
from codegym_jax.rollout.agent_loop import EpisodeConfig
from codegym_jax.rollout.chat_format import TokenBuffer, turn_end_token_id
from codegym_jax.rollout.engine import GenerateResult, SamplingParams
from codegym_jax.rollout.tool_calls import format_call
from codegym_jax.rollout.trajectory import Trajectory
from sandbox.async_sandbox import AsyncSandbox
from sandbox.pool import SandboxPool


@pytest.mark.parametrize("n,c,k", [(5, 0, 1), (5, 2, 1), (5, 2, 3), (6, 3, 6), (4, 4, 2), (7, 1, 4)])
def test_pass_at_k_matches_enumeration(n, c, k):
    outcomes = [1] * c + [0] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    brute = sum(any(outcomes[i] for i in s) for s in subsets) / len(subsets)
    assert pass_at_k(n, c, k) == pytest.approx(brute)
    with pytest.raises(ValueError, match="k=9"):
        pass_at_k(n, c, 9)


def fake(reward, calls, termination="done"):
    return Trajectory(tokens=np.zeros(4, np.int32), loss_mask=np.zeros(4, np.int32),
                      sampler_logprobs=np.zeros(4, np.float32), reward=reward, termination=termination,
                      env_str="A@{}", group_id=0, policy_version=0, turn_spans=[], prompt_len=4,
                      num_tool_calls=calls, messages=[])


def task(name, difficulty, steps):
    return TaskInstance(env_name=name, env_str=f"{name}@{{}}", env_file="x.py", code_id="c",
                        difficulty=difficulty, oracle_steps=steps)


def test_summarize_groups_by_task_difficulty_and_env():
    tasks = [task("A", "easy", 10), task("B", "hard", 20)]
    trajs = [fake(1, 10), fake(0, 3, "parse_error"), fake(1, 40), fake(1, 20)]
    s = summarize(tasks, trajs, samples_per_task=2, pass_k=(1, 2))
    assert s["success"] == 0.75 and s["pass@1"] == 0.75 and s["pass@2"] == 1.0
    assert s["by_difficulty"] == {"easy": {"success": 0.5, "episodes": 2}, "hard": {"success": 1.0, "episodes": 2}}
    assert s["solved_tool_calls_over_oracle"] == pytest.approx((1 + 2 + 1) / 3)
    assert s["termination_parse_error"] == 0.25 and s["termination_done"] == 0.75
    with pytest.raises(ValueError, match="k=4, samples=2"):
        summarize(tasks, trajs, samples_per_task=2, pass_k=(1, 4))
    with pytest.raises(ValueError, match="3 trajectories for 2 tasks x 2 samples"):
        summarize(tasks, trajs[:3], 2)


def test_eval_subset_is_seeded_and_balanced():
    tasks = [task(name, "easy", 10) for name in "ABC" for _ in range(10)]
    a, b = eval_subset(tasks, 9, seed=1), eval_subset(tasks, 9, seed=1)
    assert a == b and len(a) == 9
    assert sorted(t.env_name for t in a) == list("AAABBBCCC")
    assert eval_subset(tasks, 0, 1) == tasks and eval_subset(tasks, 99, 1) == tasks


class OracleReplayer:
    """A policy that plays the oracle's recorded calls, one per turn (engine protocol). It tells
    tasks apart by their description in the prompt (one task per env) and its turn by counting
    assistant turns."""

    def __init__(self, tokenizer, scripts):
        self.tokenizer, self.scripts, self.turn_end = tokenizer, scripts, turn_end_token_id(tokenizer)

    def generate(self, prompts, sampling: SamplingParams):
        out = []
        for prompt in prompts:
            text = self.tokenizer.decode(prompt, skip_special_tokens=False)
            script = [s for key, s in self.scripts.items() if key in text][0]
            turn = text.count("<|im_start|>assistant") - 1
            action = script[min(turn, len(script) - 1)]
            ids = list(self.tokenizer.encode(format_call(action["name"], action.get("parameters", {}), "codegym"),
                                             add_special_tokens=False)) + [self.turn_end]
            out.append(GenerateResult(ids, [-0.1] * len(ids), "stop"))
        return out

    def update_weights(self, params, version):
        """A scripted policy has no weights to swap."""


class Babbler(OracleReplayer):
    def generate(self, prompts, sampling):
        ids = list(self.tokenizer.encode("I think the answer is 42", add_special_tokens=False)) + [self.turn_end]
        return [GenerateResult(ids, [-1.0] * len(ids), "stop") for _ in prompts]


def library_tasks(pool, names, seeds):
    files = library_env_files()
    out = []
    for name in names:
        source = files[name].read_text()
        from codegym_jax.envs.tool_docs import extract_env_spec

        for seed in seeds:
            env_str = pool.call_function(source, "generate", seed, "easy")
            steps = pool.run_oracle(source, env_str).steps
            out.append(TaskInstance(env_name=name, env_str=env_str, env_file=str(files[name]), code_id=name,
                                    difficulty="easy", oracle_steps=steps,
                                    task_description=extract_env_spec(source).task_description))
    return out


def test_evaluate_scores_an_oracle_policy_fully_and_a_babbler_zero():
    tokenizer = tokenizer_lib.load(tokenizer_lib.SHIPPED_DIR)
    cfg = EpisodeConfig(tool_docs="compact", max_total_tokens=4096, max_tool_calls=64)
    with SandboxPool() as pool:
        tasks = library_tasks(pool, ["MaxSubarrayEnv", "MergeIntervalsEnv", "JumpGameEnv"], [0])
        scripts = {t.task_description: pool.run_oracle(t.read_source(), t.env_str).actions for t in tasks}
        seen = []
        summary, trajs = evaluate(OracleReplayer(tokenizer, scripts), AsyncSandbox(pool), tokenizer, tasks, cfg,
                                  SamplingParams(temperature=0.0), samples_per_task=2, pass_k=(1, 2),
                                  progress=seen.append)
        assert summary["success"] == 1.0 and summary["pass@2"] == 1.0
        assert summary["solved_tool_calls_over_oracle"] == 1.0
        assert summary["by_env"]["MaxSubarrayEnv"] == {"success": 1.0, "episodes": 2}
        assert len(seen) == 6 and all(t.termination == "done" for t in trajs)
        rows = episode_records(tasks, trajs, 2)
        assert [(r["task"], r["sample"], r["env_name"]) for r in rows] == [
            (i, j, t.env_name) for i, t in enumerate(tasks) for j in range(2)]
        for r in rows:
            # The last action is the oracle's Done call, answered after the last observation.
            assert r["reward"] == 1.0 and r["termination"] == "done" and r["tool_calls"] == r["oracle_steps"]
            assert '"Done"' in r["last_action"] and r["last_observation"], r
            assert len(r["actions"]) == r["tool_calls"] and r["actions"][-1] == r["last_action"]
            assert r["sampled_tokens"] < r["tokens"]
        with pytest.raises(ValueError, match="5 trajectories for 3 tasks x 2 samples"):
            episode_records(tasks, trajs[:5], 2)
        summary, trajs = evaluate(Babbler(tokenizer, scripts), AsyncSandbox(pool), tokenizer, tasks, cfg,
                                  SamplingParams(temperature=0.0))
        assert summary["success"] == 0.0 and summary["termination_parse_error"] == 1.0
        assert summary["tool_calls_mean"] == 0.0 and math.isclose(summary["pass@1"], 0.0)
        rows = episode_records(tasks, trajs, 1)
        assert all(r["termination"] == "parse_error" and r["actions"][-1] == r["last_action"]
                   and all("42" in a for a in r["actions"]) for r in rows), rows
