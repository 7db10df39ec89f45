"""The LongestCommonPrefixEnv failure breakdown, on records made from real episodes of the real
environment (its replies and grader) through the eval's own `episode_records`."""
from __future__ import annotations

import dataclasses
import json

import pytest

from codegym_jax.envs.library.longest_common_prefix_env import LongestCommonPrefixEnv
from codegym_jax.envs.tasks import TaskInstance
from codegym_jax.evaluation import episode_records
from codegym_jax.rollout import tokenizer as tk
from experiments import config as C
from experiments import lcp_failures as F
from transcript_fixtures import library_transcript

MULTI = ["cex", "cey", "ce"]  # prefix "ce": one token of the shipped BPE
SINGLE = ["bcx", "bcy"]  # prefix "bc": "b" "c"


@pytest.fixture(scope="module")
def tokenizer():
    return tk.load(tk.SHIPPED_DIR)


def episode(tokenizer, task: int, strings: list[str], extend: str, answer: str) -> dict:
    """Observe, one ExtendPrefix per character of `extend`, Done(answer), played on the real env."""
    env_str = f"{F.ENV_NAME}@{json.dumps({'strings': strings})}"
    env = LongestCommonPrefixEnv.from_env_str(env_str)
    calls = [{"name": "Observe", "parameters": {}}]
    calls += [{"name": "ExtendPrefix", "parameters": {"char": c}} for c in extend]
    calls += [{"name": "Done", "parameters": {"answer": answer}}]
    observations = [env.step(json.dumps(c))[1] for c in calls]
    trajectory = library_transcript(tokenizer, F.ENV_NAME, {"strings": strings}, calls, observations)
    trajectory = dataclasses.replace(trajectory, reward=env.reward)
    record = episode_records([TaskInstance(F.ENV_NAME, env_str, "x.py", "c", oracle_steps=len(calls))],
                             [trajectory], 1)[0]
    return {**record, "task": task}


def test_each_kind_of_ending_is_told_apart(tokenizer):
    fmt = "codegym"
    solved = episode(tokenizer, 0, MULTI, "ce", "ce")
    assert solved["reward"] == 1.0 and F.classify(solved, fmt) == F.SOLVED
    wrong_copy = episode(tokenizer, 0, MULTI, "ce", "cd")
    assert wrong_copy["last_observation"] == '"ce"' and F.classify(wrong_copy, fmt) == F.WRONG_COPY
    short_buffer = episode(tokenizer, 0, MULTI, "c", "c")
    assert F.classify(short_buffer, fmt) == F.WRONG_BUFFER
    other = episode(tokenizer, 0, MULTI, "c", "ab")
    assert F.classify(other, fmt) == F.OTHER_ANSWER
    broken = {**solved, "termination": "parse_error", "reward": 0.0}
    assert F.classify(broken, fmt) == "no Done: parse_error"
    for r in (wrong_copy, short_buffer, other):
        assert r["reward"] == 0.0  # the environment's grader agrees with the recomputed prefix


def test_report_counts_kinds_answer_tokenizations_and_tasks(tokenizer):
    records = [episode(tokenizer, 0, MULTI, "ce", "ce"), episode(tokenizer, 0, MULTI, "ce", "cd"),
               episode(tokenizer, 0, MULTI, "c", "c"), episode(tokenizer, 0, MULTI, "c", "ab"),
               episode(tokenizer, 1, SINGLE, "bc", "bc"), episode(tokenizer, 1, SINGLE, "bc", "bc"),
               episode(tokenizer, 2, SINGLE, "b", "b")]
    records.append({**records[0], "task": 2, "termination": "context", "reward": 0.0})
    report = F.failure_report(records, tokenizer, "codegym")
    assert report["kinds"] == {F.SOLVED: 3, F.WRONG_COPY: 1, F.WRONG_BUFFER: 2, F.OTHER_ANSWER: 1,
                               "no Done: context": 1}
    assert report["wrong_copy_multi_letter"] == 1
    # The context record is task 2's but keeps the "ce" instance it was copied from.
    assert report["multi_letter"] == (1, 5) and report["single_letter"] == (2, 3)
    assert (report["tasks_never"], report["tasks_sometimes"], report["tasks_always"]) == (1, 1, 1)
    table = F.format_tables({"after SFT": report})
    assert "| after SFT | 8 | 3 | 1 (1 multi-letter) | 2 | 1 | 1 |" in table
    assert "| after SFT | 66.7% of 3 | 20.0% of 5 | 1 / 1 / 1 (of 4 samples) |" in table


def test_records_that_contradict_the_grader_or_another_env_are_refused(tokenizer):
    solved = episode(tokenizer, 0, MULTI, "ce", "ce")
    with pytest.raises(ValueError, match="the answer is the common prefix but the reward is 0.0"):
        F.failure_report([{**solved, "reward": 0.0}], tokenizer, "codegym")
    with pytest.raises(ValueError, match="not a LongestCommonPrefixEnv instance"):
        F.reference_prefix('ValidPalindromeEnv@{"text": "aba"}')
    with pytest.raises(ValueError, match="no LongestCommonPrefixEnv episodes"):
        F.failure_report([{**solved, "env_name": "ValidPalindromeEnv"}], tokenizer, "codegym")


def test_main_prints_a_row_per_recorded_policy(tmp_path, tokenizer, capsys):
    run = tmp_path / "run"
    config = C.apply_overrides(C.load_config(C.__file__.replace("config.py", "configs/tiny_cpu.py")),
                               [f"logging.run_dir={run}"])
    C.save_config(config, run / "config.json")
    with pytest.raises(FileNotFoundError, match="run its eval stage first"):
        F.main([str(run)])
    (run / "eval").mkdir()
    rows = [episode(tokenizer, 0, MULTI, "ce", "ce"), episode(tokenizer, 1, SINGLE, "b", "b")]
    (run / "eval" / "rl_val_seen_episodes.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert F.main([str(run)]) == 0
    out = capsys.readouterr().out
    assert "| after RL | 2 | 1 | 0 (0 multi-letter) | 1 | 0 |" in out and "after SFT" not in out
