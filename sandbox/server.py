"""HTTP env server exposing a SandboxPool, so rollouts can use env capacity on other machines.

    python -m sandbox.server --port 8077 --workers 4

POST JSON endpoints: /start {env_source, env_str} -> {session_id}; /step {session_id, action};
/step_many {calls: [[session_id, action], ...]}; /done, /reward, /close {session_id};
/oracle {env_source, env_str}; /call {env_source, function, args} -> {result} (a module-level
function of the env file, e.g. generate(seed, difficulty)). GET /health, /metrics.
Binds 127.0.0.1 by default; any other address needs a bearer token, and then every request
without `Authorization: Bearer <token>` gets 401. More than `max_inflight` concurrent requests
get 429 (never an unbounded queue); bad JSON or fields get 400, unknown sessions 404.
"""

import argparse
import dataclasses
import hmac
import ipaddress
import json
import os
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sandbox.limits import SandboxLimits
from sandbox.pool import SandboxPool
from sandbox.results import SandboxError

READ_TIMEOUT_S = 30.0
MAX_BODY_BYTES = 8 << 20


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


class EnvServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, pool: SandboxPool, host: str = "127.0.0.1", port: int = 0,
                 token: str | None = None, max_inflight: int = 64):
        if not is_loopback(host) and not token:
            raise ValueError(f"binding {host!r} (not loopback) requires a bearer token")
        super().__init__((host, port), _Handler)
        self.pool = pool
        self.token = token
        self.inflight = threading.BoundedSemaphore(max_inflight)
        self.counters = {"requests": 0, "rejected_overload": 0, "rejected_auth": 0, "bad_requests": 0}
        self.started = time.time()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def handle_post(self, path: str, body: dict):
        pool = self.pool
        if path == "/start":
            try:
                return {"session_id": pool.open_session(_field(body, "env_source", str),
                                                        _field(body, "env_str", str))}
            except SandboxError as exc:
                raise HTTPError(422, str(exc)) from None
        if path == "/step":
            return dataclasses.asdict(pool.step(_field(body, "session_id", str), body.get("action")))
        if path == "/step_many":
            calls = _field(body, "calls", list)
            if not all(isinstance(c, list) and len(c) == 2 and isinstance(c[0], str) for c in calls):
                raise HTTPError(400, "field 'calls' must be a list of [session_id, action] pairs")
            return {"results": [dataclasses.asdict(r) for r in pool.step_many([tuple(c) for c in calls])]}
        if path in ("/done", "/reward"):
            return pool.session_status(_field(body, "session_id", str))
        if path == "/close":
            session_id = _field(body, "session_id", str)
            pool.session_status(session_id)  # 404 when unknown
            pool.close_session(session_id)
            return {"closed": session_id}
        if path == "/oracle":
            result = pool.run_oracle(_field(body, "env_source", str), _field(body, "env_str", str))
            return dataclasses.asdict(result)
        if path == "/call":
            try:
                value = pool.call_function(_field(body, "env_source", str), _field(body, "function", str),
                                           *_field(body, "args", list))
            except SandboxError as exc:
                raise HTTPError(422, str(exc)) from None
            try:
                json.dumps(value)
            except (TypeError, ValueError) as exc:
                raise HTTPError(422, f"{body['function']}() returned a value JSON cannot carry: {exc}") from None
            return {"result": value}
        raise HTTPError(404, f"no endpoint POST {path}")

    def handle_get(self, path: str):
        if path == "/health":
            return {"status": "ok", "sessions": self.pool.session_count(),
                    "workers": len(self.pool.worker_info())}
        if path == "/metrics":
            return {**self.counters, **self.pool.stats, "sessions": self.pool.session_count(),
                    "uptime_s": time.time() - self.started, "workers": self.pool.worker_info()}
        raise HTTPError(404, f"no endpoint GET {path}")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: one connection carries many steps
    disable_nagle_algorithm = True  # else headers and body in two writes cost a 40 ms delayed ACK
    # Socket timeout of every read: a client that sends half a request frees its thread.
    timeout = READ_TIMEOUT_S
    server: EnvServer

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
        if not self.server.token:
            return True
        given = self.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {self.server.token}".encode())

    def _handle(self, method: str):
        server = self.server
        server.counters["requests"] += 1
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:  # the bytes after a bad length would be read as the next request
            self.close_connection = True
            return self._reply(400, {"error": f"Content-Length {self.headers.get('Content-Length')!r} is not a "
                                              f"non-negative integer"})
        raw = self.rfile.read(length) if 0 < length <= MAX_BODY_BYTES else b""
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
        return self._reply(status, payload)

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
            return 200, server.handle_post(path, body)
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
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    parser.add_argument("--max-inflight", type=int, default=64)
    parser.add_argument("--token-env", default="CODEGYM_SANDBOX_TOKEN",
                        help="environment variable holding the bearer token (never a flag: ps shows flags)")
    parser.add_argument("--call-deadline-s", type=float, default=SandboxLimits.call_deadline_s)
    parser.add_argument("--max-steps", type=int, default=SandboxLimits.max_steps)
    args = parser.parse_args(argv)
    limits = SandboxLimits(call_deadline_s=args.call_deadline_s, max_steps=args.max_steps)
    with SandboxPool(num_workers=args.workers, limits=limits) as pool:
        server = EnvServer(pool, args.host, args.port, os.environ.get(args.token_env) or None,
                           args.max_inflight)
        print(f"sandbox env server on {server.url} ({args.workers} workers)", flush=True)
        signal.signal(signal.SIGTERM, _stop)  # stop like Ctrl-C: close the pool and its workers
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()


if __name__ == "__main__":
    main()
