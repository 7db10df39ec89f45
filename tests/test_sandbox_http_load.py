"""Load over HTTP: 500 honest sessions (25 environment sources) x 20 steps through the env
server, with hostile sessions of other sources stepped in the same batches. Every honest
observation and reward must equal an in-process run of the same env: zero wrong answers, zero
lost honest sessions, zero honest calls failed by a neighbour."""

import json
import random
import threading

from sandbox.client import EnvClient
from sandbox.limits import SandboxLimits
from sandbox.pool import SandboxPool
from sandbox.server import EnvServer
from sandbox_envs import COUNTER_ENV, attack_env, counter_env_str

HONEST_SOURCES, SESSIONS_PER_SOURCE, STEPS = 25, 20, 20
HOSTILE = {
    "crash": attack_env("os._exit(9)"),
    "memory_bomb": attack_env("hoard = ['x' * (1 << 20) for _ in range(4096)]"),
    "builtins": attack_env("import builtins\nbuiltins.float = lambda *a: float('nan')\nbuiltins.len = lambda *a: 0"),
    "huge_observation": attack_env("return 'x' * 50_000_000"),
    "nan_reward": attack_env("type(self).reward = property(lambda self: float('nan'))"),
    "hang": attack_env("while True:\n    pass"),
}
HANG_ROUNDS = (3, 11)


def _reference_env(seed: int):
    namespace = {"__name__": "reference_env"}
    exec(COUNTER_ENV, namespace)
    return namespace["CounterEnv"].from_env_str(counter_env_str(seed))


def test_500_sessions_x_20_steps_over_http_with_hostile_neighbours():
    rng = random.Random(7)
    limits = SandboxLimits(call_deadline_s=1.0, address_space_bytes=768 << 20, max_steps=STEPS + 2)
    with SandboxPool(limits=limits) as pool:
        server = EnvServer(pool, max_inflight=64)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        client = EnvClient(server.url, timeout_s=300.0)
        try:
            honest = {}
            for k in range(HONEST_SOURCES):
                source = f"# honest source {k}\n{COUNTER_ENV}"
                for j in range(SESSIONS_PER_SOURCE):
                    seed = k * 1000 + j
                    honest[client.open_session(source, counter_env_str(seed))] = (seed, _reference_env(seed))
            hostile = {name: [client.open_session(source, "AttackEnv@{}") for _ in range(2)]
                       for name, source in HOSTILE.items()}
            wrong, failed, hostile_kinds = 0, 0, set()
            for round_index in range(STEPS - 1):
                calls = [(sid, {"name": "Add", "parameters": {"x": rng.randrange(1000)}}) for sid in honest]
                for name, sids in hostile.items():
                    if name != "hang" or round_index in HANG_ROUNDS:
                        calls += [(sid, {"name": "Attack", "parameters": {}}) for sid in sids]
                rng.shuffle(calls)
                for (sid, action), result in zip(calls, client.step_many(calls)):
                    if sid not in honest:
                        hostile_kinds.add(result.error)
                        continue
                    reference = honest[sid][1]
                    expected = reference.step(json.dumps(action))[1]
                    failed += result.error is not None
                    wrong += (result.observation, result.reward, result.done) != (expected, reference.reward, False)
            finals = client.step_many([(sid, {"name": "Done", "parameters": {"answer": seed % 7}})
                                       for sid, (seed, _) in honest.items()])
            assert (wrong, failed) == (0, 0)
            assert all((r.error, r.reward, r.done) == (None, 1.0, True) for r in finals)
            # The hostile calls failed, each in its own session.
            assert {"crash", "memory", "timeout", "observation_too_long", "session_lost"} <= hostile_kinds
            assert pool.stats["worker_restarts"] >= 3
        finally:
            client.close()
            server.shutdown()
            server.server_close()
