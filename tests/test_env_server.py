import contextlib
import dataclasses
import http.client
import json
import select
import socket
import threading
import time

import pytest

from sandbox.client import EnvClient, EnvServerError, EnvServerUnavailable
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
    pools = [SandboxPool(limits=SandboxLimits(call_deadline_s=2.0)) for _ in range(2)]
    running = [_serve(pool) for pool in pools]
    yield running
    for server, pool in zip(running, pools):
        server.shutdown()
        server.server_close()
        pool.close()


def _raw(server, method, path, body: bytes | None = None, headers=None, host="127.0.0.1", source=None):
    status, data = _exchange(server, method, path, body, headers, host, source)
    return status, json.loads(data)


def _exchange(server, method, path, body=None, headers=None, host="127.0.0.1", source=None):
    """(status, raw reply body) of one request on a new connection, from address `source`."""
    conn = http.client.HTTPConnection(host, server.server_address[1], timeout=10, source_address=source)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


@contextlib.contextmanager
def _running(pool, **kwargs):
    server = _serve(pool, **kwargs)
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def pool():
    with SandboxPool(limits=SandboxLimits(call_deadline_s=2.0)) as shared:
        yield shared


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
    with SandboxPool() as pool:
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
    with SandboxPool() as pool:
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
    with SandboxPool() as pool:
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


@pytest.mark.parametrize("length", ["lots", "-5", "+5", " 5", "5 ", "5,5", "0x10", "1_0", "\u00b2"])
def test_bad_content_length(servers, length):
    # What follows a negative length must not be read as a second request.
    smuggled = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
    reply = _exchange_raw(servers[0], f"POST /step HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n"
                                      .encode("latin-1") + smuggled)
    assert reply.startswith("HTTP/1.0 400") or reply.startswith("HTTP/1.1 400")
    assert f"Content-Length {json.dumps(repr(length))[1:-1]} is not a non-negative integer" in reply
    assert reply.count("HTTP/1.") == 1


SMUGGLED = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.mark.parametrize("headers, body, status, message", [
    (b"Content-Length: 2\r\nContent-Length: 2\r\n", b"{}", 400, "Content-Length given 2 times ('2', '2')"),
    (b"Content-Length: 2\r\nContent-Length: 7\r\n", b"{}", 400, "given 2 times"),
    (b"", b"{}", 411, "needs a Content-Length"),
    (b"Transfer-Encoding: chunked\r\n", b"2\r\n{}\r\n0\r\n\r\n", 501, "Transfer-Encoding 'chunked'"),
    (b"Content-Length: 2\r\nTransfer-Encoding: identity\r\n", b"{}", 501, "not supported"),
    (b"Content-Length : 2\r\n", b"{}", 400, "malformed header line"),  # space before the colon
    (b"X-Note: a\r\n folded\r\nContent-Length: 2\r\n", b"{}", 400, "malformed header line"),  # obs-fold
])
def test_ambiguous_framing_is_refused_and_the_connection_closed(servers, headers, body, status, message):
    """Whatever follows a request whose length is in doubt is never read as a second request."""
    reply = _exchange_raw(servers[0], b"POST /step HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n" + body + SMUGGLED)
    assert reply.startswith(f"HTTP/1.1 {status} ") and message in reply
    assert reply.count("HTTP/1.") == 1  # closed: the smuggled GET got no reply


def test_a_get_needs_no_content_length(servers):
    reply = _exchange_raw(servers[0], b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert reply.startswith("HTTP/1.1 200 ")


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
    first, second = (client.open_session(COUNTER_ENV, counter_env_str(i)).split(":", 1)[1] for i in range(2))
    assert first != second and len(first) == len(second) == 24  # secrets.token_urlsafe(18)
    pool = servers[0].pool
    with pytest.raises(KeyError):  # the server's id is its own, not the pool's
        pool.session_status(first)
    pool_id = pool.open_session(COUNTER_ENV, counter_env_str(0))
    for guess in ("0:s0", "0:s1", f"0:{pool_id}", f"0:{first[:-1]}"):
        with pytest.raises(EnvServerError) as err:
            client.step(guess, {"name": "Observe", "parameters": {}})
        assert err.value.status == 404
    pool.close_session(pool_id)
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


# ---------------------------------------------------------------------- hostile clients
OBSERVE = {"name": "Observe", "parameters": {}}
ALICE, BOB = "alice-token", "bob-token"


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


def _session_requests(session_id):
    """Every request that names a session, as (path, body)."""
    return [("/step", {"session_id": session_id, "action": {"name": "Add", "parameters": {"x": 5}}}),
            ("/step_many", {"calls": [[session_id, OBSERVE]]}), ("/done", {"session_id": session_id}),
            ("/reward", {"session_id": session_id}), ("/close", {"session_id": session_id})]


@pytest.fixture
def two_tenants(pool):
    """A token-protected server with a token per client, and a session alice opened."""
    with _running(pool, token=(ALICE, BOB)) as server:
        alice = EnvClient(server.url, token=ALICE)
        sid = alice.open_session(COUNTER_ENV, counter_env_str(0))
        yield server, alice, sid
        alice.close()


def test_another_token_cannot_use_a_session(two_tenants):
    server, alice, sid = two_tenants
    token = sid.split(":", 1)[1]
    for path, body in _session_requests(token):
        assert _raw(server, "POST", path, json.dumps(body).encode(), _bearer(BOB)) == \
            (404, {"error": f"unknown session id {token!r}"})
    # No step of bob's landed, and the session is still alice's to use and close.
    assert alice.step(sid, OBSERVE).observation == "h=0 steps=1"
    alice.close_session(sid)


def _second_loopback_address() -> str:
    """127.0.0.2: also loopback (Linux routes all of 127/8 there), so a test client can connect
    from another peer IP to a server bound to 127.0.0.1."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.2", 0))
        except OSError:
            pytest.skip("127.0.0.2 is not a local address here")
    return "127.0.0.2"


def test_another_peer_address_cannot_use_a_session_even_with_the_owners_token(two_tenants):
    server, alice, sid = two_tenants
    token = sid.split(":", 1)[1]
    source = (_second_loopback_address(), 0)
    for path, body in _session_requests(token):
        assert _raw(server, "POST", path, json.dumps(body).encode(), _bearer(ALICE), source=source) == \
            (404, {"error": f"unknown session id {token!r}"})
    assert alice.step(sid, OBSERVE).observation == "h=0 steps=1"


def test_a_foreign_session_and_an_unknown_one_get_the_same_404(two_tenants):
    server, alice, sid = two_tenants
    token = sid.split(":", 1)[1]
    body = json.dumps({"session_id": token, "action": OBSERVE}).encode()
    foreign = _exchange(server, "POST", "/step", body, _bearer(BOB))
    alice.close_session(sid)
    unknown = _exchange(server, "POST", "/step", body, _bearer(BOB))  # the same id, now gone
    assert foreign == unknown and foreign[0] == 404
    other = "x" * len(token)  # an id never issued, of the same length
    never = _exchange(server, "POST", "/step", body.replace(token.encode(), other.encode()), _bearer(BOB))
    assert never == (404, foreign[1].replace(token.encode(), other.encode()))


def test_the_session_cap_answers_429_and_the_client_gives_up_as_unavailable(pool):
    with _running(pool, max_sessions=2) as server:
        client = EnvClient(server.url, retries=2, backoff_s=0.01)
        sids = [client.open_session(COUNTER_ENV, counter_env_str(i)) for i in range(2)]
        opened = pool.session_count()
        with pytest.raises(EnvServerUnavailable) as info:
            client.open_session(COUNTER_ENV, counter_env_str(2))
        assert info.value.status == 429 and "max_sessions=2" in info.value.message
        assert pool.session_count() == opened
        assert client.metrics()["rejected_sessions"] == 3  # the first try and both retries
        client.close_session(sids[0])
        client.close_session(client.open_session(COUNTER_ENV, counter_env_str(2)))  # room again
        client.close_session(sids[1])
        client.close()


def test_the_connection_cap_refuses_new_connections_and_serves_held_ones(pool):
    with _running(pool, max_connections=2) as server:
        held = [http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10) for _ in range(2)]
        for conn in held:
            conn.connect()
        _wait_for(lambda: server.open_connections == 2)
        start = time.monotonic()
        status, payload = _raw(server, "GET", "/health")
        assert status == 503 and "max_connections=2" in payload["error"]
        assert time.monotonic() - start < 1.0  # answered at once, by the accept loop
        with pytest.raises(EnvServerUnavailable):
            EnvClient(server.url, retries=0).health()
        for conn in held:  # the held connections are still served
            conn.request("GET", "/metrics")
            response = conn.getresponse()
            assert response.status == 200
            metrics = json.loads(response.read())
        assert metrics["rejected_connections"] == 2 and metrics["open_connections"] == 2
        held.pop().close()
        _wait_for(lambda: server.open_connections == 1)
        assert _raw(server, "GET", "/health")[0] == 200
        held[0].close()


def test_an_idle_session_expires_and_its_owner_is_told(pool):
    with _running(pool, session_idle_s=0.5) as server:
        client = EnvClient(server.url)
        before = pool.session_count()
        idle, busy = (client.open_session(COUNTER_ENV, counter_env_str(i)) for i in range(2))
        end = time.monotonic() + 1.0
        while time.monotonic() < end:  # used every 50 ms: never idle long enough to expire
            client.step(busy, {"name": "Add", "parameters": {"x": 1}})
            time.sleep(0.05)
        _wait_for(lambda: pool.session_count() == before + 1)
        with pytest.raises(EnvServerError) as info:
            client.step(idle, OBSERVE)
        assert info.value.status == 404 and "expired" in info.value.message
        # Anyone else still hears only "unknown": expiry says nothing about whose ids existed.
        token = idle.split(":", 1)[1]
        assert _raw(server, "POST", "/done", json.dumps({"session_id": token}).encode(), _bearer("other")) == \
            (404, {"error": f"unknown session id {token!r}"})
        assert client.step(busy, OBSERVE).error is None
        assert client.metrics()["expired_sessions"] == 1
        client.close_session(busy)
        client.close()
    assert not server._reaper.is_alive()  # stopped with the server


def _closed_after(sock, trickle: bytes, every_s: float, limit_s: float) -> float:
    """Sends `trickle` a byte every `every_s` until the server closes the connection; returns
    the seconds that took."""
    start = time.monotonic()
    for byte in trickle:
        try:
            sock.sendall(bytes([byte]))
            if select.select([sock], [], [], every_s)[0]:
                assert sock.recv(4096) == b"", "the server answered a request it never fully got"
                break
        except (BrokenPipeError, ConnectionResetError):
            break
        assert time.monotonic() - start < limit_s, "the connection stayed open"
    return time.monotonic() - start


@pytest.mark.parametrize("part", ["headers", "body"])
def test_a_request_trickled_past_its_deadline_frees_its_thread(pool, monkeypatch, part):
    """Each byte comes well within the per-read timeout (30 s), but the request as a whole is
    cut at REQUEST_DEADLINE_S."""
    from sandbox import server as server_module

    monkeypatch.setattr(server_module, "REQUEST_DEADLINE_S", 0.5)
    head = b"POST /step HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
    with _running(pool) as server:
        with socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=10) as sock:
            if part == "headers":
                sock.sendall(b"POST /step HTTP/1.1\r\n")
                elapsed = _closed_after(sock, b"X-Slow: " + b"a" * 200, 0.05, 5.0)
            else:
                sock.sendall(head + b"\r\n")
                elapsed = _closed_after(sock, b"{" + b" " * 99, 0.05, 5.0)
        assert 0.4 < elapsed < 2.0
        _wait_for(lambda: server.open_connections == 0)
        assert _raw(server, "GET", "/health")[0] == 200


def test_the_deadline_counts_from_a_requests_first_byte(pool, monkeypatch):
    """Idle time on a kept-alive connection, between requests, is not part of any request."""
    from sandbox import server as server_module

    monkeypatch.setattr(server_module, "REQUEST_DEADLINE_S", 0.3)
    with _running(pool) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
        conn.connect()
        sock = conn.sock
        for _ in range(2):
            time.sleep(0.5)
            conn.request("GET", "/health")
            response = conn.getresponse()
            assert response.status == 200 and json.loads(response.read())["status"] == "ok"
        assert conn.sock is sock  # one connection carried both
        conn.close()
