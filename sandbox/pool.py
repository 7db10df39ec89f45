"""A pool of sandbox worker processes hosting environment sessions, one tenant per process.

Each worker process hosts the sessions of one environment source only (keyed by the source's
sha256), so env code that corrupts its interpreter can reach nothing but its own sessions.
Workers start on demand from a clean forkserver zygote, confine themselves in the kernel
(`sandbox.isolation`) before loading any env code, and are kept warm for a while after their
last session closes (`SandboxLimits.idle_workers`).

The parent keeps, per session, the env source, env_str and the accepted actions, so when a call
times out, crashes its worker or blows a limit, the call comes back as an `Error: ...`
observation, the worker is replaced, and every session it hosted is rebuilt on the new worker by
replaying its accepted actions (the failing call leaves its session as it was before the call).
Every op has its own deadline (a replay: one call deadline per replayed action).

Thread-safe: one lock per worker, taken in start order by batched calls.
"""

import collections
import dataclasses
import hashlib
import itertools
import json
import pickle
import secrets
import sys
import threading
import time
import warnings

import multiprocess

from sandbox import worker_link
from sandbox.limits import SandboxLimits
from sandbox.replies import checked_reply
from sandbox.results import OracleResult, SandboxError, StepResult


@dataclasses.dataclass
class _Session:
    slot: worker_link.Slot
    source: str
    env_str: str
    actions: list  # accepted action JSON strings, in order
    calls: int = 0
    done: bool = False
    reward: float = 0.0
    lost: str | None = None


class SandboxPool:
    """Process pool running untrusted env code. Use as a context manager or call close()."""

    def __init__(self, limits: SandboxLimits = SandboxLimits()):
        self.limits = limits
        self._context = multiprocess.get_context("forkserver")
        self._context.set_forkserver_preload(["sandbox.worker"])
        self._tenants: dict[str, worker_link.Slot] = {}  # source sha256 -> its worker
        self._idle: collections.OrderedDict[str, worker_link.Slot] = collections.OrderedDict()  # LRU
        self._sessions: dict[str, _Session] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._slot_ids = itertools.count()
        self._closed = False
        self.stats = {"steps": 0, "failed_calls": 0, "worker_starts": 0, "worker_restarts": 0,
                      "workers_evicted": 0, "replayed_sessions": 0, "unmatched_replies": 0}
        self._spares: list[worker_link.Slot] = []  # started and confined, not yet given a source
        self._refiller: threading.Thread | None = None  # starts spares in the background
        # Start one worker now: a kernel that cannot confine it fails here, naming what it lacks.
        self.isolation = self._probe()

    # ------------------------------------------------------------------ worker lifecycle
    def _start_worker(self, slot: worker_link.Slot) -> None:
        worker_link.start(slot, self._context, self.limits)
        self.stats["worker_starts"] += 1

    def _probe(self) -> dict:
        """Starts the first spare worker; returns what confinement the kernel gave it."""
        slot = worker_link.Slot(next(self._slot_ids), "")
        self._start_worker(slot)
        self._spares.append(slot)
        self._refill_spares()
        info = dict(slot.info)
        info.pop("tmpdir", None)
        if info.get("missing"):
            warnings.warn(f"sandbox workers run WITHOUT {', '.join(info['missing'])} "
                          f"(SandboxLimits.accept_weaker_isolation is set)", stacklevel=3)
        return info

    def _tenant(self, source: str, role: str = "env") -> worker_link.Slot:
        """The worker of `source`'s tenant, reserved for one call (release with _release).
        role "solver" is a second worker of the source that never holds an env instance."""
        key = hashlib.sha256(f"{role}\0{source}".encode()).hexdigest()
        evict = []
        with self._lock:
            self._check_open()
            slot = self._tenants.get(key)
            if slot is None:
                while len(self._tenants) >= self.limits.max_workers and self._idle:
                    evict.append(self._evict_oldest())
                if len(self._tenants) >= self.limits.max_workers:
                    raise SandboxError("capacity", f"all {self.limits.max_workers} sandbox workers host live "
                                                   f"sessions of other environments (SandboxLimits.max_workers)")
                slot = self._spares.pop() if self._spares else worker_link.Slot(next(self._slot_ids), key)
                slot.key = key
                self._tenants[key] = slot
                self._refill_spares()
            self._idle.pop(key, None)
            slot.users += 1
        for old in evict:
            with old.lock:
                worker_link.kill(old)
        return slot

    def _refill_spares(self) -> None:
        """Starts workers in the background until `spare_workers` wait (pool lock held): a
        session of a new source then starts without waiting for a worker to confine itself."""
        if self._refiller is not None or len(self._spares) >= self.limits.spare_workers:
            return
        self._refiller = threading.Thread(target=self._refill_loop, daemon=True, name="sandbox-spares")
        self._refiller.start()

    def _refill_loop(self) -> None:
        try:
            while True:
                with self._lock:
                    if self._closed or len(self._spares) >= self.limits.spare_workers:
                        return
                slot = worker_link.Slot(next(self._slot_ids), "")
                try:
                    self._start_worker(slot)
                except RuntimeError:
                    return  # a later new source starts its worker itself and reports the error
                with self._lock:
                    if not self._closed:
                        self._spares.append(slot)
                        continue
                worker_link.kill(slot)
                return
        finally:
            with self._lock:
                self._refiller = None

    def _evict_oldest(self) -> worker_link.Slot:
        """Removes the least recently used idle worker from the pool (pool lock held)."""
        key, slot = self._idle.popitem(last=False)
        del self._tenants[key]
        self.stats["workers_evicted"] += 1
        return slot

    def _release(self, slot: worker_link.Slot) -> None:
        """Ends a reservation; a worker left with no session and no caller goes idle."""
        evict = []
        with self._lock:
            slot.users -= 1
            if slot.users == 0 and not slot.sessions and self._tenants.get(slot.key) is slot:
                if slot.process is None:  # never started, or its start failed
                    del self._tenants[slot.key]
                else:
                    self._idle[slot.key] = slot
                    while len(self._idle) > self.limits.idle_workers:
                        evict.append(self._evict_oldest())
        for old in evict:
            with old.lock:
                worker_link.kill(old)

    def _ready(self, slot: worker_link.Slot) -> None:
        """Starts the worker of a reserved slot if it has none yet (slot lock held)."""
        if slot.process is None:
            self._start_worker(slot)

    def _restart(self, slot: worker_link.Slot) -> None:
        """Replace a dead/stuck worker and replay every session it hosted (slot lock held).
        A session whose replay fails is marked lost (only possible for nondeterministic env code);
        if its replay killed the worker, start over without it."""
        while True:
            worker_link.kill(slot)
            self._start_worker(slot)
            slot.restarts += 1
            self.stats["worker_restarts"] += 1
            todo = [sid for sid in sorted(slot.sessions)
                    if sid in self._sessions and not self._sessions[sid].lost]
            if not todo:
                return
            ops = [("open", sid, self._sessions[sid].source, self._sessions[sid].env_str,
                    self._sessions[sid].actions) for sid in todo]
            self.stats["replayed_sessions"] += len(ops)
            if worker_link.send(slot, ops):
                replies, failure, failed_at = worker_link.collect(slot, [self._deadline(op) for op in ops], self.stats)
            else:
                replies, failure, failed_at = [], ("fail", "crash", "the worker died"), 0
            for op, sid, reply in zip(ops, todo, replies):
                reply = checked_reply(op, reply, self.limits)
                if reply[0] != "ok":
                    self._sessions[sid].lost = f"replay failed ({reply[1]}: {reply[2]})"
            if failure is None:
                return
            self._sessions[todo[failed_at]].lost = f"replay failed ({failure[1]}: {failure[2]})"

    def _deadline(self, op: tuple) -> float:
        """Wall-clock seconds op `op` may run: a replay gets one call deadline per action."""
        kind = op[0]
        if kind == "open":
            return self.limits.call_deadline_s * (1 + len(op[4]))
        if kind in ("oracle", "call", "ref"):
            return self.limits.oracle_deadline_s
        return self.limits.call_deadline_s

    def _run_ops(self, slot: worker_link.Slot, ops: list, on_reply, sent: bool = False) -> None:
        """Run ops on a slot's worker (slot lock held), calling on_reply(index, reply) as replies
        come. An op that times out or crashes fails alone: the worker is replaced (its sessions
        replayed) and the other unanswered ops are run again on the new worker."""
        pending = list(range(len(ops)))
        while pending:
            if not sent and not worker_link.send(slot, [ops[i] for i in pending]):
                on_reply(pending[0], ("fail", "crash", "the worker process died"))
                pending = pending[1:]
                self._restart(slot)
                continue
            sent = False
            replies, failure, failed_at = worker_link.collect(slot, [self._deadline(ops[i]) for i in pending], self.stats)
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

    def _exchange(self, slot: worker_link.Slot, ops: list) -> list:
        replies = [None] * len(ops)
        self._run_ops(slot, ops, replies.__setitem__)
        return replies

    # ------------------------------------------------------------------ sessions
    def open_session(self, env_source: str, env_str: str) -> str:
        """Build env `env_str` from `env_source` in its source's worker; returns the session id.
        Raises SandboxError when the code cannot be loaded or the constructor fails."""
        slot = self._tenant(env_source)
        # Unguessable: behind the env server, a session id is all a client needs to step it.
        sid = f"s{next(self._ids)}-{secrets.token_hex(8)}"
        try:
            with slot.lock:
                self._ready(slot)
                slot.sessions.add(sid)
                reply = self._exchange(slot, [("open", sid, env_source, env_str, [])])[0]
                if reply[0] != "ok":
                    slot.sessions.discard(sid)
                    raise SandboxError(reply[1], reply[2])
                self._sessions[sid] = _Session(slot, env_source, env_str, [],
                                               done=reply[1]["done"], reward=reply[1]["reward"])
        finally:
            self._release(slot)
        return sid

    def close_session(self, session_id: str) -> None:
        session = self._sessions.pop(session_id, None)
        if session is None:
            return
        slot = session.slot
        with self._lock:
            slot.users += 1  # keeps the worker from going idle until the close has run
        try:
            with slot.lock:
                slot.sessions.discard(session_id)
                if slot.process is not None:
                    self._exchange(slot, [("close", session_id)])
        finally:
            self._release(slot)

    def step(self, session_id: str, action) -> StepResult:
        return self.step_many([(session_id, action)])[0]

    def step_many(self, calls) -> list[StepResult]:
        """Run [(session_id, action), ...]; calls on different workers run in parallel."""
        self._check_open()
        results: list = [None] * len(calls)
        by_slot: dict[worker_link.Slot, list] = {}
        for index, (sid, action) in enumerate(calls):
            session = self._sessions.get(sid)
            if session is None:
                raise KeyError(f"unknown session id {sid!r}")
            early = self._precheck(session, action)
            if isinstance(early, StepResult):
                results[index] = early
            else:
                by_slot.setdefault(session.slot, []).append((index, sid, early))
        slots = sorted(by_slot, key=lambda slot: slot.index)
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
        step_ops = {slot: [("step", sid, action) for _, sid, action in by_slot[slot]] for slot in slots}
        sent = {slot: worker_link.send(slot, step_ops[slot]) for slot in slots}
        for slot in slots:
            items = by_slot[slot]

            def on_reply(position, reply, items=items):
                index, sid, action = items[position]
                results[index] = self._record(sid, action, reply)

            self._run_ops(slot, step_ops[slot], on_reply, sent=sent[slot])

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
    def _one_shot(self, source: str, op: tuple):
        slot = self._tenant(source)
        try:
            with slot.lock:
                self._ready(slot)
                reply = self._exchange(slot, [op])[0]
        finally:
            self._release(slot)
        if reply[0] != "ok":
            raise SandboxError(reply[1], reply[2])
        return reply[1]

    def run_oracle(self, env_source: str, env_str: str, step_only: bool = False) -> OracleResult:
        """Run the env's `solve()` on a fresh instance, recording its tool calls. With
        `step_only` (candidate oracles of synthesis), solve() runs in a worker of its own
        against an object exposing only `step`, each step run on a session of the env: no
        `locals()`, `gc` or closure walk can reach the instance's hidden state."""
        if step_only:
            return self._run_step_only_oracle(env_source, env_str)
        try:
            result = self._one_shot(env_source, ("oracle", env_source, env_str))
        except SandboxError as exc:
            return OracleResult(0.0, 0, [], [], str(exc))
        return OracleResult(**result)

    def _run_step_only_oracle(self, env_source: str, env_str: str) -> OracleResult:
        try:
            sid = self.open_session(env_source, env_str)
        except SandboxError as exc:
            return OracleResult(0.0, 0, [], [], str(exc))
        actions, observations = [], []

        def step(action_json: str) -> str:
            result = self.step(sid, action_json)
            if result.error is None:
                actions.append(json.loads(action_json))
                observations.append(result.observation)
            return result.observation

        slot = self._tenant(env_source, role="solver")
        try:
            with slot.lock:
                self._ready(slot)
                reply = self._solve_remote(slot, ("solve", env_source, env_str.split("@", 1)[0].strip()), step)
        finally:
            self._release(slot)
            status = self.session_status(sid)
            self.close_session(sid)
        error = reply[1]["error"] if reply[0] == "ok" else f"{reply[1]}: {reply[2]}"
        return OracleResult(status["reward"], status["step_count"], actions, observations, error)

    def _solve_remote(self, slot: worker_link.Slot, op: tuple, step) -> tuple:
        """Runs a "solve" op (slot lock held), answering its step requests with `step`. A
        timeout or crash replaces the worker (a solver worker hosts no session)."""
        deadline = time.monotonic() + self.limits.oracle_deadline_s
        failure = ("fail", "crash", "the solver worker died")
        if worker_link.send(slot, [op]):
            while time.monotonic() < deadline:
                try:
                    if not slot.conn.poll(0.05):
                        if slot.process.is_alive():
                            continue
                        break
                    message = worker_link.loads(slot.conn.recv_bytes(worker_link.MAX_REPLY_BYTES))
                except (EOFError, OSError, pickle.UnpicklingError):
                    break
                if (isinstance(message, tuple) and len(message) == 2 and message[0] == "step_request"
                        and isinstance(message[1], str)):
                    slot.conn.send_bytes(pickle.dumps(step(message[1]), protocol=pickle.HIGHEST_PROTOCOL))
                    continue
                replies: list = []
                worker_link.matching(slot, message, replies, self.stats)
                if replies:
                    return checked_reply(op, replies[0], self.limits)
            else:
                failure = ("fail", "timeout", f"solve() did not finish within {self.limits.oracle_deadline_s:g} s")
        worker_link.kill(slot)
        return failure

    def call_function(self, env_source: str, function_name: str, *args):
        """Call a module-level function of the env file (e.g. generate(seed, difficulty))."""
        return self._one_shot(env_source, ("call", env_source, function_name, list(args)))

    def get_ref_answer(self, env_source: str, env_str: str):
        return self._one_shot(env_source, ("ref", env_source, env_str))

    # ------------------------------------------------------------------ lifecycle
    def worker_info(self) -> list[dict]:
        """One entry per live worker: its source's sha256 prefix, sessions, restarts, and what
        confinement the kernel gave it."""
        with self._lock:
            slots = list(self._tenants.values())
        return [dict(slot.info, source=slot.key[:16], sessions=len(slot.sessions), restarts=slot.restarts)
                for slot in slots if slot.process is not None]

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the SandboxPool is closed")

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            refiller = self._refiller
        # A worker the refiller is starting is killed by it; waiting for that keeps it from
        # outliving the pool when the interpreter exits (it would hold the pool's pipes open).
        # (At interpreter exit daemon threads are frozen: joining would never return.)
        if refiller is not None and refiller is not threading.current_thread() and not sys.is_finalizing():
            refiller.join(worker_link.START_TIMEOUT_S + 10.0)
        with self._lock:
            slots = list(self._tenants.values()) + self._spares
            self._tenants.clear()
            self._idle.clear()
            self._spares = []
        for slot in slots:
            with slot.lock:
                worker_link.kill(slot)
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
