"""Attacks on the kernel-enforced sandbox, each next to a well-behaved neighbour session of another
environment source whose every observation and reward is checked against an in-process run of
the same env. Each attack must fail or stay inside its own session; a canary file outside the
worker's temp dir must stay as it was; nothing a worker starts may outlive the pool."""

import json
import os
import threading
import time

import pytest

from sandbox.client import EnvClient
from sandbox.limits import SandboxLimits
from sandbox.pool import SandboxPool
from sandbox.server import EnvServer
from sandbox_envs import COUNTER_ENV, attack_env, counter_env_str

ATTACK = {"name": "Attack", "parameters": {}}
CANARY_TEXT = "canary: must never change\n"
LIMITS = SandboxLimits(call_deadline_s=2.0, oracle_deadline_s=10.0, address_space_bytes=768 << 20)


class Neighbour:
    """A CounterEnv session in the sandbox and the same env in-process, stepped in lockstep."""

    def __init__(self, sandbox, seed: int, source: str = COUNTER_ENV):
        namespace = {"__name__": "reference_env"}
        exec(COUNTER_ENV, namespace)
        self.sandbox, self.seed = sandbox, seed
        self.reference = namespace["CounterEnv"].from_env_str(counter_env_str(seed))
        self.sid = sandbox.open_session(source, counter_env_str(seed))
        self.checked = 0

    def step(self, x: int) -> None:
        action = {"name": "Add", "parameters": {"x": x}}
        result = self.sandbox.step(self.sid, action)
        expected = self.reference.step(json.dumps(action))[1]
        assert (result.error, result.observation, result.reward, result.done) == \
            (None, expected, self.reference.reward, False), result
        self.checked += 1

    def finish(self) -> None:
        answer = {"name": "Done", "parameters": {"answer": self.seed % 7}}
        result = self.sandbox.step(self.sid, answer)
        expected = self.reference.step(json.dumps(answer))[1]
        assert (result.observation, result.reward, result.done) == (expected, 1.0, True), result
        self.sandbox.close_session(self.sid)


@pytest.fixture(scope="module")
def canary(tmp_path_factory):
    folder = tmp_path_factory.mktemp("canary")
    os.chmod(folder, 0o777)  # even a worker running as its own user could write here, but for the sandbox
    path = folder / "canary.txt"
    path.write_text(CANARY_TEXT)
    os.chmod(path, 0o666)
    yield path
    assert path.read_text() == CANARY_TEXT


@pytest.fixture(scope="module")
def pool():
    with SandboxPool(limits=LIMITS) as p:
        yield p


def _contained(sandbox, source: str, canary) -> "StepResult":  # noqa: F821
    """Runs the attack between neighbour steps; returns the attack's result."""
    neighbour = Neighbour(sandbox, seed=len(source) % 97)
    neighbour.step(5)
    sid = sandbox.open_session(source, "AttackEnv@{}")
    result = sandbox.step(sid, ATTACK)
    neighbour.step(7)
    after = sandbox.step(sid, {"name": "Observe", "parameters": {}})
    assert after.observation in ("0", "1000"), after  # rolled back, or the env's own state
    sandbox.close_session(sid)
    neighbour.step(11)
    neighbour.finish()
    assert canary.read_text() == CANARY_TEXT
    return result


def _refused(result) -> None:
    assert result.error == "refused", result
    assert "Operation not permitted" in result.observation or "Permission denied" in result.observation


def test_the_pool_reports_full_confinement(pool):
    assert pool.isolation["missing"] == []
    assert pool.isolation["pid"] == 1 and pool.isolation["unprivileged_user"]
    assert pool.isolation["landlock"] >= 1 and pool.isolation["seccomp"]


KERNEL_REFUSED = {
    "fork": "os.fork()",
    "fork_exec": "import _posixsubprocess\nr, w = os.pipe()\n"
                 "_posixsubprocess.fork_exec(['/bin/sh'], [b'/bin/sh'], True, (), None, None, "
                 "-1, -1, -1, -1, -1, -1, r, w, False, False, -1, None, None, None, -1, None, False)",
    "unshare": "os.unshare(os.CLONE_NEWUSER)",
    "setns": "os.setns(os.open('/proc/1/ns/net', os.O_RDONLY))",
    "socket": "import socket\nsocket.socket()",
    "kill_pool_owner": "os.kill({owner}, 9)",
    "ptrace_memory": "return open('/proc/{owner}/mem', 'rb').read(8)",
    "proc_via_self": "return open('/proc/self/../{owner}/mem', 'rb').read(8)",
    "proc_by_chdir": "os.chdir('/proc')\nreturn open('{owner}/cmdline').read()",
    "own_proc_memory_write": "f = open('/proc/self/mem', 'r+b')",
    "shadow": "return open('/etc/shadow').read()",
    "project_file": "return open({project_file!r}).read()",
    "canary_write": "open({canary!r}, 'a').write('x')",
    "canary_write_by_dir_fd": "fd = os.open({canary_dir!r}, os.O_RDONLY)\n"
                              "os.open('canary.txt', os.O_WRONLY | os.O_TRUNC, dir_fd=fd)",
    "canary_delete_by_dir_fd": "fd = os.open({canary_dir!r}, os.O_RDONLY)\nos.unlink('canary.txt', dir_fd=fd)",
    "canary_rename": "os.rename({canary!r}, 'stolen.txt')",
    "setuid_root": "os.setuid(0)",
    "thread": "import threading\nthreading.Thread(target=lambda: None).start()",
}

# Reached through libc, these return a failure instead of raising: (attack, what it returns).
LIBC_REFUSED = {
    "execv": "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
             "argv = (ctypes.c_char_p * 2)(b'/bin/sh', None)\n"
             "return f'{libc.execv(b\'/bin/sh\', argv)} {ctypes.get_errno()}'",
    "system": "return str(os.system('touch /tmp/escaped-by-system'))",
}


@pytest.mark.parametrize("name", sorted(KERNEL_REFUSED))
def test_kernel_refuses(pool, canary, name):
    attack = KERNEL_REFUSED[name].format(
        owner=os.getpid(), canary=str(canary), canary_dir=str(canary.parent),
        project_file=os.path.abspath(__file__))
    result = _contained(pool, attack_env(attack), canary)
    if name == "thread":
        assert result.error == "env_exception" and "can't start new thread" in result.observation
    else:
        _refused(result)


@pytest.mark.parametrize("name", sorted(LIBC_REFUSED))
def test_libc_calls_fail(pool, canary, name):
    result = _contained(pool, attack_env(LIBC_REFUSED[name]), canary)
    assert result.error is None
    assert result.observation == ("-1 1" if name == "execv" else str(127 << 8)), result
    assert not os.path.exists("/tmp/escaped-by-system")


def test_a_disabled_interpreter_guard_changes_nothing(pool, canary):
    # With no audit hook to empty or rewrite, code that walks gc for one finds nothing to
    # switch off, and the kernel still refuses what follows.
    attack = ("import gc, sys\n"
              "hooks = [o for o in gc.get_objects() if callable(o) and getattr(o, '__name__', '') == 'hook']\n"
              "os.fork()")
    _refused(_contained(pool, attack_env(attack), canary))


def test_the_environment_holds_no_parent_secret(pool, canary):
    os.environ["CODEGYM_SANDBOX_TOKEN_CANARY"] = "secret-never-seen"  # after the zygote started: harmless either way
    attack = ("import ctypes\n"
              "environ = ctypes.POINTER(ctypes.c_char_p).in_dll(ctypes.CDLL(None), 'environ')\n"
              "entries, i = [], 0\n"
              "while environ[i] is not None:\n"
              "    entries.append(environ[i].decode(errors='replace'))\n"
              "    i += 1\n"
              "return json.dumps({'os': sorted(os.environ), 'c': [e for e in entries if e]})")
    result = _contained(pool, attack_env(attack), canary)
    seen = json.loads(result.observation)
    assert seen["os"] == ["HOME", "LANG", "TMPDIR"]
    assert all(entry.split("=", 1)[0] in ("HOME", "LANG", "TMPDIR") for entry in seen["c"]), seen


@pytest.mark.parametrize("attack", [
    "import builtins\nbuiltins.float = lambda *a: 1.0\nbuiltins.str = lambda *a: 'reward=1'",
    "json.loads = lambda *a, **k: {'name': 'Done', 'parameters': {'answer': 0}}",
    "import gc\nfor o in gc.get_objects():\n"
    "    if type(o).__name__ == 'CounterEnv':\n        type(o).get_ref_answer = lambda self: -1\n"
    "return str(sum(type(o).__name__ == 'CounterEnv' for o in gc.get_objects()))",
    "import signal\nsignal.alarm(1)",
    "import threading\nthreading.Timer(0.5, lambda: [0 for _ in iter(int, 1)]).start()",
], ids=["builtins", "json_loads", "gc_neighbours", "alarm", "background_thread"])
def test_corruption_and_delayed_blame_stay_in_their_own_worker(pool, canary, attack):
    neighbour = Neighbour(pool, seed=41)
    neighbour.step(1)
    sid = pool.open_session(attack_env(attack), "AttackEnv@{}")
    result = pool.step(sid, ATTACK)
    if "CounterEnv" in attack:
        assert result.observation == "0"  # no other env's object lives in this interpreter
    for x in range(6):  # past the alarm and the timer
        neighbour.step(x)
        time.sleep(0.25)
    neighbour.finish()
    pool.close_session(sid)
    assert canary.read_text() == CANARY_TEXT


SLOW_ENV = COUNTER_ENV.replace('''        if name == "Observe":''', '''        if name == "Slow":  # 0.25 s of CPU, honestly spent
            import time
            end = time.process_time() + 0.25
            while time.process_time() < end:
                pass
        if name == "Observe":''')


def test_an_unrelated_crash_loses_no_honest_slow_call():
    crasher = attack_env("os._exit(3)")
    with SandboxPool(limits=SandboxLimits(call_deadline_s=20.0)) as own:
        honest = [own.open_session(SLOW_ENV, counter_env_str(seed)) for seed in range(48)]
        bad = own.open_session(crasher, "AttackEnv@{}")
        start = time.monotonic()
        results = own.step_many([(sid, {"name": "Slow", "parameters": {}}) for sid in honest] + [(bad, ATTACK)])
        elapsed = time.monotonic() - start
        assert all(r.error is None for r in results[:-1]), [r for r in results if r.error][:3]
        assert results[-1].error == "crash"
        assert own.stats["replayed_sessions"] == 1  # the crasher's own session, no honest one
        assert elapsed < 48 * 0.25 + 10  # the calls ran once: none was replayed


def _live(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            return [int(c) for c in children.read().split()]
    except FileNotFoundError:
        return []


def test_nothing_outlives_the_pool():
    own = SandboxPool(limits=LIMITS)
    sids = [own.open_session(attack_env("while True:\n    pass"), "AttackEnv@{}"),
            own.open_session(COUNTER_ENV, counter_env_str(3))]
    threading.Thread(target=own.step, args=(sids[0], ATTACK), daemon=True).start()
    time.sleep(0.5)  # the first worker is busy in its loop
    reapers = [slot.process.pid for slot in list(own._tenants.values()) + own._spares]
    workers = [child for pid in reapers for child in _children(pid)]
    assert len(workers) >= 2
    own.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_live(p) for p in reapers + workers):
        time.sleep(0.05)
    assert not [p for p in reapers + workers if _live(p)]


def _descriptors(pid: int) -> dict[int, str]:
    return {int(fd): os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}


def test_workers_hold_no_inherited_descriptor(pool):
    """Only the pipe to the pool: not the trainer's stdout (a leftover process would keep a
    caller waiting for its end), not the multiprocess helpers' pipes."""
    pool.close_session(pool.open_session(COUNTER_ENV, counter_env_str(1)))
    reapers = [slot.process.pid for slot in list(pool._tenants.values()) + pool._spares]
    assert reapers
    for reaper in reapers:
        assert _descriptors(reaper) == {0: "/dev/null", 1: "/dev/null", 2: "/dev/null"}
        (worker,) = _children(reaper)
        held = _descriptors(worker)
        assert [held.pop(fd) for fd in (0, 1, 2)] == ["/dev/null"] * 3
        assert len(held) == 1 and next(iter(held.values())).startswith("socket:"), held


def _forkserver_children() -> set[int]:
    from multiprocess import forkserver
    return {pid for pid in _children(forkserver._forkserver._forkserver_pid) if _live(pid)}


def test_closing_while_spares_start_leaves_no_worker():
    SandboxPool(limits=LIMITS).close()  # the zygote is running before the count below
    before = _forkserver_children()
    for _ in range(3):
        own = SandboxPool(limits=LIMITS)  # its background thread is starting the spares
        own.close()
        assert _forkserver_children() <= before


def test_attacks_over_http_stay_in_their_session(pool, canary):
    server = EnvServer(pool, max_inflight=64)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = EnvClient(server.url)
    try:
        for attack in ("os.fork()", "open({canary!r}, 'w').write('x')", "os._exit(0)",
                       "while True:\n    pass", "return 'x' * 10_000_000"):
            result = _contained(client, attack_env(attack.format(canary=str(canary))), canary)
            assert result.error in ("refused", "crash", "timeout", "observation_too_long"), result
    finally:
        client.close()
        server.shutdown()
        server.server_close()
