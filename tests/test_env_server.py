import dataclasses
import http.client
import json
import socket
import threading

import pytest

from sandbox.client import EnvClient, EnvServerError
from sandbox.limits import SandboxLimits
from sandbox.pool import SandboxPool
from sandbox.server import EnvServer
from sandbox_envs import COUNTER_ENV, attack_env, counter_env_str, replay_counter

SLOW_ENV = attack_env("import time\ntime.sleep(0.6)\nreturn 'slept'")


def _serve(pool, **kwargs):
    server = EnvServer(pool, **kwargs)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


@pytest.fixture(scope="module")
def servers():
    pools = [SandboxPool(num_workers=1, limits=SandboxLimits(call_deadline_s=2.0)) for _ in range(2)]
    running = [_serve(pool) for pool in pools]
    yield running
    for server, pool in zip(running, pools):
        server.shutdown()
        server.server_close()
        pool.close()


def _raw(server, method, path, body: bytes | None = None, headers=None, host="127.0.0.1"):
    conn = http.client.HTTPConnection(host, server.server_address[1], timeout=10)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    payload = json.loads(response.read())
    conn.close()
    return response.status, payload


def test_sticky_sessions_across_servers(servers):
    client = EnvClient([s.url for s in servers])
    sids = [client.open_session(COUNTER_ENV, counter_env_str(i)) for i in range(4)]
    assert sorted({sid.split(":")[0] for sid in sids}) == ["0", "1"]
    for k in range(3):
        results = client.step_many([(sid, {"name": "Add", "parameters": {"x": k}}) for sid in sids])
        assert all(r.error is None for r in results)
    for i, sid in enumerate(sids):
        expected = replay_counter(counter_env_str(i), [{"name": "Add", "parameters": {"x": k}} for k in range(3)])
        assert client.step(sid, {"name": "Observe", "parameters": {}}).observation == expected
    done = client.step(sids[0], {"name": "Done", "parameters": {"answer": 0}})
    assert done.done and done.reward == 1.0
    assert client.session_status(sids[0]) == {"done": True, "reward": 1.0, "step_count": 5}
    for sid in sids:
        client.close_session(sid)
    with pytest.raises(EnvServerError) as info:
        client.step(sids[1], {"name": "Observe", "parameters": {}})
    assert info.value.status == 404
    oracle = client.run_oracle(COUNTER_ENV, counter_env_str(3))
    assert (oracle.reward, oracle.steps) == (1.0, 3)
    assert client.health()["status"] == "ok"
    assert client.metrics(1)["requests"] > 0


def test_client_skips_a_dead_server(servers):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    client = EnvClient([dead, servers[0].url], retries=1, backoff_s=0.01)
    sid = client.open_session(COUNTER_ENV, counter_env_str(0))
    assert sid.startswith("1:")
    assert client.step(sid, {"name": "Observe", "parameters": {}}).observation == "h=0 steps=1"


@pytest.mark.parametrize("method, path, body, status, message", [
    ("POST", "/step", b"{not json", 400, "not JSON"),
    ("POST", "/step", b"[1, 2]", 400, "JSON object"),
    ("POST", "/start", b'{"env_str": "A@{}"}', 400, "env_source"),
    ("POST", "/step", b'{"session_id": "nope", "action": {}}', 404, "unknown session"),
    ("POST", "/close", b'{"session_id": "nope"}', 404, "unknown session"),
    ("POST", "/step_many", b'{"calls": [1]}', 400, "pairs"),
    ("POST", "/start", json.dumps({"env_source": "class (", "env_str": "A@{}"}).encode(), 422, "SyntaxError"),
    ("POST", "/nowhere", b"{}", 404, "no endpoint"),
    ("GET", "/nowhere", None, 404, "no endpoint"),
])
def test_malformed_requests(servers, method, path, body, status, message):
    got_status, payload = _raw(servers[0], method, path, body)
    assert got_status == status and message in payload["error"]


def test_oversized_body_is_refused(servers):
    conn = http.client.HTTPConnection("127.0.0.1", servers[0].server_address[1], timeout=10)
    conn.putrequest("POST", "/step")
    conn.putheader("Content-Length", str(64 << 20))
    conn.endheaders()
    response = conn.getresponse()
    assert response.status == 413
    conn.close()


def test_non_loopback_requires_token():
    with SandboxPool(num_workers=1) as pool:
        with pytest.raises(ValueError, match="requires a bearer token"):
            EnvServer(pool, host="0.0.0.0", port=0)
        server = _serve(pool, host="0.0.0.0", port=0, token="s3cret")
        try:
            assert _raw(server, "GET", "/health")[0] == 401
            assert _raw(server, "GET", "/health", headers={"Authorization": "Bearer wrong"})[0] == 401
            body = json.dumps({"env_source": COUNTER_ENV, "env_str": counter_env_str(0)}).encode()
            assert _raw(server, "POST", "/start", body)[0] == 401
            assert pool.session_count() == 0
            status, payload = _raw(server, "GET", "/health", headers={"Authorization": "Bearer s3cret"})
            assert status == 200 and payload["status"] == "ok"
            client = EnvClient(f"http://127.0.0.1:{server.server_address[1]}", token="s3cret")
            sid = client.open_session(COUNTER_ENV, counter_env_str(0))
            assert client.step(sid, {"name": "Add", "parameters": {"x": 1}}).observation == "1"
        finally:
            server.shutdown()
            server.server_close()


def test_overload_answers_429_and_client_retries():
    with SandboxPool(num_workers=1) as pool:
        server = _serve(pool, max_inflight=1)
        try:
            client = EnvClient(server.url, retries=0)
            slow = client.open_session(SLOW_ENV, "AttackEnv@{}")
            busy = threading.Thread(target=client.step, args=(slow, {"name": "Attack", "parameters": {}}))
            busy.start()
            _wait_for(lambda: server.inflight._value == 0)
            with pytest.raises(EnvServerError) as info:
                client.step(slow, {"name": "Observe", "parameters": {}})
            assert info.value.status == 429
            patient = EnvClient(server.url, retries=6, backoff_s=0.05)
            assert patient.step(slow, {"name": "Observe", "parameters": {}}).observation == "1000"
            busy.join()
            assert patient.metrics()["rejected_overload"] >= 1
        finally:
            server.shutdown()
            server.server_close()


def test_clients_taking_turns_on_one_slot_are_never_refused(monkeypatch):
    """A request's slot is free once its reply is out: two clients (two connections) taking turns
    on one slot never see 429, even when a handler lingers after writing its reply (as a loaded
    machine makes it)."""
    import time

    from sandbox import server as server_module

    write_reply = server_module._Handler._reply

    def lingering_reply(self, *args, **kwargs):
        write_reply(self, *args, **kwargs)
        time.sleep(0.05)

    monkeypatch.setattr(server_module._Handler, "_reply", lingering_reply)
    with SandboxPool(num_workers=1) as pool:
        server = _serve(pool, max_inflight=1)
        try:
            clients = [EnvClient(server.url, retries=0) for _ in range(2)]
            sid = clients[0].open_session(COUNTER_ENV, counter_env_str(0))
            for turn in range(20):
                clients[(turn + 1) % 2].step(sid, {"name": "Add", "parameters": {"x": 1}})
            assert clients[1].step(sid, {"name": "Observe", "parameters": {}}).observation.endswith(" steps=21")
            assert clients[0].metrics()["rejected_overload"] == 0
        finally:
            server.shutdown()
            server.server_close()


def _wait_for(condition, timeout_s=5.0):
    import time
    end = time.time() + timeout_s
    while not condition():
        assert time.time() < end, "condition not reached"
        time.sleep(0.005)


def test_async_face_over_remote_servers(servers):
    import asyncio

    from sandbox.async_sandbox import AsyncSandbox

    async def play():
        sandbox = AsyncSandbox(EnvClient([s.url for s in servers]))
        sids = await asyncio.gather(*[sandbox.open_session(COUNTER_ENV, counter_env_str(i)) for i in range(4)])
        first = await asyncio.gather(*[sandbox.step(sid, {"name": "Add", "parameters": {"x": 2}}) for sid in sids])
        second = await asyncio.gather(*[sandbox.step(sid, {"name": "Observe", "parameters": {}}) for sid in sids])
        for sid in sids:
            await sandbox.close_session(sid)
        return first, second

    first, second = asyncio.run(play())
    assert [r.observation for r in first] == [str(i * 31 + 2) for i in range(4)]
    assert [r.observation for r in second] == [f"h={i * 31 + 2} steps=2" for i in range(4)]


def _exchange_raw(server, data: bytes) -> str:
    with socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(4096):  # the server closes the connection after the reply
            chunks.append(chunk)
    return b"".join(chunks).decode()


@pytest.mark.parametrize("length", ["lots", "-5"])
def test_bad_content_length(servers, length):
    # What follows a negative length must not be read as a second request.
    smuggled = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
    reply = _exchange_raw(servers[0], f"POST /step HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n"
                                      .encode() + smuggled)
    assert reply.startswith("HTTP/1.0 400") or reply.startswith("HTTP/1.1 400")
    assert f"Content-Length '{length}' is not a non-negative integer" in reply
    assert reply.count("HTTP/1.") == 1


def test_deeply_nested_json_is_a_400(servers):
    body = b"[" * 100_000 + b"]" * 100_000
    status, payload = _raw(servers[0], "POST", "/step", body, {"Content-Length": str(len(body))})
    assert status == 400 and "nested too deeply" in payload["error"]


def test_a_half_sent_body_frees_its_thread(servers, monkeypatch):
    import sandbox.server as server_module

    monkeypatch.setattr(server_module._Handler, "timeout", 0.5)
    with socket.create_connection(("127.0.0.1", servers[0].server_address[1]), timeout=10) as sock:
        sock.sendall(b"POST /step HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"session")
        assert sock.recv(4096) == b""  # closed by the server once the read timed out
    assert _raw(servers[0], "GET", "/health")[0] == 200


def test_session_ids_cannot_be_guessed(servers):
    client = EnvClient([f"http://127.0.0.1:{servers[0].server_address[1]}"])
    first, second = (client.open_session(COUNTER_ENV, counter_env_str(i)) for i in range(2))
    assert len({first.split("-")[-1], second.split("-")[-1]}) == 2 and len(first.split("-")[-1]) == 16
    for guess in ("0:s0", "0:s1", first.rsplit("-", 1)[0] + "-0000000000000000"):
        with pytest.raises(EnvServerError) as err:
            client.step(guess, {"name": "Observe", "parameters": {}})
        assert err.value.status == 404
    client.close()


def test_a_generator_error_comes_back_as_the_pools_error(servers):
    from sandbox.results import SandboxError

    client = EnvClient([s.url for s in servers])
    source = attack_env("return 'x'") + "\n\ndef generate(seed, difficulty):\n    raise ValueError('no ' + difficulty)\n"
    with pytest.raises(SandboxError, match="no hard"):
        client.call_function(source, "generate", 0, "hard")


def test_the_data_stage_builds_the_same_tasks_through_env_servers(servers, tmp_path):
    """`sandbox.server_urls` set: the data stage's generators and oracles run on the servers,
    and the task files equal the local pool's, byte for byte."""
    from codegym_jax.train.config import DataConfig, ExperimentConfig, SandboxConfig, TrainConfig, run_paths
    from codegym_jax.train.data_stage import run_data_stage

    def build(name, sandbox):
        config = ExperimentConfig(
            name=name, sandbox=sandbox, train=TrainConfig(stages=("data", "sft")),
            data=DataConfig(train_envs=("ValidBracketsEnv",), heldout_envs=("MaxSubarrayEnv",), train_per_env=2,
                            val_per_env=1, difficulties=("easy",), min_oracle_steps=1, max_oracle_steps=64))
        config = dataclasses.replace(config, logging=dataclasses.replace(config.logging, run_dir=str(tmp_path / name)))
        return run_data_stage(config, run_paths(config))

    client = EnvClient([s.url for s in servers])
    requests_before = [client.metrics(i)["requests"] for i in range(len(servers))]
    remote = build("remote", SandboxConfig(server_urls=tuple(s.url for s in servers)))
    served = [client.metrics(i)["requests"] - before - 1 for i, before in enumerate(requests_before)]
    local = build("local", SandboxConfig(num_workers=1))
    assert remote.keys() == local.keys() == {"train", "val_seen", "val"}
    for split in remote:
        assert remote[split].read_bytes() == local[split].read_bytes() and remote[split].stat().st_size > 0
    # 3 instances + held-out ones, each a /call (generate) and an /oracle, spread over both servers.
    assert min(served) >= 3, served
