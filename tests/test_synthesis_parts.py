"""Parts of the synthesis pipeline: chat client (retries, cache, errors) over a real loopback
socket, tagged-section and unit-test parsing, the filters with a pass@k plug-in, the CLI, and the
shipped problems."""

import ast
import asyncio
import inspect
import json
import os
import sys
import textwrap

import pytest

from codegym_jax.envs.library import longest_common_prefix_env as scan
from codegym_jax.envs.library import longest_common_prefix_shortcut_env as shortcut
from codegym_jax.envs.tasks import TaskInstance
from codegym_jax.jsonl import read_jsonl
from codegym_jax.synthesis import __main__ as cli
from codegym_jax.synthesis.config import SynthesisConfig
from codegym_jax.synthesis.llm_client import ChatClient, LLMError
from codegym_jax.synthesis.oracles import attach_solve, check_candidate
from codegym_jax.synthesis.pipeline import filter_env
from codegym_jax.synthesis.prompts import sections
from codegym_jax.synthesis.unit_tests import REFERENCE_FUNCTION, parse_unit_tests
from openai_replay_server import ReplayServer
from sandbox.pool import SandboxPool
import synthesis_recordings as rec

MESSAGES = [{"role": "user", "content": "Problem ID: p1\nStage: environment\nhello"}]


def test_client_retries_server_errors_and_caches(tmp_path):
    recordings = [{"contains": ["Problem ID: p1"], "content": "<a>\nx\n</a>", "fail_first": 2}]
    with ReplayServer(recordings) as server:
        client = ChatClient(server.base_url, "m", cache_dir=str(tmp_path), backoff_s=0.01, max_retries=2)
        assert asyncio.run(client.complete(MESSAGES)) == "<a>\nx\n</a>"
        assert len(server.requests) == 3 and client.requests_sent == 3
        again = ChatClient(server.base_url, "m", cache_dir=str(tmp_path))
        assert asyncio.run(again.complete(MESSAGES)) == "<a>\nx\n</a>"
        assert len(server.requests) == 3 and again.cache_hits == 1
        # A different sample index is a different request.
        asyncio.run(again.complete(MESSAGES, sample=1))
        assert len(server.requests) == 4 and server.requests[-1]["seed"] == 1


def test_client_gives_up_and_does_not_retry_client_errors(tmp_path):
    with ReplayServer([{"contains": ["Problem ID: p1"], "content": "x", "fail_first": 5}]) as server:
        client = ChatClient(server.base_url, "m", backoff_s=0.01, max_retries=1)
        with pytest.raises(LLMError, match="2 attempts failed, last: HTTP 503"):
            asyncio.run(client.complete(MESSAGES))
        with pytest.raises(LLMError, match="HTTP 404"):
            asyncio.run(client.complete([{"role": "user", "content": "unknown"}]))
        assert len(server.requests) == 3  # 2 attempts + one 404 that is not retried


def test_client_runs_requests_concurrently(tmp_path):
    recordings = [{"contains": [f"Problem ID: q{i}\n"], "content": f"reply {i}", "delay_s": 0.2} for i in range(20)]
    with ReplayServer(recordings) as server:
        client = ChatClient(server.base_url, "m", max_in_flight=4)

        async def all_of_them():
            return await asyncio.gather(*(client.complete([{"role": "user", "content": f"Problem ID: q{i}\n"}])
                                          for i in range(20)))

        assert asyncio.run(all_of_them()) == [f"reply {i}" for i in range(20)]
        assert server.peak_in_flight == 4  # many at once, never more than the limit


def test_client_unreachable_endpoint_is_an_llm_error():
    client = ChatClient("http://127.0.0.1:9/v1", "m", backoff_s=0.01, max_retries=1, timeout_s=2)
    with pytest.raises(LLMError, match="2 attempts failed"):
        asyncio.run(client.complete(MESSAGES))


def test_sections_strip_fences_and_ignore_other_text():
    text = "intro\n<env_code>\n```python\nx = 1\n```\n</env_code>\nnoise <solve>\ndef solve(self):\n    pass\n</solve>"
    assert sections(text) == {"env_code": "x = 1", "solve": "def solve(self):\n    pass"}
    assert sections("<env_code>\nunterminated") == {}


def test_parse_unit_tests_counts_malformed_lines():
    text = "\n".join([json.dumps({"difficulty": "easy", "input": {"n": 3}}),
                      json.dumps({"difficulty": "extreme", "input": {"n": 3}}),
                      json.dumps({"difficulty": "hard", "input": [3]}),
                      "('easy', 3)", ""])
    tests, malformed = parse_unit_tests(text)
    assert tests == [{"difficulty": "easy", "input": {"n": 3}}] and malformed == 3


def _oracle_record(steps, tools=7):
    return {"id": "x", "class_name": "XEnv", "source": "", "task_description": "t",
            "tools": [f"T{i}" for i in range(tools)],
            "kept_tests": [{"difficulty": "easy", "env_str": f"XEnv@{{\"i\": {i}}}"} for i in range(len(steps))],
            "oracle_steps": steps}


def test_filters_oracle_length_tools_and_policy_pass_rate():
    config = SynthesisConfig()
    kept = filter_env(config, _oracle_record([9, 10, 256, 257, 40]))
    assert [t["oracle_steps"] for t in kept["tasks"]] == [10, 256, 40]
    assert kept["dropped_tasks"] == {"oracle_too_short": 1, "oracle_too_long": 1}
    few = filter_env(config, _oracle_record([40], tools=3))
    assert not few["ok"] and few["reason"].startswith("too_few_tools")
    seen = []

    def pass_at_k(task):  # a policy that always solves the short ones
        assert isinstance(task, TaskInstance) and task.env_file == "envs/x_env.py"
        seen.append(task.env_str)
        return 1.0 if task.oracle_steps < 30 else 0.25

    policy = filter_env(config, _oracle_record([12, 40, 50]), pass_at_k, "envs/x_env.py")
    assert [t["oracle_steps"] for t in policy["tasks"]] == [40, 50] and len(seen) == 3
    assert policy["dropped_tasks"] == {"too_easy_for_policy": 1}
    none_left = filter_env(config, _oracle_record([3]))
    assert not none_left["ok"] and none_left["reason"].startswith("no_task_left")


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="min_test_pass_rate"):
        SynthesisConfig(min_test_pass_rate=1.5)
    with pytest.raises(ValueError, match="min_oracle_steps"):
        SynthesisConfig(min_oracle_steps=300)


def test_shipped_problems():
    problems = read_jsonl(cli.DEFAULT_PROBLEMS)
    assert len(problems) >= 30 and len({p["id"] for p in problems}) == len(problems)
    for problem in problems:
        assert set(problem) == {"id", "statement", "solution"} and problem["statement"]
        tree = ast.parse(problem["solution"])
        assert any(isinstance(n, ast.FunctionDef) and n.name == REFERENCE_FUNCTION for n in tree.body), problem["id"]
        imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert imported <= sys.stdlib_module_names, problem["id"]


def test_cli_runs_the_pipeline(tmp_path, capsys):
    problems = [p for p in read_jsonl(cli.DEFAULT_PROBLEMS) if p["id"] == "count_primes"]
    problems_file = tmp_path / "problems.jsonl"
    problems_file.write_text("".join(json.dumps(p) + "\n" for p in problems))
    recordings = rec.good_env_recordings("count_primes", rec.count_primes_variant("good"), rec.count_primes_tests(),
                                         [rec.COUNT_PRIMES_SOLVE])
    with ReplayServer(recordings) as server:
        report = cli.main(["--problems", str(problems_file), "--out", str(tmp_path / "out"),
                           "--base-url", server.base_url, "--oracle-candidates", "1", "--workers", "1"])
    assert report["export"] == {"envs": 1, "tasks": 29, "mean_oracle_steps": report["export"]["mean_oracle_steps"]}
    assert "exported: 1 envs, 29 tasks" in capsys.readouterr().out
    assert os.path.exists(tmp_path / "out" / "envs" / "count_primes_env.py")


def test_an_oracle_that_peeks_is_refused_though_it_earns_reward_one():
    """A candidate solve() may reach the environment only through self.step: the shortcut env's
    oracle submits get_ref_answer() unseen on its "peek" route and earns reward 1, and
    attach_solve refuses it by name; the scan oracle of LongestCommonPrefixEnv passes."""
    peeking = textwrap.dedent(inspect.getsource(shortcut.LongestCommonPrefixShortcutEnv.solve))
    env = shortcut.LongestCommonPrefixShortcutEnv(
        'LongestCommonPrefixShortcutEnv@{"strings": ["gk", "gm"], "route": "peek"}')
    env.solve()
    assert env.reward == 1.0
    with pytest.raises(ValueError, match=r"solve\(\) uses self.route \(line \d+\); it may reach the environment "
                                         r"only through self.step"):
        attach_solve("class E:\n    pass\n", "E", peeking)
    clean = textwrap.dedent(inspect.getsource(scan.LongestCommonPrefixEnv.solve))
    assert attach_solve("class E:\n    pass\n", "E", clean).endswith("E.solve = solve\n")
    for source, named in [("def solve(self):\n    return self.step(self.get_ref_answer())\n", "self.get_ref_answer"),
                          ("def solve(env):\n    return getattr(env, 'strings')\n", "env itself"),
                          ("def solve(self):\n    return vars(self)\n", "self itself")]:
        with pytest.raises(ValueError, match=f"uses {named} "):
            attach_solve("class E:\n    pass\n", "E", source)
    with pytest.raises(ValueError, match="takes no self"):
        attach_solve("class E:\n    pass\n", "E", "def solve():\n    return 1\n")


LOCALS_PEEK = '''def solve(self):
    call = lambda name, **p: self.step(json.dumps({"name": name, "parameters": p}))[1]
    call("Observe")
    env = locals()["self"]
    return call("Done", answer=type(env).get_ref_answer(env))
'''


def test_a_candidate_that_reaches_self_another_way_finds_no_hidden_state():
    """`locals()["self"]` passes the static check; run against an object exposing only `step`,
    in a worker holding no instance, it finds nothing to read. Run the old way, on the
    instance, the same candidate earns reward 1."""
    with open(shortcut.__file__) as f:
        env_source = f.read()
    env_str = 'LongestCommonPrefixShortcutEnv@{"strings": ["gk", "gm"], "route": "fold"}'
    peeking = attach_solve(env_source, "LongestCommonPrefixShortcutEnv", LOCALS_PEEK)
    honest = attach_solve(env_source, "LongestCommonPrefixShortcutEnv",
                          textwrap.dedent(inspect.getsource(scan.LongestCommonPrefixEnv.solve)))
    with SandboxPool() as pool:
        assert pool.run_oracle(peeking, env_str).reward == 1.0  # on the instance: it cheats
        failure, steps = check_candidate(pool, peeking, [env_str])
        assert failure is not None and "AttributeError" in failure and steps == []
        result = pool.run_oracle(honest, env_str, step_only=True)
        assert (result.error, result.reward) == (None, 1.0)
        assert result.steps == len(result.actions) == len(result.observations) >= 3
        assert result.actions[0] == {"name": "Observe", "parameters": {}}
        assert check_candidate(pool, honest, [env_str]) == (None, [result.steps])
