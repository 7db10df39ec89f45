"""The longest-common-prefix failure breakdown, on records made from real episodes of the real
environments (their replies and graders) through the eval's own `episode_records`."""
from __future__ import annotations

import dataclasses
import json
import pathlib

import pytest

from codegym_jax.envs.library.longest_common_prefix_env import LongestCommonPrefixEnv
from codegym_jax.envs.library.longest_common_prefix_routes_env import LongestCommonPrefixRoutesEnv
from codegym_jax.envs.tasks import TaskInstance
from codegym_jax.evaluation import episode_records
from codegym_jax.rollout import tokenizer as tk
from codegym_jax.train import config as C
from codegym_jax.train import config_io
from experiments.research import lcp_failures as F
from transcript_fixtures import library_transcript

REPO = pathlib.Path(__file__).resolve().parents[1]

MULTI = ["cex", "cey", "ce"]  # prefix "ce": one token of the shipped BPE
SINGLE = ["bcx", "bcy"]  # prefix "bc": "b" "c"
LCP, ROUTES, _ = F.ENV_NAMES


@pytest.fixture(scope="module")
def tokenizer():
    return tk.load(tk.SHIPPED_DIR)


def played(tokenizer, env_cls, task: int, options: dict, calls: list[dict]) -> dict:
    """The eval record of `calls` played on the real environment."""
    name = env_cls.__name__
    env_str = f"{name}@{json.dumps(options)}"
    env = env_cls.from_env_str(env_str)
    observations = [env.step(json.dumps(c))[1] for c in calls]
    trajectory = library_transcript(tokenizer, name, options, calls, observations)
    trajectory = dataclasses.replace(trajectory, reward=env.reward)
    record = episode_records([TaskInstance(name, env_str, "x.py", "c", oracle_steps=len(calls))],
                             [trajectory], 1)[0]
    return {**record, "task": task}


def call(name: str, **parameters) -> dict:
    return {"name": name, "parameters": parameters}


def episode(tokenizer, task: int, strings: list[str], extend: str, answer: str) -> dict:
    """Observe, one ExtendPrefix per character of `extend`, Done(answer), on LongestCommonPrefixEnv."""
    calls = [call("Observe")] + [call("ExtendPrefix", char=c) for c in extend] + [call("Done", answer=answer)]
    return played(tokenizer, LongestCommonPrefixEnv, task, {"strings": strings}, calls)


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
    assert "| after SFT | - | - | - | - | 37.5% of 8 |" in table  # ExtendPrefix alone: none of the tools


def test_records_that_contradict_the_grader_or_another_env_are_refused(tokenizer):
    solved = episode(tokenizer, 0, MULTI, "ce", "ce")
    with pytest.raises(ValueError, match="the answer is the common prefix but the reward is 0.0"):
        F.failure_report([{**solved, "reward": 0.0}], tokenizer, "codegym")
    with pytest.raises(ValueError, match="not an instance of LongestCommonPrefixEnv or "
                                         "LongestCommonPrefixRoutesEnv or LongestCommonPrefixShortcutEnv: "
                                         "'ValidPalindromeEnv"):
        F.reference_prefix('ValidPalindromeEnv@{"text": "aba"}')
    with pytest.raises(ValueError, match="no LongestCommonPrefixEnv or LongestCommonPrefixRoutesEnv or "
                                         "LongestCommonPrefixShortcutEnv episodes"):
        F.failure_report([{**solved, "env_name": "ValidPalindromeEnv"}], tokenizer, "codegym")
    with pytest.raises(ValueError, match="task 0 sample 0: the record has no 'actions'"):
        F.failure_report([{k: v for k, v in solved.items() if k != "actions"}], tokenizer, "codegym")


def test_procedures_are_told_apart_by_the_tools_called(tokenizer):
    """On the routes environment: a scan (CharAt), a fold (CommonPrefixOfTwo) with a miscopied
    string, reading and answering, a mix, and none of these tools, each played for real."""
    options = {"strings": ["gkm", "gkf"], "route": "fold"}
    scan = [call("Observe"), call("CharAt", string_index=0, position=0), call("CharAt", string_index=1, position=0),
            call("ExtendPrefix", char="g"), call("CharAt", string_index=0, position=1),
            call("CharAt", string_index=1, position=1), call("ExtendPrefix", char="k"),
            call("CharAt", string_index=0, position=2), call("CharAt", string_index=1, position=2),
            call("GetPrefix"), call("Done", answer="gk")]
    fold = [call("Observe"), call("ReadString", string_index=0), call("ReadString", string_index=1),
            call("CommonPrefixOfTwo", first="gkm", second="gff"), call("Done", answer="g")]
    read = [call("Observe"), call("ReadString", string_index=0), call("ReadString", string_index=1),
            call("Done", answer="gkm")]
    mixed = [call("Observe"), call("CharAt", string_index=0, position=0),
             call("CommonPrefixOfTwo", first="gkm", second="gkf"), call("Done", answer="gk")]
    unseen = [call("Observe"), call("Done", answer="gk")]
    records = [played(tokenizer, LongestCommonPrefixRoutesEnv, 0, options, c)
               for c in (scan, fold, read, mixed, unseen)]
    assert [r["reward"] for r in records] == [1.0, 0.0, 0.0, 1.0, 1.0]
    assert [F.procedure(r, "codegym") for r in records] == ["scan", "fold", "read", "mixed", "unseen"]
    # The fold's last reply is its (wrong) prefix, which it submitted: a wrong buffer, not a wrong copy.
    assert F.classify(records[1], "codegym") == F.WRONG_BUFFER
    report = F.failure_report(records, tokenizer, "codegym")
    assert report["procedures"] == {"scan": (1, 1), "fold": (0, 1), "read": (0, 1), "mixed": (1, 1),
                                    "unseen": (1, 1)}
    table = F.format_tables({"after RL": report})
    assert "| after RL | 100.0% of 1 | 0.0% of 1 | 0.0% of 1 | 100.0% of 1 | 100.0% of 1 |" in table


def test_main_prints_a_row_per_recorded_policy(tmp_path, tokenizer, capsys):
    run = tmp_path / "run"
    config = config_io.apply_overrides(config_io.load_config(REPO / "experiments" / "configs" / "tiny_cpu.py"),
                               [f"logging.run_dir={run}"])
    config_io.save_config(config, run / "config.json")
    with pytest.raises(FileNotFoundError, match="run its eval stage first"):
        F.main([str(run)])
    (run / "eval").mkdir()
    rows = [episode(tokenizer, 0, MULTI, "ce", "ce"), episode(tokenizer, 1, SINGLE, "b", "b")]
    (run / "eval" / "rl_val_seen_episodes.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert F.main([str(run)]) == 0
    out = capsys.readouterr().out
    assert "| after RL | 2 | 1 | 0 (0 multi-letter) | 1 | 0 |" in out and "after SFT" not in out
