"""Soak: 1,000 concurrent sessions x 50 steps on 2 workers, with calls that raise, calls that
kill their worker and calls that hang mixed in. Every final state must equal an in-process replay of the actions
the test itself expects to have been accepted (all but the failing ones)."""

import random
import time

from sandbox.limits import SandboxLimits
from sandbox.pool import SandboxPool
from sandbox_envs import COUNTER_ENV, counter_env_str, replay_counter

SESSIONS = 1000
STEPS = 50


def test_soak_with_crashing_workers():
    rng = random.Random(0)
    limits = SandboxLimits(max_steps=STEPS + 1, call_deadline_s=1.0, oracle_deadline_s=60.0)
    with SandboxPool(limits=limits) as pool:
        sids = [pool.open_session(COUNTER_ENV, counter_env_str(i)) for i in range(SESSIONS)]
        expected = {sid: [] for sid in sids}
        crash_rounds = set(rng.sample(range(STEPS), 6))
        hang_rounds = set(rng.sample(sorted(set(range(STEPS)) - crash_rounds), 2))
        kinds = {None: 0, "env_exception": 0, "crash": 0, "timeout": 0}
        start = time.perf_counter()
        for round_index in range(STEPS):
            calls = []
            for sid in sids:
                roll = rng.random()
                if roll < 0.01:
                    calls.append((sid, {"name": "Fail", "parameters": {}}))
                else:
                    action = {"name": "Add", "parameters": {"x": rng.randrange(1000)}}
                    calls.append((sid, action))
            if round_index in crash_rounds:
                victim = rng.randrange(SESSIONS)
                calls[victim] = (sids[victim], {"name": "Crash", "parameters": {}})
            if round_index in hang_rounds:
                victim = rng.randrange(SESSIONS)
                calls[victim] = (sids[victim], {"name": "Hang", "parameters": {}})
            rng.shuffle(calls)
            for (sid, action), result in zip(calls, pool.step_many(calls)):
                kinds[result.error] += 1
                if result.error is None:
                    expected[sid].append(action)
                else:
                    assert result.observation.startswith("Error: ")
        elapsed = time.perf_counter() - start
        assert kinds["crash"] == len(crash_rounds)
        assert kinds["env_exception"] > 0
        assert kinds["timeout"] == len(hang_rounds)
        assert pool.stats["worker_restarts"] == len(crash_rounds) + len(hang_rounds)
        assert pool.session_count() == SESSIONS
        finals = pool.step_many([(sid, {"name": "Observe", "parameters": {}}) for sid in sids])
        for index, (sid, final) in enumerate(zip(sids, finals)):
            assert final.error is None
            assert pool.accepted_actions(sid) == expected[sid] + [{"name": "Observe", "parameters": {}}]
            assert final.observation == replay_counter(counter_env_str(index), expected[sid])
        print(f"soak: {SESSIONS * STEPS} steps in {elapsed:.1f} s, {pool.stats}")
