"""HTTP env server exposing a SandboxPool, so rollouts can use env capacity on other machines.

    python -m sandbox.server --port 8077

POST JSON endpoints: /start {env_source, env_str} -> {session_id}; /step {session_id, action};
/step_many {calls: [[session_id, action], ...]}; /done, /reward, /close {session_id};
/oracle {env_source, env_str}; /call {env_source, function, args} -> {result} (a module-level
function of the env file, e.g. generate(seed, difficulty)). GET /health, /metrics.

Access: binds 127.0.0.1 by default; any other address needs a bearer token (several, comma-separated
in the token variable, give clients each their own); then a request without `Authorization: Bearer
<token>` gets 401. Session ids are random server-issued tokens bound to the client that opened them
(peer IP + Authorization header): any other client naming one gets the 404 of an unknown id.

Limits, each refusal counted in /metrics: past `max_inflight` concurrent requests, 429; past
`max_connections` open connections, a new one gets 503 from the accept loop (no thread) and is
closed; past `max_sessions` open sessions, /start gets 429; a session unused for `session_idle_s`
is closed (its owner then gets 404 "expired"). Strict framing, closing the connection: POST without
Content-Length 411; any Transfer-Encoding 501; a Content-Length not plain digits, or given twice, or a
malformed header line 400; a body over MAX_BODY_BYTES 413. Time: each socket read and each reply write
within READ_TIMEOUT_S (an idle keep-alive connection is closed after it), and a whole request (request
line, headers, body) within REQUEST_DEADLINE_S of its first byte; past either the connection is
closed unanswered. Bad JSON or fields get 400, unknown sessions 404.
"""

import argparse
import collections
import contextlib
import dataclasses
import hmac
import io
import ipaddress
import json
import os
import re
import secrets
import signal
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sandbox.limits import SandboxLimits
from sandbox.pool import SandboxPool
from sandbox.results import SandboxError

READ_TIMEOUT_S = 30.0
REQUEST_DEADLINE_S = 30.0
MAX_BODY_BYTES = 8 << 20
MAX_CONNECTIONS = 256
REFUSED_LINGER_S = 1.0  # a refused connection stays half-closed this long, so its 503 can be read
MAX_REFUSED_LINGERING = 64  # past this many, the oldest refused connections are closed at once
MAX_SESSIONS = 4096
SESSION_IDLE_S = 900.0

# RFC 9110 field-name characters: anything else (a space before the colon, a folded line) is how
# requests are smuggled past a proxy that reads the headers differently.
_FIELD_NAME = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


class HTTPError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _field(body: dict, name: str, kind):
    value = body.get(name)
    if not isinstance(value, kind):
        raise HTTPError(400, f"field {name!r} must be a {getattr(kind, '__name__', kind)}, got {value!r:.80}")
    return value


def _tokens(token) -> tuple[str, ...]:
    if not token:  # None or "": no token, as before several were allowed
        return ()
    tokens = (token,) if isinstance(token, str) else tuple(token)
    for value in tokens:
        if not isinstance(value, str) or not value:
            raise ValueError(f"bearer tokens must be non-empty strings, got {value!r}")
    return tokens


def _positive(name: str, value):
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return value


@dataclasses.dataclass(frozen=True)
class _Owner:
    """Who opened a session: the peer IP and the Authorization header it presented."""
    ip: str
    bearer: str

    def matches(self, other: "_Owner") -> bool:
        same_ip = self.ip == other.ip
        return hmac.compare_digest(self.bearer.encode(), other.bearer.encode()) and same_ip


@dataclasses.dataclass
class _Session:
    pool_id: str
    owner: _Owner
    last_used: float  # time.monotonic()
    active: int = 0  # requests using it now: the reaper leaves it alone


def _unknown(session_id: str) -> HTTPError:
    # The only answer for a session the client does not own: it must not tell "exists" apart.
    return HTTPError(404, f"unknown session id {session_id!r}")


class EnvServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, pool: SandboxPool, host: str = "127.0.0.1", port: int = 0,
                 token: str | tuple[str, ...] | None = None, max_inflight: int = 64,
                 max_connections: int = MAX_CONNECTIONS, max_sessions: int = MAX_SESSIONS,
                 session_idle_s: float = SESSION_IDLE_S):
        self.tokens = _tokens(token)
        if not is_loopback(host) and not self.tokens:
            raise ValueError(f"binding {host!r} (not loopback) requires a bearer token")
        self.max_connections = _positive("max_connections", max_connections)
        self.max_sessions = _positive("max_sessions", max_sessions)
        self.session_idle_s = _positive("session_idle_s", session_idle_s)
        super().__init__((host, port), _Handler)
        self.pool = pool
        self.inflight = threading.BoundedSemaphore(max_inflight)
        self.counters = {"requests": 0, "rejected_overload": 0, "rejected_auth": 0, "bad_requests": 0,
                         "rejected_connections": 0, "rejected_sessions": 0, "expired_sessions": 0}
        self.started = time.time()
        self._connections = 0
        self._connections_lock = threading.Lock()
        self._refusal = _refusal_bytes(f"connection cap reached: {max_connections} connections open "
                                       f"(max_connections={max_connections}); retry later")
        self._refused: collections.deque = collections.deque()  # (close at, socket), oldest first
        self._sessions: dict[str, _Session] = {}
        self._opening = 0  # /start calls admitted under the cap, still in the pool
        # Owners of recently expired ids, so that their owner (only) hears "expired"; bounded.
        self._expired: collections.OrderedDict[str, _Owner] = collections.OrderedDict()
        self._sessions_lock = threading.Lock()
        self._stop_reaper = threading.Event()
        self._reaper = threading.Thread(target=self._reap_loop, daemon=True, name="env-server-reaper")
        self._reaper.start()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def open_connections(self) -> int:
        return self._connections

    # ------------------------------------------------------------------ connections
    def process_request(self, request, client_address):
        with self._connections_lock:
            admitted = self._connections < self.max_connections
            if admitted:
                self._connections += 1
        if not admitted:
            self.counters["rejected_connections"] += 1
            self._refuse(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:  # no thread started: it will not release the slot
            self._connection_closed()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._connection_closed()

    def _connection_closed(self) -> None:
        with self._connections_lock:
            self._connections -= 1

    def _refuse(self, sock) -> None:
        """Answers 503 without a thread: this runs in the accept loop, so nothing here may block."""
        try:
            sock.setblocking(False)
            sock.send(self._refusal)  # a new socket's empty send buffer takes it whole
            sock.shutdown(socket.SHUT_WR)
        except OSError:  # the peer is gone already
            sock.close()
            return
        # Closed only a moment later: closed now, the request the client is still sending would
        # reset the connection before it could read the reply.
        with self._connections_lock:
            self._refused.append((time.monotonic() + REFUSED_LINGER_S, sock))
        self._close_refused()

    def _close_refused(self, every: bool = False) -> None:
        now = time.monotonic()
        with self._connections_lock:
            done = []
            while self._refused and (every or len(self._refused) > MAX_REFUSED_LINGERING
                                     or self._refused[0][0] <= now):
                done.append(self._refused.popleft()[1])
        for sock in done:
            _drain_and_close(sock)

    def service_actions(self):  # serve_forever calls it at least every poll interval
        self._close_refused()

    # ------------------------------------------------------------------ sessions
    def _open(self, body: dict, owner: _Owner) -> dict:
        env_source, env_str = _field(body, "env_source", str), _field(body, "env_str", str)
        with self._sessions_lock:
            if len(self._sessions) + self._opening >= self.max_sessions:
                self.counters["rejected_sessions"] += 1
                raise HTTPError(429, f"session cap reached: {self.max_sessions} sessions open "
                                     f"(max_sessions={self.max_sessions}); close some or retry later")
            self._opening += 1
        try:
            try:
                pool_id = self.pool.open_session(env_source, env_str)
            except SandboxError as exc:
                raise HTTPError(422, str(exc)) from None
            # Not the pool's id: ours is unguessable whatever the pool's looks like.
            session_id = secrets.token_urlsafe(18)
            with self._sessions_lock:
                self._sessions[session_id] = _Session(pool_id, owner, time.monotonic())
        finally:
            with self._sessions_lock:
                self._opening -= 1
        return {"session_id": session_id}

    def _owned(self, session_id: str, owner: _Owner) -> _Session:
        """The session `owner` opened under this id (sessions lock held); else the 404."""
        session = self._sessions.get(session_id)
        if session is not None and session.owner.matches(owner):
            return session
        expired = self._expired.get(session_id)
        if session is None and expired is not None and expired.matches(owner):
            raise HTTPError(404, f"session {session_id!r} expired: unused for more than "
                                 f"{self.session_idle_s:g} s (session_idle_s)")
        raise _unknown(session_id)

    @contextlib.contextmanager
    def _using(self, session_ids: list[str], owner: _Owner):
        """Pool ids of the owner's sessions, kept from the reaper while the request runs."""
        with self._sessions_lock:
            sessions = [self._owned(sid, owner) for sid in session_ids]
            for session in sessions:
                session.active += 1
        try:
            yield [session.pool_id for session in sessions]
        except KeyError:  # the pool no longer has it: closed by a concurrent /close
            raise HTTPError(404, f"session closed during the call: {', '.join(map(repr, session_ids))}") from None
        finally:
            with self._sessions_lock:
                now = time.monotonic()
                for session in sessions:
                    session.active -= 1
                    session.last_used = now

    def _close(self, session_id: str, owner: _Owner) -> dict:
        with self._sessions_lock:
            session = self._owned(session_id, owner)
            del self._sessions[session_id]
        self.pool.close_session(session.pool_id)
        return {"closed": session_id}

    def reap_idle_sessions(self) -> int:
        """Closes the sessions unused for session_idle_s; returns how many."""
        cutoff = time.monotonic() - self.session_idle_s
        with self._sessions_lock:
            idle = [(sid, s) for sid, s in self._sessions.items() if not s.active and s.last_used < cutoff]
            for sid, session in idle:
                del self._sessions[sid]
                self._expired[sid] = session.owner
            while len(self._expired) > self.max_sessions:
                self._expired.popitem(last=False)
            self.counters["expired_sessions"] += len(idle)
        for _, session in idle:
            try:
                self.pool.close_session(session.pool_id)
            except Exception:  # a closed pool holds no session to free; the reaper must live on
                pass
        return len(idle)

    def _reap_loop(self) -> None:
        period = min(60.0, self.session_idle_s / 4)
        while not self._stop_reaper.wait(period):
            self.reap_idle_sessions()

    def _stop_reaping(self) -> None:
        self._stop_reaper.set()
        if self._reaper is not threading.current_thread():
            self._reaper.join(5.0)  # at most one pool close_session in progress

    def shutdown(self):
        self._stop_reaping()
        super().shutdown()

    def server_close(self):
        self._stop_reaping()
        self._close_refused(every=True)
        super().server_close()

    # ------------------------------------------------------------------ endpoints
    def handle_post(self, path: str, body: dict, owner: _Owner):
        pool = self.pool
        if path == "/start":
            return self._open(body, owner)
        if path == "/step":
            with self._using([_field(body, "session_id", str)], owner) as (pool_id,):
                return dataclasses.asdict(pool.step(pool_id, body.get("action")))
        if path == "/step_many":
            calls = _field(body, "calls", list)
            if not all(isinstance(c, list) and len(c) == 2 and isinstance(c[0], str) for c in calls):
                raise HTTPError(400, "field 'calls' must be a list of [session_id, action] pairs")
            with self._using([sid for sid, _ in calls], owner) as pool_ids:
                results = pool.step_many([(pool_id, action) for pool_id, (_, action) in zip(pool_ids, calls)])
            return {"results": [dataclasses.asdict(r) for r in results]}
        if path in ("/done", "/reward"):
            with self._using([_field(body, "session_id", str)], owner) as (pool_id,):
                return pool.session_status(pool_id)
        if path == "/close":
            return self._close(_field(body, "session_id", str), owner)
        if path == "/oracle":
            result = pool.run_oracle(_field(body, "env_source", str), _field(body, "env_str", str))
            return dataclasses.asdict(result)
        if path == "/call":
            return self._call(body)
        raise HTTPError(404, f"no endpoint POST {path}")

    def _call(self, body: dict) -> dict:
        try:
            value = self.pool.call_function(_field(body, "env_source", str), _field(body, "function", str),
                                            *_field(body, "args", list))
        except SandboxError as exc:
            raise HTTPError(422, str(exc)) from None
        try:
            json.dumps(value)
        except (TypeError, ValueError) as exc:
            raise HTTPError(422, f"{body['function']}() returned a value JSON cannot carry: {exc}") from None
        return {"result": value}

    def handle_get(self, path: str):
        if path == "/health":
            return {"status": "ok", "sessions": self.pool.session_count(),
                    "workers": len(self.pool.worker_info()), "parallelism": os.cpu_count() or 1}
        if path == "/metrics":
            return {**self.counters, **self.pool.stats, "sessions": self.pool.session_count(),
                    "server_sessions": len(self._sessions), "open_connections": self._connections,
                    "uptime_s": time.time() - self.started, "workers": self.pool.worker_info()}
        raise HTTPError(404, f"no endpoint GET {path}")


def _drain_and_close(sock) -> None:
    """Closes a refused connection; unread bytes would make the close a reset."""
    try:
        for _ in range(4):
            if not sock.recv(65536):
                break
    except OSError:  # nothing more to read now (BlockingIOError), or the peer is gone
        pass
    sock.close()


def _refusal_bytes(message: str) -> bytes:
    body = json.dumps({"error": message}).encode()
    head = (f"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n")
    return head.encode() + body


class _DeadlineReader(io.RawIOBase):
    """The connection's socket reads: each within the socket timeout, and all those of one request
    within REQUEST_DEADLINE_S of its first byte, so that trickling bytes cannot hold a thread."""

    def __init__(self, sock, timeout: float):
        self._sock = sock
        self._timeout = timeout
        self._current = timeout  # the socket's timeout now (setting it costs a system call)
        self._deadline = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._deadline is not None:
            left = self._deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"request not received within {REQUEST_DEADLINE_S:g} s")
            self._set_timeout(min(self._timeout, left))
        count = self._sock.recv_into(buffer)
        if self._deadline is None and count:
            self._deadline = time.monotonic() + REQUEST_DEADLINE_S
        return count

    def next_request(self) -> None:
        """Waiting for a request (keep-alive idle time) is bounded by the socket timeout only."""
        self._deadline = None
        self._set_timeout(self._timeout)

    def request_read(self) -> None:
        """Replies are written under the plain socket timeout, not what is left of the deadline."""
        self._set_timeout(self._timeout)

    def _set_timeout(self, timeout: float) -> None:
        if timeout != self._current:
            self._sock.settimeout(timeout)
            self._current = timeout


class _LineRecorder:
    """Passes readline() through, keeping the raw lines: parsed headers hide how they were spelled."""

    def __init__(self, rfile):
        self._rfile = rfile
        self.lines: list[bytes] = []

    def readline(self, limit: int = -1) -> bytes:
        line = self._rfile.readline(limit)
        self.lines.append(line)
        return line


def _body_length(raw_headers: list[bytes], method: str) -> int | None:
    """The request's body length from its raw header lines; HTTPError when the framing is
    ambiguous. None: no body (a POST must say how long its body is)."""
    lengths = []
    for line in raw_headers:
        if line in (b"\r\n", b"\n", b""):
            break
        name, colon, value = line.rstrip(b"\r\n").partition(b":")
        if not colon or not _FIELD_NAME.fullmatch(name):
            raise HTTPError(400, f"malformed header line {line!r:.100}")
        if name.lower() == b"transfer-encoding":
            raise HTTPError(501, f"Transfer-Encoding {value.strip().decode('latin-1')!r} is not supported; "
                                 f"send the body with a Content-Length")
        if name.lower() == b"content-length":
            lengths.append(value[1:] if value.startswith(b" ") else value)  # "Content-Length: 5"
    if len(lengths) > 1:
        shown = ", ".join(repr(v.decode("latin-1")) for v in lengths)
        raise HTTPError(400, f"Content-Length given {len(lengths)} times ({shown})")
    if not lengths:
        if method == "POST":
            raise HTTPError(411, "a POST needs a Content-Length header")
        return None
    if not lengths[0].isdigit():  # bytes.isdigit: ASCII digits only, no sign, space or comma
        raise HTTPError(400, f"Content-Length {lengths[0].decode('latin-1')!r} is not a non-negative "
                             f"integer (plain ASCII digits)")
    return int(lengths[0])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: one connection carries many steps
    disable_nagle_algorithm = True  # else headers and body in two writes cost a 40 ms delayed ACK
    # Socket timeout of every read and write: a client that sends half a request frees its thread.
    timeout = READ_TIMEOUT_S
    server: EnvServer

    def setup(self):
        super().setup()
        self.rfile.close()  # replaced: its reads would know no request deadline
        self._reader = _DeadlineReader(self.connection, self.timeout)
        self.rfile = io.BufferedReader(self._reader)

    def handle_one_request(self):
        self._reader.next_request()
        super().handle_one_request()

    def parse_request(self) -> bool:
        buffered = self.rfile
        recorder = self.rfile = _LineRecorder(buffered)
        try:
            return super().parse_request()
        finally:
            self.rfile = buffered
            self.raw_headers = recorder.lines

    def log_message(self, format, *args):  # requests are counted in /metrics, not logged
        pass

    def _reply(self, status: int, payload: dict, headers: dict | None = None):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self) -> bool:
        if not self.server.tokens:
            return True
        given = self.headers.get("Authorization", "").encode()
        # Every token compared, so the time taken does not say which one came close.
        matches = [hmac.compare_digest(given, f"Bearer {token}".encode()) for token in self.server.tokens]
        return any(matches)

    def _owner(self) -> _Owner:
        return _Owner(self.client_address[0], self.headers.get("Authorization", ""))

    def _handle(self, method: str):
        server = self.server
        server.counters["requests"] += 1
        try:
            length = _body_length(self.raw_headers, method) or 0
        except HTTPError as exc:  # the bytes after a bad framing would be read as the next request
            server.counters["bad_requests"] += 1
            self.close_connection = True
            return self._reply(exc.status, {"error": str(exc)})
        raw = self.rfile.read(length) if 0 < length <= MAX_BODY_BYTES else b""
        self._reader.request_read()
        if not self._authorized():
            server.counters["rejected_auth"] += 1
            return self._reply(401, {"error": "missing or wrong bearer token"},
                               {"WWW-Authenticate": "Bearer"})
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            return self._reply(413, {"error": f"body of {length} bytes exceeds {MAX_BODY_BYTES}"})
        if not server.inflight.acquire(blocking=False):
            server.counters["rejected_overload"] += 1
            return self._reply(429, {"error": "server overloaded; retry later"}, {"Retry-After": "1"})
        # The slot is freed before the reply is written: a client that has read its reply and
        # sends its next request at once, on another connection, must not find the finished
        # request still holding a slot.
        try:
            status, payload = self._dispatch(method, raw)
        finally:
            server.inflight.release()
        return self._reply(status, payload, {"Retry-After": "1"} if status == 429 else None)

    def _dispatch(self, method: str, raw: bytes) -> tuple[int, dict]:
        """(status, payload) of one admitted request."""
        server = self.server
        path = self.path.split("?", 1)[0]
        try:
            if method == "GET":
                return 200, server.handle_get(path)
            try:
                body = json.loads(raw or b"null")
            except ValueError as exc:
                raise HTTPError(400, f"body is not JSON: {exc}") from None
            except RecursionError:
                raise HTTPError(400, "body is JSON nested too deeply") from None
            if not isinstance(body, dict):
                raise HTTPError(400, f"body must be a JSON object, got {type(body).__name__}")
            return 200, server.handle_post(path, body, self._owner())
        except HTTPError as exc:
            server.counters["bad_requests"] += 1
            return exc.status, {"error": str(exc)}
        except KeyError as exc:
            server.counters["bad_requests"] += 1
            return 404, {"error": str(exc.args[0]) if exc.args else "not found"}
        except RuntimeError as exc:
            return 503, {"error": str(exc)}

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")


def _stop(signum, frame):
    raise KeyboardInterrupt


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8077)
    parser.add_argument("--max-workers", type=int, default=SandboxLimits.max_workers,
                        help="worker processes alive at once (each hosts one environment source)")
    parser.add_argument("--max-inflight", type=int, default=64)
    parser.add_argument("--max-connections", type=int, default=MAX_CONNECTIONS)
    parser.add_argument("--max-sessions", type=int, default=MAX_SESSIONS)
    parser.add_argument("--session-idle-s", type=float, default=SESSION_IDLE_S,
                        help="close sessions unused for this long")
    parser.add_argument("--token-env", default="CODEGYM_SANDBOX_TOKEN",
                        help="environment variable holding the bearer token, or several separated by "
                             "commas, one per client (never a flag: ps shows flags)")
    parser.add_argument("--call-deadline-s", type=float, default=SandboxLimits.call_deadline_s)
    parser.add_argument("--max-steps", type=int, default=SandboxLimits.max_steps)
    args = parser.parse_args(argv)
    limits = SandboxLimits(call_deadline_s=args.call_deadline_s, max_steps=args.max_steps,
                           max_workers=args.max_workers)
    tokens = tuple(t.strip() for t in os.environ.get(args.token_env, "").split(",") if t.strip())
    with SandboxPool(limits=limits) as pool:
        server = EnvServer(pool, args.host, args.port, tokens, args.max_inflight,
                           max_connections=args.max_connections, max_sessions=args.max_sessions,
                           session_idle_s=args.session_idle_s)
        print(f"sandbox env server on {server.url} (up to {args.max_workers} workers)", flush=True)
        signal.signal(signal.SIGTERM, _stop)  # stop like Ctrl-C: close the pool and its workers
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()


if __name__ == "__main__":
    main()
