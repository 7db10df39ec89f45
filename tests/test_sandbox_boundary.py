"""Values crossing the sandbox boundary are checked in the parent: rewards that are not finite or
not in the declared range, oversized error messages, observations and results, and results made
of shared references (small as pickled, exponential written out) never reach the caller as
they are. Each attack runs beside a well-behaved session whose every observation and reward is
checked against the in-process reference, on the same worker."""
import json
import math

import pytest

from sandbox.limits import SandboxLimits
from sandbox.pool import SandboxPool
from sandbox.replies import checked_reply
from sandbox.results import SandboxError
from sandbox_envs import COUNTER_ENV, counter_env_str, replay_counter

HOSTILE_ENV = '''
import json


def generate(seed, difficulty):
    if difficulty == "huge":
        return "x" * 20_000_000
    shared = [0]
    for _ in range(80):
        shared = [shared, shared]
    # The worker's own JSON check of the result would take forever: switch it off, as hostile
    # code can, so the parent's check is what stands.
    json.dumps = lambda *args, **kwargs: ""
    return shared


class HostileEnv:
    def __init__(self, env_str=None):
        self.func_mapping = {"Observe": 0, "Reward": 1, "Raise": 2, "Done": 3}
        self.step_count, self._reward, self._done = 0, 0.0, False

    finished = property(lambda self: self._done)
    reward = property(lambda self: self._reward)

    @staticmethod
    def from_env_str(env_str):
        return HostileEnv(env_str)

    def step(self, action):
        # A dict action too: the sandbox's oracle recorder then keeps the object as it is.
        call = action if isinstance(action, dict) else json.loads(action)
        self.step_count += 1
        if call["name"] == "Reward":
            self._reward = {"nan": float("nan"), "inf": float("inf"), "big": 5.0, "neg": -1.0}[call["parameters"]["kind"]]
            return True, "set"
        if call["name"] == "Raise":
            raise RuntimeError("x" * 200_000_000)
        return True, "ok"

    def get_ref_answer(self):
        return 0

    def solve(self):
        shared = {"name": "Observe", "parameters": {}}
        for _ in range(60):
            shared = {"name": "Observe", "parameters": {"a": shared, "b": shared}}
        self.step(shared)
'''


@pytest.fixture(scope="module")
def pool():
    with SandboxPool(limits=SandboxLimits(call_deadline_s=20.0, oracle_deadline_s=30.0)) as p:
        yield p


def neighbour_checks(pool, sid, env_str, actions):
    """The neighbour's next Observe matches the in-process reference after `actions`."""
    result = pool.step(sid, {"name": "Observe", "parameters": {}})
    assert result.error is None and result.observation == replay_counter(env_str, actions)
    assert result.reward == 0.0 and not result.done


@pytest.mark.parametrize("kind", ["nan", "inf", "big", "neg"])
def test_a_reward_outside_the_range_loses_only_its_session(pool, kind):
    env_str = counter_env_str(11)
    neighbour = pool.open_session(COUNTER_ENV, env_str)
    hostile = pool.open_session(HOSTILE_ENV, "HostileEnv@{}")
    add = {"name": "Add", "parameters": {"x": 4}}
    assert pool.step(neighbour, add).error is None
    result = pool.step(hostile, {"name": "Reward", "parameters": {"kind": kind}})
    assert result.error == "session_lost" and result.done and result.reward == 0.0
    assert "bad_result" not in result.observation and "declared range [0, 1]" in result.observation
    assert math.isfinite(pool.session_status(hostile)["reward"])
    neighbour_checks(pool, neighbour, env_str, [add])
    again = pool.step(hostile, {"name": "Observe", "parameters": {}})
    assert again.error == "session_lost"  # it stays lost: its state is not the parent's any more
    pool.close_session(hostile)
    pool.close_session(neighbour)


def test_a_200_mb_exception_message_is_cut(pool):
    env_str = counter_env_str(12)
    neighbour = pool.open_session(COUNTER_ENV, env_str)
    hostile = pool.open_session(HOSTILE_ENV, "HostileEnv@{}")
    result = pool.step(hostile, {"name": "Raise", "parameters": {}})
    assert result.error == "env_exception" and result.observation.startswith("Error: RuntimeError: xxx")
    assert len(result.observation) <= SandboxLimits().max_error_chars + 100
    neighbour_checks(pool, neighbour, env_str, [])
    pool.close_session(hostile)
    pool.close_session(neighbour)


def test_function_results_are_bounded_and_never_expanded():
    with SandboxPool() as own:  # the second call leaves its worker's json patched
        with pytest.raises(SandboxError, match="bad_result: .*more than 10,000,000 characters written out"):
            own.call_function(HOSTILE_ENV, "generate", 0, "huge")
        with pytest.raises(SandboxError, match="bad_result: .*more than 10,000,000 characters written out"):
            own.call_function(HOSTILE_ENV, "generate", 0, "shared")  # 2**80 leaves, 80 objects as pickled


def test_an_oracle_transcript_of_shared_references_is_refused(pool):
    result = pool.run_oracle(HOSTILE_ENV, "HostileEnv@{}")
    assert result.error is not None and "bad_result" in result.error and result.reward == 0.0


@pytest.mark.parametrize("op, reply, message", [
    (("step", "s0", "{}"), ("ok", ("x", True, float("nan"))), "reward nan"),
    (("step", "s0", "{}"), ("ok", ("x" * 100_001, True, 1.0)), "observation of 100,001 characters"),
    (("step", "s0", "{}"), ("ok", (b"x", True, 1.0)), "observation of type bytes"),
    (("step", "s0", "{}"), ("ok", ("x", 1, 1.0)), "done 1 is not a bool"),
    (("open", "s0", "", "", []), ("ok", {"done": False, "reward": -0.5}), "reward -0.5"),
    (("oracle", "", ""), ("ok", {"reward": 1.0, "steps": -1, "actions": [], "observations": [], "error": None}),
     "oracle steps -1"),
    (("call", "", "generate", []), ("ok", {1: "a"}), "dict key of type int"),
    (("call", "", "generate", []), ("ok", {"a": float("inf")}), "non-finite number"),
    (("close", "s0"), ("ok", "extra"), "close reply must be None"),
    (("step", "s0", "{}"), ["ok"], "malformed reply"),
    (("step", "s0", "{}"), ("fail", "x" * 65, "m"), "malformed failure reply"),
])
def test_checked_reply_names_the_bound(op, reply, message):
    status, kind, why = checked_reply(op, reply, SandboxLimits())
    assert (status, kind) == ("fail", "bad_result") and message in why


def test_plain_replies_pass_unchanged_and_errors_are_cut():
    limits = SandboxLimits(max_error_chars=10)
    assert checked_reply(("step", "s0", "{}"), ("ok", ("obs", False, 1)), limits) == ("ok", ("obs", False, 1.0))
    value = {"done": True, "reward": 0.0}
    assert checked_reply(("open", "s", "", "", []), ("ok", value), limits) == ("ok", value)
    result = [{"a": [1, 2.5, None, True, "s"]}]
    assert checked_reply(("call", "", "f", []), ("ok", result), limits) == ("ok", result)
    assert checked_reply(("step", "s0", "{}"), ("fail", "timeout", "y" * 25), limits) == (
        "fail", "timeout", "y" * 10 + " [cut: 15 more characters]")
    json.dumps(result)


def test_reward_range_is_checked():
    with pytest.raises(ValueError, match="reward_range"):
        SandboxLimits(reward_range=(1.0, 0.0))


FORGING_ENV = HOSTILE_ENV.replace('''        if call["name"] == "Raise":''', '''        if call["name"] == "Forge":
            import gc
            import pickle

            pipes = [o for o in gc.get_objects() if type(o).__name__ == "Connection"]
            for pipe in pipes:  # extra replies, old-style and with a guessed request id
                pipe.send_bytes(pickle.dumps([("ok", ("forged", True, 1.0))] * 3))
                pipe.send_bytes(pickle.dumps([(12345, ("ok", ("forged", True, 1.0)))] * 3))
            return True, f"sent on {len(pipes)} pipes"
        if call["name"] == "Raise":''')


def test_extra_replies_on_the_pipe_shift_no_answer(pool):
    env_str = counter_env_str(13)
    neighbour = pool.open_session(COUNTER_ENV, env_str)
    hostile = pool.open_session(FORGING_ENV, "HostileEnv@{}")
    before = pool.stats["unmatched_replies"]
    adds = [{"name": "Add", "parameters": {"x": x}} for x in (2, 9, 5)]
    forged = pool.step_many([(hostile, {"name": "Forge", "parameters": {}}), (neighbour, adds[0])])
    assert forged[0].observation.startswith("sent on ") and forged[0].observation != "sent on 0 pipes"
    assert not forged[0].done and forged[0].reward == 0.0
    for i, add in enumerate(adds[1:], 2):
        assert pool.step(neighbour, add).error is None
    neighbour_checks(pool, neighbour, env_str, adds)
    assert pool.step(hostile, {"name": "Observe", "parameters": {}}).observation == "ok"
    assert pool.stats["unmatched_replies"] - before >= 6
    pool.close_session(hostile)
    pool.close_session(neighbour)
