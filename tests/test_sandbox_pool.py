import asyncio
import json
import os

import pytest

from sandbox.async_sandbox import AsyncSandbox
from sandbox.limits import SandboxLimits
from sandbox.pool import SandboxPool
from sandbox.results import SandboxError
from sandbox_envs import COUNTER_ENV, counter_env_str, replay_counter

DATA = os.path.join(os.path.dirname(__file__), "data")
UPSTREAM_ENV = os.path.join(os.path.dirname(DATA), "..", "experiments", "released_example", "Toy_00001_I__RunningMaxEnv.py")


@pytest.fixture(scope="module")
def pool():
    with SandboxPool(limits=SandboxLimits(call_deadline_s=2.0, max_steps=8,
                                                         max_observation_chars=2000)) as p:
        yield p


def _upstream_source():
    with open(UPSTREAM_ENV) as f:
        return f.read()


def test_upstream_env_loads_unchanged_and_plays(pool):
    source = _upstream_source()
    sid = pool.open_session(source, 'RunningMaxEnv@{"values": [3, 9, 2]}')
    assert pool.step(sid, {"name": "Observe", "parameters": {}}).observation == "3"
    missing = pool.step(sid, '{"name": "GetItem", "parameters": {}}')
    assert missing.observation.startswith("Error: 'index' parameter is missing")
    assert missing.error is None  # the env's own error observation is a normal step
    result = pool.step(sid, {"name": "Done", "parameters": {"answer": 9}})
    assert (result.done, result.reward, result.step_count) == (True, 1.0, 3)
    after = pool.step(sid, {"name": "Observe", "parameters": {}})
    assert (after.error, after.done) == ("episode_done", True)
    pool.close_session(sid)
    assert pool.worker_info()[0]["missing"] == [] and pool.isolation["seccomp"]


def test_oracle_matches_upstream_record_round_counts(pool):
    source = _upstream_source()
    with open(os.path.join(DATA, "upstream_training_records.jsonl")) as f:
        records = [json.loads(line) for line in f]
    for record in records:
        env_str = record["ability"].split("__", 1)[1]
        oracle = pool.run_oracle(source, env_str)
        assert oracle.error is None
        assert oracle.reward == 1.0
        assert oracle.steps == len(oracle.actions) == record["extra_info"]["solve_fc_round"]
        assert oracle.actions[0] == {"name": "Observe", "parameters": {}}
        assert oracle.observations[-1].endswith("reward=1")
        assert pool.get_ref_answer(source, env_str) == max(json.loads(env_str.split("@", 1)[1])["values"])


def test_call_function_runs_generate(pool):
    assert pool.call_function(COUNTER_ENV, "generate", 4, "hard") == 'CounterEnv@{"seed": 43}'
    with pytest.raises(SandboxError, match="no module-level function"):
        pool.call_function(COUNTER_ENV, "nope")


def test_invalid_actions_do_not_reach_the_env(pool):
    sid = pool.open_session(COUNTER_ENV, counter_env_str(5))
    for bad in ["not json", "[1]", {"parameters": {}}, {"name": 3, "parameters": {}},
                {"name": "Add", "parameters": [1]}]:
        result = pool.step(sid, bad)
        assert result.error == "invalid_action" and result.observation.startswith("Error: invalid tool call")
    assert pool.accepted_actions(sid) == []
    assert pool.step(sid, {"name": "Observe"}).observation == "h=5 steps=1"  # parameters default to {}


def test_failed_call_leaves_state_unchanged(pool):
    sid = pool.open_session(COUNTER_ENV, counter_env_str(1))
    pool.step(sid, {"name": "Add", "parameters": {"x": 2}})
    failed = pool.step(sid, {"name": "Fail", "parameters": {}})
    assert failed.error == "env_exception"
    assert failed.observation == "Error: RuntimeError: tool failed on purpose (line 47 in step)"
    crashed = pool.step(sid, {"name": "Crash", "parameters": {}})
    assert crashed.error == "crash" and "exit code 7" in crashed.observation
    observed = pool.step(sid, {"name": "Observe", "parameters": {}}).observation
    assert observed == replay_counter(counter_env_str(1), [{"name": "Add", "parameters": {"x": 2}}])


def test_step_budget_and_observation_cap(pool):
    sid = pool.open_session(COUNTER_ENV, counter_env_str(0))
    results = pool.step_many([(sid, {"name": "Observe", "parameters": {}})] * 9)
    assert [r.error for r in results] == [None] * 8 + ["max_steps"]
    assert results[-1].done and results[-1].step_count == 8
    big = pool.open_session(COUNTER_ENV.replace('f"h={self.h} steps={self.step_count}"', '"y" * 5000'),
                            counter_env_str(0))
    result = pool.step(big, {"name": "Observe", "parameters": {}})
    assert result.error == "observation_too_long"
    assert "5000 chars exceeds the limit of 2000" in result.observation


def test_step_many_spreads_over_workers_and_keeps_order(pool):
    sids = [pool.open_session(COUNTER_ENV, counter_env_str(i)) for i in range(6)]
    calls = [(sid, {"name": "Add", "parameters": {"x": k}}) for k in range(3) for sid in sids]
    results = pool.step_many(calls)
    for sid_index, sid in enumerate(sids):
        expected = replay_counter(counter_env_str(sid_index), pool.accepted_actions(sid))
        assert pool.step(sid, {"name": "Observe"}).observation == expected
    assert len({r.observation for r in results}) > 1
    with pytest.raises(KeyError, match="unknown session"):
        pool.step_many([("nope", {"name": "Observe"})])


def test_load_errors_raise(pool):
    with pytest.raises(SandboxError, match="no class 'MissingEnv'"):
        pool.open_session(COUNTER_ENV, "MissingEnv@{}")


def test_async_face_coalesces_steps(pool):
    async def play():
        sandbox = AsyncSandbox(pool)
        sids = await asyncio.gather(*[sandbox.open_session(COUNTER_ENV, counter_env_str(i)) for i in range(4)])
        results = await asyncio.gather(*[sandbox.step(sid, {"name": "Add", "parameters": {"x": 1}})
                                         for sid in sids])
        oracle = await sandbox.run_oracle(COUNTER_ENV, counter_env_str(9))
        for sid in sids:
            await sandbox.close_session(sid)
        return results, oracle

    results, oracle = asyncio.run(play())
    assert [r.observation for r in results] == [str((i * 31 + 1) % 1000003) for i in range(4)]
    assert (oracle.reward, oracle.steps) == (1.0, 3)


def test_closed_pool_refuses():
    p = SandboxPool()
    p.close()
    with pytest.raises(RuntimeError, match="closed"):
        p.open_session(COUNTER_ENV, counter_env_str(0))


def test_worker_module_cache_is_bounded():
    from sandbox import worker
    host = worker._Host(SandboxLimits())
    for k in range(worker.MODULE_CACHE_SIZE + 10):
        assert host.call(f"def generate(seed, difficulty):\n    return {k} + seed\n", "generate", [1, "easy"]) == k + 1
    assert len(host.modules) == worker.MODULE_CACHE_SIZE


@pytest.mark.parametrize("field", ["call_deadline_s", "max_steps", "address_space_bytes"])
def test_limits_must_be_positive(field):
    with pytest.raises(ValueError, match=field):
        SandboxLimits(**{field: 0})


def test_nondeterministic_env_that_cannot_be_rebuilt_is_reported_lost(pool):
    # The constructor works only once per worker, so the rebuild after a failing call fails.
    source = COUNTER_ENV.replace("        self.seed = options.get(\"seed\", 0)\n",
                                 "        self.seed = options.get(\"seed\", 0)\n"
                                 "        import builtins\n"
                                 "        if getattr(builtins, '_built_once', False):\n"
                                 "            raise RuntimeError('second construction')\n"
                                 "        builtins._built_once = True\n")
    sid = pool.open_session(source, counter_env_str(0))
    lost = pool.step(sid, {"name": "Fail", "parameters": {}})
    assert lost.error == "session_lost" and lost.done
    assert "second construction" in lost.observation
    after = pool.step(sid, {"name": "Observe", "parameters": {}})
    assert after.error == "session_lost" and after.done
    assert pool.session_status(sid)["done"]


def test_workers_never_inherit_jax():
    import jax  # noqa: F401  (the learner process has it imported)
    probe = "import sys\n\ndef loaded():\n    return sorted(m for m in ('jax', 'numpy', 'codegym_jax') if m in sys.modules)\n"
    with SandboxPool() as fresh:
        assert fresh.call_function(probe, "loaded") == []
