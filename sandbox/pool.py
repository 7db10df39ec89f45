"""A pool of sandbox worker processes hosting environment sessions.

Each session lives in one worker. The parent keeps, per session, the env source, env_str and the
accepted actions, so when a call times out, crashes its worker or blows a limit, the call comes
back as an `Error: ...` observation, the worker is replaced, and every session it hosted is rebuilt
on the new worker by replaying its accepted actions (no session is lost; the failing call leaves
its session as it was before the call).

Thread-safe: one lock per worker slot, taken in slot order by batched calls.
"""

import dataclasses
import io
import itertools
import json
import pickle
import secrets
import shutil
import threading
import time

import multiprocess

from sandbox import worker as worker_module
from sandbox.limits import SandboxLimits
from sandbox.replies import checked_reply
from sandbox.results import OracleResult, SandboxError, StepResult


MAX_REPLY_BYTES = 1 << 30  # a larger message from a worker is hostile: the worker is replaced


class _PlainUnpickler(pickle.Unpickler):
    """Worker replies are built from plain containers and scalars only; refusing every class
    lookup keeps env code that hijacks its worker's pipe from running code in this process."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"sandbox reply refers to {module}.{name}; only plain data is accepted")


def _loads(data: bytes):
    return _PlainUnpickler(io.BytesIO(data)).load()


@dataclasses.dataclass
class _Session:
    slot: int
    source: str
    env_str: str
    actions: list  # accepted action JSON strings, in order
    calls: int = 0
    done: bool = False
    reward: float = 0.0
    lost: str | None = None


class _Slot:
    def __init__(self, index: int):
        self.index = index
        self.lock = threading.Lock()
        self.process = None
        self.conn = None
        self.progress = None  # shared int: index of the op the worker is running
        self.info = {}
        self.sessions = set()
        self.one_shots = 0  # one-shot calls waiting for or running on this worker
        self.request_ids: list[int] = []  # of the batch sent last, in order
        self.restarts = 0


class SandboxPool:
    """Process pool running untrusted env code. Use as a context manager or call close()."""

    def __init__(self, num_workers: int = 2, limits: SandboxLimits = SandboxLimits(),
                 start_method: str = "forkserver"):
        if num_workers < 1:
            raise ValueError(f"num_workers must be >= 1, got {num_workers}")
        self.limits = limits
        self._context = multiprocess.get_context(start_method)
        if start_method == "forkserver":
            self._context.set_forkserver_preload(["sandbox.worker"])
        self._slots = [_Slot(i) for i in range(num_workers)]
        self._sessions: dict[str, _Session] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._closed = False
        self.stats = {"steps": 0, "failed_calls": 0, "worker_restarts": 0, "replayed_sessions": 0,
                      "unmatched_replies": 0}
        for slot in self._slots:
            self._start(slot)

    # ------------------------------------------------------------------ worker lifecycle
    def _start(self, slot: _Slot) -> None:
        parent_conn, child_conn = self._context.Pipe(duplex=True)
        progress = self._context.RawValue("q", -1)  # index of the op the worker is running
        process = self._context.Process(target=worker_module.serve, args=(child_conn, self.limits, progress),
                                        daemon=True, name=f"sandbox-worker-{slot.index}")
        process.start()
        child_conn.close()
        if not parent_conn.poll(60.0):
            process.kill()
            raise RuntimeError(f"sandbox worker {slot.index} did not start within 60 s")
        status, info = _loads(parent_conn.recv_bytes())
        slot.process, slot.conn, slot.info, slot.progress = process, parent_conn, info, progress

    def _kill(self, slot: _Slot) -> None:
        if slot.process is not None:
            slot.process.kill()
            slot.process.join(5.0)
            slot.conn.close()
            tmpdir = slot.info.get("tmpdir")
            if tmpdir:
                shutil.rmtree(tmpdir, ignore_errors=True)
        slot.process = slot.conn = None

    def _restart(self, slot: _Slot) -> None:
        """Replace a dead/stuck worker and replay every session it hosted (slot lock held).
        A session whose replay fails is marked lost (only possible for nondeterministic env code);
        if its replay killed the worker, start over without it."""
        while True:
            self._kill(slot)
            self._start(slot)
            slot.restarts += 1
            self.stats["worker_restarts"] += 1
            todo = [sid for sid in sorted(slot.sessions)
                    if sid in self._sessions and not self._sessions[sid].lost]
            if not todo:
                return
            ops = [("open", sid, self._sessions[sid].source, self._sessions[sid].env_str,
                    self._sessions[sid].actions) for sid in todo]
            self.stats["replayed_sessions"] += len(ops)
            if self._send(slot, ops):
                replies, failure, failed_at = self._collect(slot, len(ops), self.limits.oracle_deadline_s)
            else:
                replies, failure, failed_at = [], ("fail", "crash", "the worker died"), 0
            for op, sid, reply in zip(ops, todo, replies):
                reply = checked_reply(op, reply, self.limits)
                if reply[0] != "ok":
                    self._sessions[sid].lost = f"replay failed ({reply[1]}: {reply[2]})"
            if failure is None:
                return
            self._sessions[todo[failed_at]].lost = f"replay failed ({failure[1]}: {failure[2]})"

    @staticmethod
    def _send(slot: _Slot, ops: list) -> bool:
        slot.progress.value = -1
        # Unguessable request ids: a reply env code forges or adds on the pipe matches no
        # request, or only one of the batch it was sent, so it cannot shift later answers.
        first = secrets.randbits(62)  # one draw a batch: ids need only be unguessable from outside it
        slot.request_ids = list(range(first, first + len(ops)))
        try:
            slot.conn.send_bytes(pickle.dumps(list(zip(slot.request_ids, ops)), protocol=pickle.HIGHEST_PROTOCOL))
            return True
        except (OSError, ValueError):
            return False

    def _matching(self, slot: _Slot, received, replies: list) -> None:
        """Appends the replies in `received` that answer the next expected request ids."""
        for item in received if isinstance(received, list) else [received]:
            expected = slot.request_ids[len(replies)] if len(replies) < len(slot.request_ids) else None
            if isinstance(item, tuple) and len(item) == 2 and item[0] == expected:
                replies.append(item[1])
            else:
                self.stats["unmatched_replies"] += 1

    def _collect(self, slot: _Slot, count: int, deadline_s: float):
        """Replies to the `count` ops just sent, in order. The deadline applies to each op (the
        worker publishes the index of the op it is running). Returns (replies, failure, index):
        failure is None when all arrived, else a ("fail", kind, message) for op `index`."""
        replies: list = []
        last_progress, last_change = -1, time.monotonic()
        while len(replies) < count:
            try:
                if slot.conn.poll(min(deadline_s, 0.05)):
                    self._matching(slot, _loads(slot.conn.recv_bytes(MAX_REPLY_BYTES)), replies)
                    last_change = time.monotonic()
                    continue
                alive = slot.process.is_alive()
            except (EOFError, OSError, pickle.UnpicklingError):
                alive = False
                slot.process.kill()
            failed_at = min(max(slot.progress.value, len(replies)), count - 1)
            if not alive:
                slot.process.join(2.0)
                code = slot.process.exitcode
                return replies, ("fail", "crash",
                                 f"the worker process exited (exit code {code}) during the call"), failed_at
            now = time.monotonic()
            # Only forward moves within the batch restart the clock: env code that finds the
            # shared counter cannot stretch the deadline beyond one per op.
            if last_progress < slot.progress.value < count:
                last_progress, last_change = slot.progress.value, now
            elif now - last_change > deadline_s:
                return replies, ("fail", "timeout", f"the call did not finish within {deadline_s:g} s"), failed_at
        return replies, None, None

    def _run_ops(self, slot: _Slot, ops: list, deadline_s: float, on_reply, sent: bool = False) -> None:
        """Run ops on a slot's worker (slot lock held), calling on_reply(index, reply) as replies
        come. An op that times out or crashes fails alone: the worker is replaced (its sessions
        replayed) and the other unanswered ops are run again on the new worker."""
        pending = list(range(len(ops)))
        while pending:
            if not sent and not self._send(slot, [ops[i] for i in pending]):
                on_reply(pending[0], ("fail", "crash", "the worker process died"))
                pending = pending[1:]
                self._restart(slot)
                continue
            sent = False
            replies, failure, failed_at = self._collect(slot, len(pending), deadline_s)
            for index, reply in zip(pending, replies):
                # At once: a replay after a later failure must include it.
                on_reply(index, checked_reply(ops[index], reply, self.limits))
            if failure is None:
                return
            on_reply(pending[failed_at], failure)
            # Ops between the last reply and the failure ran, but their replies died with the
            # worker: they are not recorded, so they run again after the replay.
            pending = pending[len(replies):failed_at] + pending[failed_at + 1:]
            self._restart(slot)

    def _exchange(self, slot: _Slot, ops: list, deadline_s: float) -> list:
        replies = [None] * len(ops)
        self._run_ops(slot, ops, deadline_s, replies.__setitem__)
        return replies

    # ------------------------------------------------------------------ sessions
    def open_session(self, env_source: str, env_str: str) -> str:
        """Build env `env_str` from `env_source` in a worker; returns the session id.
        Raises SandboxError when the code cannot be loaded or the constructor fails."""
        self._check_open()
        with self._lock:
            slot = min(self._slots, key=lambda s: (len(s.sessions), s.index))
            # Unguessable: behind the env server, a session id is all a client needs to step it.
            sid = f"s{next(self._ids)}-{secrets.token_hex(8)}"
            slot.sessions.add(sid)  # reserve before the slow open so load balances under threads
        with slot.lock:
            reply = self._exchange(slot, [("open", sid, env_source, env_str, [])],
                                   self.limits.call_deadline_s)[0]
            if reply[0] != "ok":
                slot.sessions.discard(sid)
                raise SandboxError(reply[1], reply[2])
            self._sessions[sid] = _Session(slot.index, env_source, env_str, [],
                                           done=reply[1]["done"], reward=reply[1]["reward"])
        return sid

    def close_session(self, session_id: str) -> None:
        session = self._sessions.pop(session_id, None)
        if session is None:
            return
        slot = self._slots[session.slot]
        with slot.lock:
            slot.sessions.discard(session_id)
            if slot.process is not None:
                self._exchange(slot, [("close", session_id)], self.limits.call_deadline_s)

    def step(self, session_id: str, action) -> StepResult:
        return self.step_many([(session_id, action)])[0]

    def step_many(self, calls) -> list[StepResult]:
        """Run [(session_id, action), ...]; calls on different workers run in parallel."""
        self._check_open()
        results: list = [None] * len(calls)
        by_slot: dict[int, list] = {}
        for index, (sid, action) in enumerate(calls):
            session = self._sessions.get(sid)
            if session is None:
                raise KeyError(f"unknown session id {sid!r}")
            early = self._precheck(session, action)
            if isinstance(early, StepResult):
                results[index] = early
            else:
                by_slot.setdefault(session.slot, []).append((index, sid, early))
        slots = [self._slots[i] for i in sorted(by_slot)]
        for slot in slots:
            slot.lock.acquire()
        try:
            self._run_steps(slots, by_slot, results)
        finally:
            for slot in slots:
                slot.lock.release()
        return results

    def _precheck(self, session: _Session, action):
        """Returns the action JSON to send, or a StepResult when no env call is needed."""
        if session.lost:
            return StepResult(f"Error: the session was lost: {session.lost}", True, session.reward,
                              "session_lost", session.calls)
        if session.done:
            return StepResult("Error: the episode is finished; no more tool calls are accepted.",
                              True, session.reward, "episode_done", session.calls)
        if session.calls >= self.limits.max_steps:
            session.done = True
            return StepResult(f"Error: the episode used its {self.limits.max_steps} tool calls.",
                              True, session.reward, "max_steps", session.calls)
        session.calls += 1
        try:
            parsed = json.loads(action) if isinstance(action, str) else action
            if not (isinstance(parsed, dict) and isinstance(parsed.get("name"), str)
                    and isinstance(parsed.get("parameters", {}), dict)):
                raise ValueError('expected {"name": str, "parameters": {...}}')
            return json.dumps({**parsed, "parameters": parsed.get("parameters", {})})
        except (ValueError, TypeError) as exc:
            return StepResult(f"Error: invalid tool call {str(action)[:200]!r}: {exc}", False,
                              session.reward, "invalid_action", session.calls)

    def _run_steps(self, slots, by_slot, results) -> None:
        # Send every worker its batch first, then collect: the workers run in parallel.
        step_ops = {slot.index: [("step", sid, action) for _, sid, action in by_slot[slot.index]]
                    for slot in slots}
        sent = {slot.index: self._send(slot, step_ops[slot.index]) for slot in slots}
        for slot in slots:
            items = by_slot[slot.index]

            def on_reply(position, reply, items=items):
                index, sid, action = items[position]
                results[index] = self._record(sid, action, reply)

            self._run_ops(slot, step_ops[slot.index], self.limits.call_deadline_s, on_reply,
                          sent=sent[slot.index])

    def _record(self, sid: str, action: str, reply) -> StepResult:
        session = self._sessions.get(sid)
        if session is None:  # closed by another thread while this call ran
            return StepResult("Error: the session was closed", True, 0.0, "session_lost", 0)
        self.stats["steps"] += 1
        if reply[0] == "ok":
            observation, done, reward = reply[1]
            session.actions.append(action)
            session.done, session.reward = done, reward
            return StepResult(observation, done, reward, None, session.calls)
        _, kind, message = reply
        self.stats["failed_calls"] += 1
        # Nondeterministic env code, or a step whose reply was refused after the worker had
        # applied it: the session's state cannot be rebuilt.
        if kind in ("session_lost", "bad_result"):
            session.lost = message
        if session.lost:
            return StepResult(f"Error: the session was lost: {session.lost}", True, session.reward,
                              "session_lost", session.calls)
        return StepResult(f"Error: {message}", session.done, session.reward, kind, session.calls)

    def accepted_actions(self, session_id: str) -> list[dict]:
        """The actions that changed the session's state, in order (what a replay runs)."""
        return [json.loads(a) for a in self._sessions[session_id].actions]

    def session_status(self, session_id: str) -> dict:
        """{"done", "reward", "step_count"} of a session (KeyError when unknown)."""
        session = self._sessions.get(session_id)
        if session is None:
            raise KeyError(f"unknown session id {session_id!r}")
        return {"done": session.done or session.lost is not None, "reward": session.reward,
                "step_count": session.calls}

    def session_count(self) -> int:
        return len(self._sessions)

    # ------------------------------------------------------------------ one-shot calls
    def _one_shot(self, op: tuple, deadline_s: float):
        self._check_open()
        # Callers on several threads (the data stage's oracle checks) spread over the workers.
        with self._lock:
            slot = min(self._slots, key=lambda s: (s.one_shots, len(s.sessions), s.index))
            slot.one_shots += 1
        try:
            with slot.lock:
                reply = self._exchange(slot, [op], deadline_s)[0]
        finally:
            with self._lock:
                slot.one_shots -= 1
        if reply[0] != "ok":
            raise SandboxError(reply[1], reply[2])
        return reply[1]

    def run_oracle(self, env_source: str, env_str: str) -> OracleResult:
        """Run the env's `solve()` on a fresh instance, recording its tool calls."""
        try:
            result = self._one_shot(("oracle", env_source, env_str), self.limits.oracle_deadline_s)
        except SandboxError as exc:
            return OracleResult(0.0, 0, [], [], str(exc))
        return OracleResult(**result)

    def call_function(self, env_source: str, function_name: str, *args):
        """Call a module-level function of the env file (e.g. generate(seed, difficulty))."""
        return self._one_shot(("call", env_source, function_name, list(args)),
                              self.limits.oracle_deadline_s)

    def get_ref_answer(self, env_source: str, env_str: str):
        return self._one_shot(("ref", env_source, env_str), self.limits.oracle_deadline_s)

    # ------------------------------------------------------------------ lifecycle
    def worker_info(self) -> list[dict]:
        return [dict(slot.info, sessions=len(slot.sessions), restarts=slot.restarts)
                for slot in self._slots]

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the SandboxPool is closed")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for slot in self._slots:
            with slot.lock:
                self._kill(slot)
        self._sessions.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
