"""The worker process: hosts the sessions of one environment source and executes its code.

It is started by `sandbox.pool.SandboxPool` through `multiprocess` (forkserver, so it never
inherits the trainer's memory) and imports nothing but the stdlib and `sandbox`. Before running
any env code it confines itself in the kernel (`sandbox.isolation`: namespaces, an unprivileged
uid, Landlock, seccomp), installs resource limits and moves into a private temp dir. It serves
one environment source only, so env code can at worst corrupt its own sessions.

Protocol (over one `Connection`): the parent sends a list of (request id, op); the worker answers
them in order with (request id, reply) as soon as each is done (a few per message), so the parent
can put a deadline on every op and match every reply to its request.
Ops: ("open", sid, source, env_str, actions), ("step", sid, action_json), ("close", sid),
("oracle", source, env_str), ("solve", source, class_name) (asks the parent for each step
with ("step_request", action_json) and reads back the observation), ("call", source, function_name, args),
("ref", source, env_str), ("ping",). Answers: ("ok", payload) or ("fail", kind, message).
"""

import collections
import hashlib
import json
import os
import pickle
import resource
import sys
import tempfile
import time
import traceback

from sandbox import gymnasium_stub, isolation

ENV_MODULE_NAME = "codegym_env"
MODULE_CACHE_SIZE = 64
_MAX_MESSAGE_CHARS = 100_000


class _SessionLost(Exception):
    pass


def _install_limits(limits) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (limits.address_space_bytes, limits.address_space_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_size_bytes, limits.file_size_bytes))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    # Set once: the seccomp filter refuses setrlimit, so env code cannot raise it either.
    cpu = limits.cpu_seconds_per_worker
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))


class _Host:
    """Sessions and loaded env modules of one worker."""

    def __init__(self, limits, conn=None):
        self.limits = limits
        self.conn = conn  # for solve(): its steps are asked of the parent
        self.modules = collections.OrderedDict()  # sha256(source) -> module namespace, LRU
        self.sessions = {}  # sid -> [env, source, env_str, accepted actions]

    def module(self, source: str) -> dict:
        key = hashlib.sha256(source.encode()).hexdigest()
        namespace = self.modules.get(key)
        if namespace is not None:
            self.modules.move_to_end(key)
        else:
            namespace = {"__name__": ENV_MODULE_NAME, "__builtins__": __builtins__}
            exec(compile(source, "<env>", "exec"), namespace)
            self.modules[key] = namespace
            # Synthesis sends thousands of candidate sources: keep a bounded cache (live
            # sessions keep their own classes alive regardless).
            while len(self.modules) > MODULE_CACHE_SIZE:
                self.modules.popitem(last=False)
        return namespace

    def build(self, source: str, env_str: str):
        namespace = self.module(source)
        name = env_str.split("@", 1)[0].strip()
        cls = namespace.get(name)
        if not isinstance(cls, type):
            raise LookupError(f"env source defines no class {name!r} (from env_str {env_str[:80]!r})")
        factory = getattr(cls, "from_env_str", None)
        env = factory(env_str) if factory is not None else cls(env_str=env_str)
        if env is None:
            raise ValueError(f"{name}.from_env_str returned None for {env_str[:80]!r}")
        return env

    def observe(self, env, action_json: str):
        result = env.step(action_json)
        observation = result[1] if isinstance(result, tuple) and len(result) >= 2 else result
        if not isinstance(observation, str):
            observation = str(observation)
        if len(observation) > self.limits.max_observation_chars:
            raise OverflowError(
                f"observation of {len(observation)} chars exceeds the limit of "
                f"{self.limits.max_observation_chars}")
        return observation, bool(env.finished), float(env.reward)

    def open(self, sid, source, env_str, actions):
        env = self.build(source, env_str)
        for action_json in actions:
            self.observe(env, action_json)
        self.sessions[sid] = [env, source, env_str, list(actions)]
        return {"done": bool(env.finished), "reward": float(env.reward)}

    def step(self, sid, action_json):
        session = self.sessions.get(sid)
        if session is None:
            raise KeyError(f"unknown session {sid!r}")
        try:
            result = self.observe(session[0], action_json)
        except BaseException as exc:
            # Trial then overwrite: rebuild the state from before this call.
            try:
                self.open(sid, session[1], session[2], session[3])
            except BaseException as rebuild_exc:
                self.sessions.pop(sid, None)
                kind, message = _describe(exc)
                raise _SessionLost(f"{message}; rebuilding the session then failed: "
                                   f"{_describe(rebuild_exc)[1]}") from None
            raise
        session[3].append(action_json)
        return result

    def oracle(self, source, env_str):
        env = self.build(source, env_str)
        actions, observations = [], []
        original_step = env.step

        def recording_step(action_json):
            result = original_step(action_json)
            actions.append(json.loads(action_json) if isinstance(action_json, str) else action_json)
            observations.append(result[1] if isinstance(result, tuple) else result)
            return result

        env.step = recording_step
        error = None
        try:
            env.solve()
        except Exception as exc:  # the oracle's own bug: report it with what it did so far
            error = f"{type(exc).__name__}: {exc}"
        return {"reward": float(env.reward), "steps": int(getattr(env, "step_count", len(actions))),
                "actions": actions, "observations": [str(o) for o in observations], "error": error}

    def solve(self, source, class_name):
        """Runs the class's solve() on an object holding nothing but `step`, in a process that
        holds no instance of the env: each step is run by the parent on a session elsewhere."""
        cls = self.module(source).get(class_name)
        if not isinstance(cls, type) or not callable(getattr(cls, "solve", None)):
            raise LookupError(f"env source defines no class {class_name!r} with a solve() method")
        error = None
        try:
            cls.solve(_StepOnly(self.conn))
        except Exception as exc:  # the candidate's own bug, reported like an oracle's
            error = f"{type(exc).__name__}: {exc}"
        return {"error": error}

    def call(self, source, function_name, args):
        function = self.module(source).get(function_name)
        if not callable(function):
            raise LookupError(f"env source has no module-level function {function_name!r}")
        result = function(*args)
        json.dumps(result)  # results must be JSON-able
        return result

    def ref(self, source, env_str):
        answer = self.build(source, env_str).get_ref_answer()
        try:
            json.dumps(answer)
            return answer
        except (TypeError, ValueError):
            return repr(answer)


class _StepOnly:
    """What a candidate solve() gets as `self`: `step(action_json) -> (True, observation)`."""

    __slots__ = ("_conn",)

    def __init__(self, conn):
        self._conn = conn

    def step(self, action):
        text = action if isinstance(action, str) else json.dumps(action)
        self._conn.send_bytes(pickle.dumps(("step_request", text), protocol=pickle.HIGHEST_PROTOCOL))
        return True, pickle.loads(self._conn.recv_bytes())


def _describe(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, MemoryError):
        return "memory", "MemoryError: the call exceeded the memory limit"
    if isinstance(exc, OverflowError) and "observation of" in str(exc):
        return "observation_too_long", str(exc)
    if isinstance(exc, RecursionError):
        return "env_exception", f"RecursionError: {exc}"
    if isinstance(exc, SyntaxError):
        return "load_error", f"SyntaxError: {exc.msg} (line {exc.lineno})"
    if isinstance(exc, ImportError):
        return "load_error", f"{type(exc).__name__}: {exc}"
    if isinstance(exc, PermissionError):  # what the kernel refused (Landlock, seccomp, the uid)
        return "refused", f"PermissionError: {exc} (refused by the sandbox)"
    if isinstance(exc, _SessionLost):
        return "session_lost", str(exc)
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" (line {last[0].lineno} in {last[0].name})" if last and last[0].filename == "<env>" else ""
    text = str(exc)
    # Not sent whole: a message of hundreds of MB would only be cut by the parent anyway.
    text = text[:_MAX_MESSAGE_CHARS] + (" [cut]" if len(text) > _MAX_MESSAGE_CHARS else "")
    return "env_exception", f"{type(exc).__name__}: {text}{where}"


def _details(report: dict) -> str:
    return "; ".join(f"{k}: {v}" for k, v in report.items() if k.endswith("error") or k.endswith("errors"))


def _send(conn, replies: list) -> None:
    try:
        data = pickle.dumps(replies, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # an unpicklable result fails alone
        safe = []
        for request_id, reply in replies:
            try:
                pickle.dumps(reply)
                safe.append((request_id, reply))
            except Exception as exc:
                safe.append((request_id, ("fail", "env_exception", f"result cannot be returned: {exc}")))
        data = pickle.dumps(safe, protocol=pickle.HIGHEST_PROTOCOL)
    conn.send_bytes(data)


FLUSH_AFTER_S = 0.02  # long batches report partial progress this often


def _confine(conn, limits) -> dict:
    """Everything the kernel can enforce, before any env code runs (see sandbox.isolation)."""
    report: dict = {}
    tmpdir = tempfile.mkdtemp(prefix="codegym-sandbox-")
    report["tmpdir"] = tmpdir
    isolation.close_inherited_fds(keep_fds=(conn.fileno(),))
    isolation.enter_namespaces(report, keep_fds=(conn.fileno(),))
    isolation.drop_privileges(report, [tmpdir])
    isolation.die_with_reaper(report)
    os.chdir(tmpdir)
    isolation.scrub_environment({"TMPDIR": tmpdir, "HOME": tmpdir, "LANG": "C.UTF-8"})
    tempfile.tempdir = tmpdir
    _install_limits(limits)
    if "gymnasium" not in sys.modules:  # before Landlock: the real one may live anywhere
        try:
            import gymnasium  # noqa: F401
        except ImportError:
            sys.modules["gymnasium"] = gymnasium_stub.make_module()
    isolation.apply_landlock(report, isolation.readable_roots(), [tmpdir])
    isolation.apply_seccomp(report)
    report["missing"] = isolation.missing(report)
    return report


def serve(conn, limits, progress) -> None:
    """Worker main loop (the multiprocess target). `progress.value` = index of the running op."""
    try:
        report = _confine(conn, limits)
    except BaseException as exc:  # the parent raises with this message
        _send(conn, ("fail", f"{type(exc).__name__}: {exc}"))
        return
    report["pid"] = os.getpid()
    if report["missing"] and not limits.accept_weaker_isolation:
        _send(conn, ("fail", f"the kernel did not give {', '.join(report['missing'])}; "
                             f"refusing to run untrusted code ({_details(report)})"))
        return
    host = _Host(limits, conn)
    _send(conn, ("ok", report))
    handlers = {"open": host.open, "step": host.step, "oracle": host.oracle,
                "solve": host.solve, "call": host.call, "ref": host.ref}
    clock = time.monotonic
    while True:
        try:
            ops = pickle.loads(conn.recv_bytes())
        except (EOFError, OSError):
            return
        replies, last_flush = [], clock()
        for index, (request_id, op) in enumerate(ops):
            progress.value = index
            kind = op[0]
            try:
                if kind == "close":
                    host.sessions.pop(op[1], None)
                    reply = ("ok", None)
                elif kind == "ping":
                    reply = ("ok", os.getpid())
                else:
                    reply = ("ok", handlers[kind](*op[1:]))
            except BaseException as exc:  # env code may raise anything, incl. SystemExit
                reply = ("fail", *_describe(exc))
            replies.append((request_id, reply))
            if clock() - last_flush > FLUSH_AFTER_S:
                _send(conn, replies)
                replies, last_flush = [], clock()
        if replies:
            _send(conn, replies)
