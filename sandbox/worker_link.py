"""One sandbox worker process and the wire to it: starting it from the forkserver zygote
(without the trainer's `__main__`), killing it, sending a batch of ops with request ids, and
collecting the replies with a deadline per op. `sandbox.pool` decides which worker runs what.
"""

import io
import os
import pickle
import secrets
import shutil
import threading
import time

from multiprocess import context as mp_context
from multiprocess import forkserver, popen_forkserver, reduction, spawn, util

from sandbox import worker as worker_module

MAX_REPLY_BYTES = 1 << 30  # a larger message from a worker is hostile: the worker is replaced
START_TIMEOUT_S = 60.0  # a worker not confined and ready by then has failed to start


class _PlainUnpickler(pickle.Unpickler):
    """Worker replies are built from plain containers and scalars only; refusing every class
    lookup keeps env code that hijacks its worker's pipe from running code in this process."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"sandbox reply refers to {module}.{name}; only plain data is accepted")


def loads(data: bytes):
    return _PlainUnpickler(io.BytesIO(data)).load()


class _WorkerPopen(popen_forkserver.Popen):
    """Forks a worker from the zygote without re-running the trainer's `__main__` in it: a
    worker needs only `sandbox.worker`, and a main script that imports jax would otherwise load
    jax into every worker (tens of ms and hundreds of MB each)."""

    def _launch(self, process_obj):
        prep_data = spawn.get_preparation_data(process_obj._name)
        prep_data.pop("init_main_from_path", None)
        prep_data.pop("init_main_from_name", None)
        buf = io.BytesIO()
        mp_context.set_spawning_popen(self)
        try:
            reduction.dump(prep_data, buf)
            reduction.dump(process_obj, buf)
        finally:
            mp_context.set_spawning_popen(None)
        self.sentinel, w = forkserver.connect_to_new_process(self._fds)
        _parent_w = os.dup(w)  # the child's sentinel of its parent, as multiprocess keeps it
        self.finalizer = util.Finalize(self, util.close_fds, (_parent_w, self.sentinel))
        with open(w, "wb", closefd=True) as f:
            f.write(buf.getbuffer())
        self.pid = forkserver.read_signed(self.sentinel)


class _WorkerProcess(mp_context.ForkServerProcess):
    @staticmethod
    def _Popen(process_obj):
        return _WorkerPopen(process_obj)


class Slot:
    """One worker process and the sessions of the one environment source it hosts."""

    def __init__(self, index: int, key: str):
        self.index = index  # start order: batched calls take slot locks in this order
        self.key = key  # sha256 of the env source
        self.lock = threading.Lock()
        self.process = None
        self.conn = None
        self.progress = None  # shared int: index of the op the worker is running
        self.info = {}
        self.sessions = set()
        self.users = 0  # calls waiting for or running on this worker outside a session
        self.request_ids: list[int] = []  # of the batch sent last, in order
        self.restarts = 0


def start(slot: Slot, context, limits) -> None:
    """Starts `slot`'s worker and waits for its confinement report (raises RuntimeError)."""
    parent_conn, child_conn = context.Pipe(duplex=True)
    progress = context.RawValue("q", -1)  # index of the op the worker is running
    process = _WorkerProcess(target=worker_module.serve, args=(child_conn, limits, progress),
                             daemon=True, name=f"sandbox-worker-{slot.index}")
    process.start()
    child_conn.close()
    try:
        if not parent_conn.poll(START_TIMEOUT_S):
            raise RuntimeError(f"it did not start within {START_TIMEOUT_S:.0f} s")
        status, info = loads(parent_conn.recv_bytes())
        if status != "ok":
            raise RuntimeError(f"it refused to start: {info}")
    except (EOFError, OSError, pickle.UnpicklingError) as exc:
        process.join(2.0)
        parent_conn.close()
        raise RuntimeError(f"sandbox worker {slot.index} died while confining itself "
                           f"(exit code {process.exitcode}): {exc!r}") from None
    except RuntimeError as exc:
        process.kill()
        parent_conn.close()
        raise RuntimeError(f"sandbox worker {slot.index}: {exc}") from None
    slot.process, slot.conn, slot.info, slot.progress = process, parent_conn, info, progress


def kill(slot: Slot) -> None:
    """Kills the worker (its reaper, and through it the worker) and removes its temp dir."""
    if slot.process is not None:
        slot.process.kill()
        slot.process.join(5.0)
        slot.conn.close()
        tmpdir = slot.info.get("tmpdir")
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)
    slot.process = slot.conn = None


def send(slot: Slot, ops: list) -> bool:
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

def matching(slot: Slot, received, replies: list, stats: dict) -> None:
    """Appends the replies in `received` that answer the next expected request ids."""
    for item in received if isinstance(received, list) else [received]:
        expected = slot.request_ids[len(replies)] if len(replies) < len(slot.request_ids) else None
        if isinstance(item, tuple) and len(item) == 2 and item[0] == expected:
            replies.append(item[1])
        else:
            stats["unmatched_replies"] += 1

def collect(slot: Slot, deadlines: list[float], stats: dict):
    """Replies to the ops just sent, in order; op i may run deadlines[i] seconds (the worker
    publishes the index of the op it is running). Returns (replies, failure, index):
    failure is None when all arrived, else a ("fail", kind, message) for op `index`."""
    count = len(deadlines)
    replies: list = []
    last_progress, last_change = -1, time.monotonic()
    while len(replies) < count:
        try:
            if slot.conn.poll(0.05):
                matching(slot, loads(slot.conn.recv_bytes(MAX_REPLY_BYTES)), replies, stats)
                last_change = time.monotonic()
                continue
            alive = slot.process.is_alive()
        except (EOFError, OSError, pickle.UnpicklingError):
            alive = False
            slot.process.join(1.0)  # an exiting worker's status reaches us through its reaper
            slot.process.kill()
        failed_at = min(max(slot.progress.value, len(replies)), count - 1)
        if not alive:
            slot.process.join(2.0)
            code = slot.process.exitcode
            return replies, ("fail", "crash",
                             f"the worker process exited (exit code {code}) during the call"), failed_at
        now = time.monotonic()
        deadline_s = deadlines[failed_at]
        # Only forward moves within the batch restart the clock: env code that finds the
        # shared counter cannot stretch the deadline beyond one per op.
        if last_progress < slot.progress.value < count:
            last_progress, last_change = slot.progress.value, now
        elif now - last_change > deadline_s:
            return replies, ("fail", "timeout", f"the call did not finish within {deadline_s:g} s"), failed_at
    return replies, None, None

