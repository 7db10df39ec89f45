"""Client of one or more env servers (`sandbox.server`), with retries and sticky sessions.

New sessions go to the servers in turn (skipping ones that refuse or are down); a session's id
carries its server's index, so every later call on it goes to the same server. Calls refused
with 429, and connections refused before a request was sent, are retried with backoff; a step
that may have reached the server is never sent twice.
"""

import concurrent.futures
import http.client
import json
import socket
import threading
import time
import urllib.parse

from sandbox.results import InfrastructureError, OracleResult, SandboxError, StepResult

# Statuses (0: no response at all) that say the server cannot serve now, not that the request
# or the environment is wrong.
UNAVAILABLE_STATUSES = (0, 429, 502, 503, 504)


class EnvServerError(RuntimeError):
    def __init__(self, status: int, message: str):
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


class EnvServerUnavailable(EnvServerError, InfrastructureError):
    """No server could serve the request (after the retries): an infrastructure failure."""


def _server_error(status: int, message: str) -> EnvServerError:
    return (EnvServerUnavailable if status in UNAVAILABLE_STATUSES else EnvServerError)(status, message)


class EnvClient:
    def __init__(self, urls, token: str | None = None, retries: int = 4, timeout_s: float = 60.0,
                 backoff_s: float = 0.05):
        self.urls = [urls] if isinstance(urls, str) else list(urls)
        if not self.urls:
            raise ValueError("EnvClient needs at least one server URL")
        self.token = token
        self.retries = retries
        self.timeout_s = timeout_s
        self.backoff_s = backoff_s
        self._local = threading.local()  # one keep-alive connection per server per thread
        self._next = 0
        self._lock = threading.Lock()
        self._executor = None

    def _connection(self, server: int) -> http.client.HTTPConnection:
        conns = self._local.__dict__.setdefault("conns", {})
        conn = conns.get(server)
        if conn is None:
            parts = urllib.parse.urlsplit(self.urls[server])
            conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=self.timeout_s)
            conns[server] = conn
        return conn

    def _drop(self, server: int) -> None:
        conn = self._local.__dict__.get("conns", {}).pop(server, None)
        if conn is not None:
            conn.close()

    def _request(self, server: int, method: str, path: str, body=None, idempotent: bool = False):
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        for attempt in range(self.retries + 1):
            conn = self._connection(server)
            sent = False
            try:
                if conn.sock is None:
                    conn.connect()  # a refused connect is safe to retry: nothing was sent
                    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                conn.request(method, path, body=data, headers=headers)
                sent = True
                response = conn.getresponse()
                payload = json.loads(response.read() or b"{}")
            except (ConnectionError, OSError, http.client.HTTPException) as exc:
                self._drop(server)
                # A request that may have been executed is only repeated when that is harmless.
                stale_keepalive = isinstance(exc, (http.client.RemoteDisconnected, BrokenPipeError,
                                                   ConnectionResetError)) and attempt == 0
                if attempt == self.retries or (sent and not idempotent and not stale_keepalive):
                    raise _server_error(0, f"{self.urls[server]}{path}: {exc!r}") from exc
                time.sleep(self.backoff_s * 2 ** attempt)
                continue
            if response.status == 429 and attempt < self.retries:
                time.sleep(self.backoff_s * 2 ** attempt)
                continue
            if response.status != 200:
                raise _server_error(response.status, payload.get("error", ""))
            return payload
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ API (mirrors SandboxPool)
    def _next_server(self) -> int:
        with self._lock:
            server = self._next % len(self.urls)
            self._next += 1
        return server

    def open_session(self, env_source: str, env_str: str) -> str:
        last_error = None
        for _ in range(len(self.urls)):
            server = self._next_server()
            try:
                reply = self._request(server, "POST", "/start",
                                      {"env_source": env_source, "env_str": env_str}, idempotent=True)
                return f"{server}:{reply['session_id']}"
            except EnvServerError as exc:
                if exc.status not in UNAVAILABLE_STATUSES:
                    raise  # the env itself is bad: another server will say the same
                last_error = exc
        raise last_error

    @staticmethod
    def _split(session_id: str) -> tuple[int, str]:
        server, sep, sid = session_id.partition(":")
        if not sep or not server.isdigit():
            raise KeyError(f"not a client session id: {session_id!r}")
        return int(server), sid

    def step(self, session_id: str, action) -> StepResult:
        server, sid = self._split(session_id)
        return StepResult(**self._request(server, "POST", "/step", {"session_id": sid, "action": action}))

    def step_many(self, calls) -> list[StepResult]:
        by_server: dict[int, list] = {}
        for index, (session_id, action) in enumerate(calls):
            server, sid = self._split(session_id)
            by_server.setdefault(server, []).append((index, sid, action))
        results = [None] * len(calls)

        def run(server, items):
            reply = self._request(server, "POST", "/step_many",
                                  {"calls": [[sid, action] for _, sid, action in items]})
            for (index, _, _), result in zip(items, reply["results"]):
                results[index] = StepResult(**result)

        if len(by_server) == 1:
            run(*next(iter(by_server.items())))
        else:  # servers work in parallel
            with self._lock:
                if self._executor is None:
                    self._executor = concurrent.futures.ThreadPoolExecutor(len(self.urls))
            for future in [self._executor.submit(run, server, items) for server, items in by_server.items()]:
                future.result()
        return results

    def session_status(self, session_id: str) -> dict:
        server, sid = self._split(session_id)
        return self._request(server, "POST", "/done", {"session_id": sid}, idempotent=True)

    def close_session(self, session_id: str) -> None:
        server, sid = self._split(session_id)
        self._request(server, "POST", "/close", {"session_id": sid}, idempotent=True)

    def run_oracle(self, env_source: str, env_str: str) -> OracleResult:
        return OracleResult(**self._request(self._next_server(), "POST", "/oracle",
                                            {"env_source": env_source, "env_str": env_str}, idempotent=True))

    def call_function(self, env_source: str, function_name: str, *args):
        """A module-level function of the env file (e.g. generate(seed, difficulty)), run on the
        servers in turn; the env's own failure raises SandboxError, as the pool's does."""
        body = {"env_source": env_source, "function": function_name, "args": list(args)}
        try:
            return self._request(self._next_server(), "POST", "/call", body, idempotent=True)["result"]
        except EnvServerError as exc:
            if exc.status == 422:  # the server's SandboxError, as "kind: message"
                kind, _, message = exc.message.partition(": ")
                raise SandboxError(kind, message) from None
            raise

    def health(self, server: int = 0) -> dict:
        return self._request(server, "GET", "/health", idempotent=True)

    def metrics(self, server: int = 0) -> dict:
        return self._request(server, "GET", "/metrics", idempotent=True)

    def close(self) -> None:
        for server in list(self._local.__dict__.get("conns", {})):
            self._drop(server)
        if self._executor is not None:
            self._executor.shutdown()
