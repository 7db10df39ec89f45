"""Every built-in environment, run in the real sandbox: oracles solve generated instances of each
difficulty, wrong answers score 0, malformed calls come back as `Error:` observations, generation
is deterministic per seed, and the static tool docs are complete."""
from __future__ import annotations

import json

import pytest

from codegym_jax.envs.env_str import parse_env_str
from codegym_jax.envs.library import library_env_files
from codegym_jax.envs.tasks import DIFFICULTIES
from codegym_jax.envs.tool_docs import extract_env_spec
from sandbox.pool import SandboxPool

ENV_FILES = library_env_files()
INSTANCES = 20


def test_library_has_at_least_forty_environments():
    assert len(ENV_FILES) >= 40, f"{len(ENV_FILES)} environments: {sorted(ENV_FILES)}"
    # BUILD ships the library as data with glob(["codegym_jax/envs/library/*_env.py"]).
    misnamed = [p.name for p in ENV_FILES.values() if not p.name.endswith("_env.py")]
    assert not misnamed, f"library files must be named <snake_case>_env.py: {misnamed}"


@pytest.fixture(scope="module")
def pool():
    with SandboxPool() as p:
        yield p


def source_of(name: str) -> str:
    return ENV_FILES[name].read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(ENV_FILES))
def test_tool_docs_are_complete(name):
    spec = extract_env_spec(source_of(name))
    assert spec.class_name == name
    names = [t.name for t in spec.tools]
    assert "Observe" in names and "Done" in names
    assert len([n for n in names if n not in ("Observe", "Done")]) >= 4, names
    for tool in spec.tools:
        assert tool.description.strip(), f"{name}.{tool.name}: no description"
        assert tool.returns.strip(), f"{name}.{tool.name}: no Returns section"
        assert tool.example_output and tool.example_output.strip(), f"{name}.{tool.name}: no Example Output"
        for param in tool.params:
            assert param.type and param.description.strip(), f"{name}.{tool.name}({param.name}) undocumented"
    desc = spec.task_description or ""
    assert len(desc) > 80 and "->" in desc, f"{name}: TASK_DESCRIPTION needs an input -> output example"


@pytest.mark.parametrize("name", sorted(ENV_FILES))
def test_oracle_solves_generated_instances_of_every_difficulty(pool, name):
    source = source_of(name)
    for difficulty in DIFFICULTIES:
        failures = []
        for seed in range(INSTANCES):
            env_str = pool.call_function(source, "generate", seed, difficulty)
            result = pool.run_oracle(source, env_str)
            if result.error or result.reward != 1:
                failures.append((seed, result.error, result.observations[-1:] if result.observations else None))
                continue
            answer = json.dumps(result.actions[-1]["parameters"]["answer"])
            if len(answer) > 100:
                failures.append((seed, "answer longer than 100 characters", answer))
        assert not failures, f"{name} {difficulty}: {failures[:3]}"


@pytest.mark.parametrize("name", sorted(ENV_FILES))
def test_generation_is_deterministic_and_well_formed(pool, name):
    source = source_of(name)
    for difficulty in DIFFICULTIES:
        a = pool.call_function(source, "generate", 7, difficulty)
        b = pool.call_function(source, "generate", 7, difficulty)
        assert a == b
        env_name, params = parse_env_str(a)
        assert env_name == name and isinstance(params, dict)
    seeds = {pool.call_function(source, "generate", s, "medium") for s in range(5)}
    assert len(seeds) > 1, f"{name}: generate ignores its seed"


def _wrong(answer):
    if isinstance(answer, bool):
        return not answer
    if isinstance(answer, (int, float)):
        return answer + 1
    if isinstance(answer, str):
        return answer + "x"
    if isinstance(answer, list):
        return answer + [answer[0]] if answer else [1]
    raise AssertionError(f"unexpected answer type {type(answer)}")


@pytest.mark.parametrize("name", sorted(ENV_FILES))
def test_wrong_answer_scores_zero_and_malformed_calls_are_errors(pool, name):
    source = source_of(name)
    spec = extract_env_spec(source)
    env_str = pool.call_function(source, "generate", 3, "easy")
    sid = pool.open_session(source, env_str)
    try:
        # Text that is not a tool call is answered by the pool before it reaches the env.
        for call in ("this is not json", json.dumps({"parameters": {}})):
            result = pool.step(sid, call)
            assert result.observation.startswith("Error:") and result.error == "invalid_action"
        # Everything else reaches the env's step(), which must answer "Error: ..." itself: an
        # exception escaping step() would come back with result.error set.
        calls = [
            {"name": "NoSuchTool", "parameters": {}},
            {"name": "Done", "parameters": {}},
            {"name": "Done", "parameters": {"answer": {"bogus": [1]}}},
        ]
        for tool in (t for t in spec.tools if t.params and t.name != "Done"):
            calls.append({"name": tool.name, "parameters": {}})  # missing parameters
            calls.append({"name": tool.name, "parameters": {p.name: {"bogus": [1]} for p in tool.params}})
            calls.append({"name": tool.name, "parameters": {p.name: None for p in tool.params}})
        for call in calls:
            result = pool.step(sid, json.dumps(call))
            assert result.observation.startswith("Error:"), f"{name}: {call!r} -> {result.observation[:120]!r}"
            assert result.error is None, f"{name}: {call!r} raised: {result.observation[:200]!r}"
            assert not result.done and result.reward == 0
        ref = pool.get_ref_answer(source, env_str)
        result = pool.step(sid, {"name": "Done", "parameters": {"answer": _wrong(ref)}})
        assert result.done and result.reward == 0, f"{name}: wrong answer {_wrong(ref)!r} vs {ref!r}"
    finally:
        pool.close_session(sid)
