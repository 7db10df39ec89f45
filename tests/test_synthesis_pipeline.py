"""The synthesis pipeline end to end against a loopback OpenAI-compatible replay server and the
real sandbox: good and broken completions are accepted or rejected at the right stage."""

import asyncio
import dataclasses
import json
import os

import pytest

from codegym_jax.envs.tasks import read_tasks
from codegym_jax.synthesis.config import SynthesisConfig
from codegym_jax.synthesis.llm_client import ChatClient
from codegym_jax.jsonl import read_jsonl
from codegym_jax.synthesis.pipeline import run_pipeline
from openai_replay_server import ReplayServer
import synthesis_recordings as rec

PROBLEMS_FILE = os.path.join(os.path.dirname(__file__), "..", "codegym_jax", "synthesis", "data", "problems.jsonl")
CONFIG = SynthesisConfig(oracle_candidates=2, workers=2, max_retries=2, backoff_s=0.01)

# problem id -> (stage that rejects it or None, reason kind)
EXPECTED = {
    "good": (None, None),
    "syntax_error": ("checks", "syntax_error"),
    "missing_docstring": ("checks", "missing_docstring"),
    "two_classes": ("checks", "env_class_count"),
    "third_party_import": ("checks", "non_stdlib_import"),
    "hanging_tool": ("checks", "tool_timeout"),
    "missing_section": ("env_generation", "missing_sections"),
    "no_recording": ("env_generation", "llm_error"),
    "bad_unit_tests": ("unit_tests", "unit_tests_format"),
    "wrong_ref_answer": ("unit_tests", "unit_tests_failed"),
    "resource_hog": ("unit_tests", "unit_tests_failed"),
    "bad_oracle": ("oracles", "no_oracle"),
    "broken_tool": ("oracles", "no_oracle"),
}


def count_primes_problem(problem_id: str) -> dict:
    problem = next(p for p in read_jsonl(PROBLEMS_FILE) if p["id"] == "count_primes")
    return dict(problem, id=problem_id)


def recordings() -> list[dict]:
    tests = rec.count_primes_tests()
    good, faulty = rec.COUNT_PRIMES_SOLVE, rec.COUNT_PRIMES_SOLVE_OFF_BY_ONE
    found = rec.good_env_recordings("good", rec.count_primes_variant("good"), tests, [faulty, good])
    found[0]["fail_first"] = 1  # the client retries a 503
    for kind in ("syntax_error", "missing_docstring", "two_classes", "third_party_import", "hanging_tool",
                 "wrong_ref_answer", "broken_tool", "resource_hog"):
        found += rec.good_env_recordings(kind, rec.count_primes_variant(kind), tests, [good, good])
    found += rec.good_env_recordings("bad_oracle", rec.count_primes_variant("good"), tests, [faulty, faulty])
    wrong_format = "\n".join(f"({d!r}, {i['n']})" for d, i in tests)  # tuples, not JSON objects
    bad_tests = rec.good_env_recordings("bad_unit_tests", rec.count_primes_variant("good"), tests, [good])
    bad_tests[1]["content"] = f"<unit_tests>\n{wrong_format}\n</unit_tests>"
    found += bad_tests
    found.append(rec.recording("missing_section", "environment",
                               rec.env_reply(rec.count_primes_variant("good"), {"n": 30}).split("<example_input>")[0]))
    return found


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("synthesis"))
    problems = [count_primes_problem(pid) for pid in EXPECTED]
    with ReplayServer(recordings()) as server:
        config = dataclasses.replace(CONFIG, base_url=server.base_url)
        report = asyncio.run(run_pipeline(problems, out, config))
        first_requests = len(server.requests)
        rerun = asyncio.run(run_pipeline(problems, out, config))
        rerun_requests = len(server.requests) - first_requests
        # A fresh output dir sharing the response cache sends nothing either.
        fresh = str(tmp_path_factory.mktemp("synthesis_fresh"))
        client = ChatClient(server.base_url, config.model, cache_dir=os.path.join(out, "llm_cache"))
        cached = asyncio.run(run_pipeline(problems, fresh, config, client=client))
        cached_requests = server.requests[first_requests + rerun_requests:]
    return dict(out=out, report=report, rerun=rerun, rerun_requests=rerun_requests, cached=cached,
                cached_requests=cached_requests, client=client, first_requests=first_requests)


def _stage_of_rejection(report, problem_id):
    for stage, counts in report["stages"].items():
        if problem_id in counts["rejections"]:
            return stage, counts["rejections"][problem_id].split(":", 1)[0]
    return None, None


def test_each_problem_is_accepted_or_rejected_at_the_right_stage(run):
    report = run["report"]
    for problem_id, expected in EXPECTED.items():
        assert _stage_of_rejection(report, problem_id) == expected, (problem_id, report["stages"])


def test_report_counts_every_rejection_with_its_reason(run):
    stages = run["report"]["stages"]
    expected_counts = {}
    for stage, kind in EXPECTED.values():
        if stage:
            expected_counts.setdefault(stage, {}).setdefault(kind, 0)
            expected_counts[stage][kind] += 1
    for stage, counts in stages.items():
        assert counts["rejected"] == expected_counts.get(stage, {}), stage
        assert counts["in"] - counts["passed"] == sum(counts["rejected"].values())
    assert stages["env_generation"]["in"] == len(EXPECTED)
    assert stages["checks"]["in"] == stages["env_generation"]["passed"]
    assert stages["filters"]["passed"] == 1
    assert stages["filters"]["dropped_tasks"] == {"oracle_too_short": 1}
    # wrong_ref_answer: 30 disagreements; resource_hog: 1 timeout, 5 over memory, 3 long answers
    # (21/30 < 80 %); bad_unit_tests never reaches validation.
    assert stages["unit_tests"]["test_failures"] == {
        "answer_too_long": 3, "disagrees_with_reference": 30, "ref_answer_memory": 5, "ref_answer_timeout": 1}


def test_good_env_exports_verified_tasks(run):
    out = run["out"]
    oracle = {r["id"]: r for r in read_jsonl(os.path.join(out, "oracles.jsonl"))}
    assert oracle["good"]["accepted_candidate"] == 1  # candidate 0 fails the n = 20 test
    assert oracle["good"]["oracle_attempts"][0].startswith("failed_test: CountPrimesEnv@{\"n\": 20}")
    unit = {r["id"]: r for r in read_jsonl(os.path.join(out, "unit_tests.jsonl"))}
    assert len(unit["good"]["kept_tests"]) == 30
    assert unit["wrong_ref_answer"]["test_failures"] == {"disagrees_with_reference": 30}
    assert len(unit["resource_hog"]["kept_tests"]) == 21
    tasks = read_tasks(os.path.join(out, "tasks.jsonl"))
    # n = 20 needs fewer than 10 oracle calls: filtered out; the other 29 remain.
    assert len(tasks) == 29 and run["report"]["export"]["tasks"] == 29
    filters = {r["id"]: r for r in read_jsonl(os.path.join(out, "filters.jsonl"))}
    assert filters["good"]["dropped_tasks"] == {"oracle_too_short": 1}
    assert all(10 <= t.oracle_steps <= 256 for t in tasks)
    assert {t.difficulty for t in tasks} == {"easy", "medium", "hard"}
    assert all(t.env_name == "CountPrimesEnv" and t.code_id == "good" for t in tasks)
    with open(tasks[0].env_file, encoding="utf-8") as f:
        assert "CountPrimesEnv.solve = solve" in f.read()


def test_rerun_and_cache_send_no_request(run):
    assert run["first_requests"] > 0
    assert run["rerun_requests"] == 0
    # Only the request that never got a reply (no recording: HTTP 404) is sent again.
    asked = [body["messages"][1]["content"].splitlines()[0] for body in run["cached_requests"]]
    assert asked == ["Problem ID: no_recording"]
    assert run["client"].cache_hits > 0 and run["client"].requests_sent == 1
    for again in (run["rerun"], run["cached"]):
        assert {s: c["rejected"] for s, c in again["stages"].items()} == \
            {s: c["rejected"] for s, c in run["report"]["stages"].items()}
        assert again["export"] == run["report"]["export"]


# ---------------------------------------------------------------- upstream-style env code
UPSTREAM_ENV = os.path.join(os.path.dirname(__file__), "..", "experiments", "released_example",
                            "Own_00001_E__StockProfitEnv.py")
UPSTREAM_MUTATIONS = {
    "upstream": (None, None),
    # wrong get_ref_answer: off by one -> every unit test disagrees with the reference solution
    "upstream_wrong_ref": ("        return best\n\n    def step", "        return best + 1\n\n    def step"),
    # broken tool: LowerMinimum keeps the larger price -> the oracle cannot reach reward 1
    "upstream_broken_tool": ("return str(min(minimum, price))", "return str(max(minimum, price))"),
}


def stock_tests() -> list[tuple[str, dict]]:
    import random
    rng = random.Random(7)
    lengths = {"easy": (4, 8), "medium": (10, 20), "hard": (25, 45)}
    return [(d, {"prices": [rng.randint(1, 99) for _ in range(rng.randint(*lengths[d]))]})
            for d in ("easy", "medium", "hard") for _ in range(10)]


def test_upstream_style_env_passes_and_its_mutations_fail_at_the_right_stage(tmp_path):
    with open(UPSTREAM_ENV, encoding="utf-8") as f:
        source = f.read()
    problem = next(p for p in read_jsonl(PROBLEMS_FILE) if p["id"] == "stock_max_profit")
    found, problems = [], []
    for problem_id, (old, new) in UPSTREAM_MUTATIONS.items():
        assert old is None or old in source
        variant = source if old is None else source.replace(old, new, 1)
        found += rec.good_env_recordings(problem_id, variant, stock_tests(), [rec.solve_method(variant)],
                                         description=problem["statement"])
        problems.append(dict(problem, id=problem_id))
    with ReplayServer(found) as server:
        config = dataclasses.replace(CONFIG, base_url=server.base_url, oracle_candidates=1)
        asked = []

        def pass_at_k(task):  # stands in for a policy's rollouts: it solves every easy task
            assert os.path.exists(task.env_file)
            asked.append(task.difficulty)
            return 1.0 if task.difficulty == "easy" else 0.5

        report = asyncio.run(run_pipeline(problems, str(tmp_path), config, pass_at_k=pass_at_k))
    assert sorted(asked) == ["easy"] * 10 + ["hard"] * 10 + ["medium"] * 10
    assert report["stages"]["filters"]["dropped_tasks"] == {"too_easy_for_policy": 10}
    assert _stage_of_rejection(report, "upstream") == (None, None)
    assert _stage_of_rejection(report, "upstream_wrong_ref") == ("unit_tests", "unit_tests_failed")
    assert _stage_of_rejection(report, "upstream_broken_tool") == ("oracles", "no_oracle")
    tasks = read_tasks(os.path.join(tmp_path, "tasks.jsonl"))
    assert len(tasks) == 20 and all(t.env_name == "StockProfitEnv" and 10 <= t.oracle_steps <= 256 for t in tasks)
    # The oracle length of a prices list of d days is 1 + 1 + 4 (d - 1) + 1 calls.
    for task in tasks:
        days = len(json.loads(task.env_str.split("@", 1)[1])["prices"])
        assert task.oracle_steps == 4 * days - 1
