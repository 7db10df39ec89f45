"""One hostile env per test: each must give a clear error, keep the pool serving and leave every
other session with its state."""

import os
import socket
import threading
import time
import uuid

import pytest

from sandbox.limits import SandboxLimits
from sandbox.pool import SandboxPool
from sandbox.results import SandboxError
from sandbox_envs import COUNTER_ENV, attack_env, counter_env_str, replay_counter

ADD = {"name": "Add", "parameters": {"x": 5}}
OBSERVE = {"name": "Observe", "parameters": {}}
ATTACK = {"name": "Attack", "parameters": {}}


@pytest.fixture(scope="module")
def pool():
    limits = SandboxLimits(call_deadline_s=2.0, oracle_deadline_s=10.0, address_space_bytes=768 << 20)
    with SandboxPool(limits=limits) as p:
        yield p


@pytest.fixture()
def victims(pool):
    sids = [pool.open_session(COUNTER_ENV, counter_env_str(seed)) for seed in (11, 12)]
    for sid in sids:
        pool.step(sid, {"name": "Add", "parameters": {"x": 3}})
    yield sids
    for sid in sids:
        expected = replay_counter(counter_env_str(11 + sids.index(sid)), [{"name": "Add", "parameters": {"x": 3}}])
        assert pool.step(sid, OBSERVE).observation == expected
        pool.close_session(sid)


def _attack(pool, source):
    sid = pool.open_session(source, "AttackEnv@{}")
    assert pool.step(sid, ADD).observation == "5"
    result = pool.step(sid, ATTACK)
    assert result.observation.startswith("Error: "), result
    assert pool.step(sid, OBSERVE).observation == "5"  # the failed call was rolled back
    pool.close_session(sid)
    return result


def _refused(result):
    """The kernel refused the call (seccomp: EPERM, Landlock or the uid: EACCES)."""
    assert result.error == "refused", result
    assert ("Operation not permitted" in result.observation
            or "Permission denied" in result.observation), result.observation


def test_infinite_loop_in_tool(pool, victims):
    result = _attack(pool, attack_env("while True:\n    pass"))
    assert result.error == "timeout" and "within 2 s" in result.observation


def test_infinite_loop_in_constructor(pool, victims):
    with pytest.raises(SandboxError) as info:
        pool.open_session(attack_env(constructor="while True: pass"), "AttackEnv@{}")
    assert info.value.kind == "timeout"


def test_memory_bomb(pool, victims):
    result = _attack(pool, attack_env("blocks = []\nwhile True:\n    blocks.append(bytes(64 << 20))"))
    assert result.error == "memory" and "memory limit" in result.observation


def test_fork_bomb(pool, victims):
    _refused(_attack(pool, attack_env("while True:\n    os.fork()")))


def test_os_system(pool, victims):
    marker = f"/tmp/sandbox-escape-{uuid.uuid4().hex}"
    sid = pool.open_session(attack_env(f"return str(os.system('touch {marker}'))"), "AttackEnv@{}")
    status = pool.step(sid, ATTACK).observation
    assert status != "0"  # system() could not start a shell: it returns a failure status
    assert not os.path.exists(marker)


def test_subprocess(pool, victims):
    _refused(_attack(pool, attack_env("import subprocess\nsubprocess.run(['true'])")))


def test_socket_connect(pool, victims):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.5)
    port = server.getsockname()[1]
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(_try_accept(server)))
    thread.start()
    result = _attack(pool, attack_env(f"import socket\nsocket.create_connection(('127.0.0.1', {port}))"))
    thread.join()
    server.close()
    _refused(result)
    assert accepted == [None]


def _try_accept(server):
    try:
        return server.accept()
    except socket.timeout:
        return None


def test_write_outside_temp_dir(pool, victims):
    target = f"/tmp/sandbox-escape-{uuid.uuid4().hex}"
    _refused(_attack(pool, attack_env(f"open({target!r}, 'w').write('x')")))
    assert not os.path.exists(target)
    # the private temp dir (the working dir) is writable
    source = attack_env("open('scratch.txt', 'w').write('ok')\nreturn open('scratch.txt').read()")
    sid = pool.open_session(source, "AttackEnv@{}")
    assert pool.step(sid, ATTACK).observation == "ok"


@pytest.mark.parametrize("attack", [
    "return open('/proc/{owner}/mem', 'rb').read(8)",
    "return open('/proc/self/../{owner}/mem', 'rb').read(8)",
    "os.chdir('/proc')\nreturn open('{owner}/cmdline').read()",
    "return open('/proc/1/environ').read()",
    "os.kill({owner}, 9)",
])
def test_reaching_the_pool_owner(pool, victims, attack):
    _refused(_attack(pool, attack_env(attack.format(owner=os.getpid()))))


def test_os_exit(pool, victims):
    result = _attack(pool, attack_env("os._exit(0)"))
    assert result.error == "crash" and "exit code 0" in result.observation


def test_sys_exit(pool, victims):
    result = _attack(pool, attack_env("sys.exit(3)"))
    assert result.error == "env_exception" and "SystemExit: 3" in result.observation


def test_base_exception(pool, victims):
    result = _attack(pool, attack_env("raise BaseException('boom')"))
    assert result.error == "env_exception" and "BaseException: boom" in result.observation


def test_ten_megabyte_observation(pool, victims):
    result = _attack(pool, attack_env("return 'x' * 10_000_000"))
    assert result.error == "observation_too_long" and "10000000 chars" in result.observation


def test_syntax_error(pool, victims):
    with pytest.raises(SandboxError) as info:
        pool.open_session("class AttackEnv(:\n", "AttackEnv@{}")
    assert info.value.kind == "load_error" and "SyntaxError" in str(info.value)


def test_unknown_import(pool, victims):
    with pytest.raises(SandboxError) as info:
        pool.open_session(attack_env(imports="import no_such_module_for_envs"), "AttackEnv@{}")
    assert info.value.kind == "load_error" and "no_such_module_for_envs" in str(info.value)


def test_raising_resource_limits(pool, victims):
    # Even lowering a limit (which the kernel itself allows) is refused by the seccomp filter.
    result = _attack(pool, attack_env("import resource\nresource.setrlimit(resource.RLIMIT_NOFILE, (8, 8))"))
    assert result.error == "env_exception" and "not allowed" in result.observation, result


def test_hijacked_pipe_cannot_run_code_in_the_parent(pool, victims):
    marker = f"/tmp/sandbox-escape-{uuid.uuid4().hex}"
    attack = (
        "import gc, pickle\n"
        "class Evil:\n"
        f"    def __reduce__(self):\n        return (os.system, ('touch {marker}',))\n"
        "conn = [o for o in gc.get_objects() if type(o).__name__ == 'Connection'][0]\n"
        "conn.send_bytes(pickle.dumps([Evil()]))\n"
        "while True:\n    pass")
    result = _attack(pool, attack_env(attack))
    assert result.error == "crash"
    assert not os.path.exists(marker)


def test_file_size_limit(pool, victims):
    result = _attack(pool, attack_env("open('big.bin', 'wb').write(b'x' * (32 << 20))"))
    assert result.error == "env_exception" and "File too large" in result.observation


def test_open_files_limit(pool, victims):
    result = _attack(pool, attack_env("handles = [open(f'f{i}.txt', 'w') for i in range(500)]"))
    assert result.error == "env_exception" and "Too many open files" in result.observation


def test_cpu_limit_backstops_the_deadline():
    limits = SandboxLimits(cpu_seconds_per_worker=1, call_deadline_s=30.0)
    with SandboxPool(limits=limits) as own:
        victim = own.open_session(COUNTER_ENV, counter_env_str(4))
        own.step(victim, ADD)
        result = _attack(own, attack_env("while True:\n    pass"))
        # SIGKILL at the hard limit (a namespace's PID 1 ignores the soft limit's SIGXCPU)
        assert result.error == "crash" and "exit code -9" in result.observation
        assert own.step(victim, OBSERVE).observation == replay_counter(counter_env_str(4), [ADD])


def test_faking_progress_does_not_stretch_the_deadline(pool, victims):
    attack = (
        "import gc, time\n"
        "counters = [o for o in gc.get_objects() if type(o).__name__ == 'c_long']\n"
        "start = time.monotonic()\n"
        "while time.monotonic() - start < 30:\n"
        "    for c in counters:\n"
        "        c.value = -1 if c.value > 0 else 1")
    start = time.monotonic()
    result = _attack(pool, attack_env(attack))
    assert result.error == "timeout"
    assert time.monotonic() - start < 10
