"""Kernel-enforced confinement of one sandbox worker process, applied before any env code runs.

`confine` is called in the freshly forked worker (never in the parent). In order:
0. Every inherited file descriptor but the worker's pipe is closed, and stdin/stdout/stderr
   point at /dev/null: env code cannot write to the trainer's terminal or to the pipes of the
   process-manager helpers (the resource tracker runs as root), and no leftover process holds
   the trainer's pipes open past its exit.
1. New PID, network, IPC and UTS namespaces (plus a user namespace when not root, and a mount
   namespace as root), then one more fork: the worker is PID 1 of its own PID namespace, so
   every process it could make dies with it, and it cannot name any process outside. The
   process left outside only waits for it and exits with its status (killing it kills the
   worker through PR_SET_PDEATHSIG).
2. As root: the worker becomes `nobody` with no supplementary groups, and holds no
   capabilities (a non-root worker keeps its uid and drops what its user namespace gave it).
   A directory on the way to the Python install that `nobody` may not enter (a Python under a
   0700 /root) is covered by an empty tmpfs showing only the Python install itself.
3. No-new-privileges, then Landlock: reads only under the Python install (stdlib and
   site-packages) and the `sandbox` package, reads and writes only in the private temp dir,
   no TCP bind/connect, no signals or abstract sockets beyond the worker (by ABI version).
4. A seccomp filter (libseccomp): no exec, fork, clone or threads, no sockets, no namespace,
   mount, ptrace or cross-process memory calls, no signals, timers (alarm, setitimer,
   timer_create) or resource-limit changes, no io_uring, bpf, perf or keyrings. Refused calls
   fail with EPERM, so env code sees a PermissionError.

Each step reports what it got; `missing(report)` lists what the kernel did not give, and the
pool refuses to run untrusted code when anything is missing unless told to accept it.
"""

import ctypes
import ctypes.util
import errno
import os
import signal
import stat
import sys
import sysconfig

try:  # at import (in the zygote): finding libseccomp runs ldconfig, which Landlock later forbids
    import pyseccomp
    _SECCOMP_ERROR = None
except (ImportError, OSError) as exc:  # OSError: libseccomp.so.2 missing
    pyseccomp = None
    _SECCOMP_ERROR = f"{type(exc).__name__}: {exc}"

NOBODY = 65534
_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1
_PR_SET_NO_NEW_PRIVS = 38
_SYSCALLS = {"x86_64": {"capset": 126, "landlock_create_ruleset": 444, "landlock_add_rule": 445,
                        "landlock_restrict_self": 446},
             "aarch64": {"capset": 91, "landlock_create_ruleset": 444, "landlock_add_rule": 445,
                         "landlock_restrict_self": 446}}
REQUIRED = ("pid_namespace", "network_namespace", "ipc_namespace", "unprivileged_user",
            "no_capabilities", "landlock", "seccomp")


def _syscall_number(name: str) -> int:
    table = _SYSCALLS.get(os.uname().machine)
    if table is None:
        raise OSError(errno.ENOSYS, f"no syscall table for machine {os.uname().machine!r}")
    return table[name]


def _check(result: int, what: str) -> int:
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")
    return result


# ---------------------------------------------------------------- file descriptors
def close_inherited_fds(keep_fds: tuple) -> None:
    """stdin/stdout/stderr onto /dev/null; every other descriptor but `keep_fds` closed."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        if devnull != fd:
            os.dup2(devnull, fd)
    if devnull > 2:
        os.close(devnull)
    low = 3
    for keep in sorted(keep_fds):
        os.closerange(low, keep)
        low = max(low, keep + 1)
    os.closerange(low, os.sysconf("SC_OPEN_MAX"))


# ---------------------------------------------------------------- namespaces
def enter_namespaces(report: dict, keep_fds: tuple = ()) -> None:
    """Unshares the namespaces, then forks: returns in the child (PID 1 of the new PID
    namespace); the parent waits for it and exits with its status."""
    root = os.geteuid() == 0
    base = os.CLONE_NEWPID | os.CLONE_NEWNET | os.CLONE_NEWIPC | os.CLONE_NEWUTS
    attempts = [base | os.CLONE_NEWNS] if root else [base | os.CLONE_NEWUSER]
    attempts += [os.CLONE_NEWNET | (0 if root else os.CLONE_NEWUSER)]
    got = 0
    for flags in attempts:
        try:
            os.unshare(flags)
            got = flags
            break
        except OSError as exc:
            report.setdefault("namespace_errors", []).append(f"unshare({flags:#x}): {exc.strerror}")
    report["pid_namespace"] = bool(got & os.CLONE_NEWPID)
    report["network_namespace"] = bool(got & os.CLONE_NEWNET)
    report["ipc_namespace"] = bool(got & os.CLONE_NEWIPC)
    report["mount_namespace"] = bool(got & os.CLONE_NEWNS)
    report["user_namespace"] = bool(got & os.CLONE_NEWUSER)
    if not got & os.CLONE_NEWPID:
        return
    parent = os.getpid()
    child = os.fork()
    if child:
        _wait_and_exit(child, keep_fds)
    report["outer_pid"] = parent


def die_with_reaper(report: dict) -> None:
    """SIGKILL when the process outside (the reaper) dies. Set after the uid change, which
    clears it. (Were the reaper killed in the microseconds before, the worker still ends at
    its next read: the pool has closed the pipe.)"""
    if report.get("pid_namespace"):
        _check(_libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")


def _wait_and_exit(child: int, fds: tuple) -> None:
    for fd in fds:  # the worker's ends: only the worker may hold them open
        try:
            os.close(fd)
        except OSError:
            pass
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


# ---------------------------------------------------------------- user and capabilities
def readable_roots() -> list[str]:
    """What env code may read: the Python install (stdlib, site-packages) and `sandbox`."""
    paths = {sys.base_prefix, sys.base_exec_prefix, sys.prefix, sys.exec_prefix,
             os.path.dirname(os.path.abspath(__file__))}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        paths.add(sysconfig.get_path(key))
    real = sorted({os.path.realpath(p) for p in paths if p and os.path.isdir(p)})
    return [p for p in real if not any(p != q and p.startswith(q + os.sep) for q in real)]


def _blocked_ancestor(path: str, uid: int):
    """The first directory on the way to `path` that `uid` (not its owner) may not enter."""
    current = "/"
    for part in path.strip("/").split("/"):
        info = os.stat(current)
        if info.st_uid != uid and not info.st_mode & stat.S_IXOTH:
            return current, part
        current = os.path.join(current, part)
    return None


def _expose(paths: list[str], uid: int) -> None:
    """Covers each directory `uid` may not enter with an empty tmpfs that shows only the
    needed paths below it (bind mounts), in this process's own mount namespace."""
    libc_mount = _libc.mount
    libc_mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
    ms_rec, ms_private, ms_bind = 0x4000, 0x40000, 0x1000
    _check(libc_mount(b"none", b"/", None, ms_rec | ms_private, None), "mount(/, MS_PRIVATE)")
    for path in paths:
        blocked = _blocked_ancestor(path, uid)
        if blocked is None:
            continue
        directory, part = blocked
        keep = os.open(os.path.join(directory, part), os.O_PATH | os.O_DIRECTORY)
        try:
            _check(libc_mount(b"tmpfs", directory.encode(), b"tmpfs", 0, b"mode=0755,size=64k"),
                   f"mount(tmpfs on {directory})")
            target = os.path.join(directory, part)
            os.mkdir(target, 0o755)
            _check(libc_mount(f"/proc/self/fd/{keep}".encode(), target.encode(), None, ms_bind | ms_rec, None),
                   f"mount(bind {target})")
        finally:
            os.close(keep)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def drop_privileges(report: dict, private_dirs: list[str]) -> None:
    """As root: become `nobody` (owning `private_dirs`). Always: no capabilities left."""
    if os.geteuid() == 0:
        if report.get("mount_namespace"):
            try:
                _expose(readable_roots(), NOBODY)
            except OSError as exc:
                report["expose_error"] = str(exc)
        for directory in private_dirs:
            os.chown(directory, NOBODY, NOBODY)
        os.setgroups([])
        os.setresgid(NOBODY, NOBODY, NOBODY)
        os.setresuid(NOBODY, NOBODY, NOBODY)
    report["uid"] = os.getuid()
    report["unprivileged_user"] = os.getuid() != 0 and os.geteuid() != 0
    header, data = _CapHeader(0x20080522, 0), (_CapData * 2)()
    try:
        _check(_libc.syscall(_syscall_number("capset"), ctypes.byref(header), ctypes.byref(data)), "capset")
    except OSError as exc:
        report["capset_error"] = str(exc)
    report["no_capabilities"] = _effective_capabilities() == 0


def _effective_capabilities() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    return -1


# ---------------------------------------------------------------- Landlock
_FS_READ_FILE, _FS_READ_DIR = 1 << 2, 1 << 3
_FS_FILE_RIGHTS = (1 << 0) | (1 << 1) | (1 << 2)  # execute, write, read
_FS_RIGHTS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1,
                     5: (1 << 16) - 1}
_NET_ALL, _SCOPE_ALL = 0b11, 0b11


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock_abi() -> int:
    try:
        return max(0, _libc.syscall(_syscall_number("landlock_create_ruleset"), None, 0, 1))
    except OSError:
        return 0


def apply_landlock(report: dict, read_only: list[str], read_write: list[str]) -> None:
    """Restricts this process (and anything it could start) to the given paths."""
    abi = landlock_abi()
    report["landlock"] = abi
    if abi < 1:
        return
    fs_all = _FS_RIGHTS_BY_ABI.get(abi, _FS_RIGHTS_BY_ABI[5])
    attr = _RulesetAttr(fs_all, _NET_ALL if abi >= 4 else 0, _SCOPE_ALL if abi >= 6 else 0)
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    ruleset = _check(_libc.syscall(_syscall_number("landlock_create_ruleset"), ctypes.byref(attr),
                                   ctypes.c_size_t(size), 0), "landlock_create_ruleset")
    try:
        for path in read_only:
            _add_path_rule(ruleset, path, _FS_READ_FILE | _FS_READ_DIR)
        for path in read_write:
            _add_path_rule(ruleset, path, fs_all)
        _check(_libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
        _check(_libc.syscall(_syscall_number("landlock_restrict_self"), ruleset, 0), "landlock_restrict_self")
    finally:
        os.close(ruleset)
    report["landlock_scoped"] = abi >= 6
    report["landlock_net"] = abi >= 4


def _add_path_rule(ruleset: int, path: str, access: int) -> None:
    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            access &= _FS_FILE_RIGHTS
        rule = _PathBeneathAttr(access, fd)
        _check(_libc.syscall(_syscall_number("landlock_add_rule"), ruleset, 1, ctypes.byref(rule), 0),
               f"landlock_add_rule({path})")
    finally:
        os.close(fd)


# ---------------------------------------------------------------- seccomp
_DENIED_SYSCALLS = (
    "execve", "execveat", "fork", "vfork", "clone", "clone3",
    "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4", "sendmsg",
    "recvmsg", "sendmmsg", "recvmmsg",
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree",
    "fsopen", "fsmount", "fsconfig", "fspick", "mount_setattr",
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_open", "pidfd_getfd",
    "pidfd_send_signal", "kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo",
    "alarm", "setitimer", "timer_create", "setrlimit",
    "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups",
    "setfsuid", "setfsgid", "capset",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "bpf", "perf_event_open",
    "userfaultfd", "keyctl", "add_key", "request_key", "init_module", "finit_module",
    "delete_module", "kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff", "acct",
    "quotactl", "open_by_handle_at", "name_to_handle_at", "personality", "syslog",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "sethostname",
    "setdomainname", "mknod", "mknodat", "chown", "fchown", "lchown", "fchownat",
    "ioperm", "iopl", "vhangup", "lookup_dcookie", "nfsservctl",
)


def apply_seccomp(report: dict) -> None:
    if pyseccomp is None:
        report["seccomp_error"] = _SECCOMP_ERROR
        report["seccomp"] = False
        return
    refuse = pyseccomp.ERRNO(errno.EPERM)
    rules = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
    try:  # a binary tree of rules: every allowed syscall is checked in log(rules) steps
        rules.set_attr(pyseccomp.Attr.CTL_OPTIMIZE, 2)
    except (RuntimeError, OSError, ValueError):
        pass
    skipped = []
    for name in _DENIED_SYSCALLS:
        try:
            rules.add_rule(refuse, name)
        except (ValueError, RuntimeError, OSError):  # not a syscall of this architecture
            skipped.append(name)
    # prlimit64 with a new limit changes it; without one (getrlimit) it only reads.
    rules.add_rule(refuse, "prlimit64", pyseccomp.Arg(2, pyseccomp.NE, 0))
    rules.load()
    report["seccomp"] = True
    report["seccomp_not_on_this_arch"] = skipped


def missing(report: dict) -> list[str]:
    """The required features `report` lacks."""
    return [name for name in REQUIRED if not report.get(name)]


def scrub_environment(keep: dict) -> None:
    """Leaves only `keep` in the environment, and overwrites the inherited strings in memory
    (the C environ block and Python's copies), so no token of the parent's can be read back."""
    copies = [raw for item in os.environ._data.items() for raw in item]
    environ = ctypes.POINTER(ctypes.c_void_p).in_dll(_libc, "environ")
    _libc.strlen.restype = ctypes.c_size_t
    _libc.strlen.argtypes = [ctypes.c_void_p]
    index = 0
    while environ[index]:
        address = environ[index]
        ctypes.memset(address, 0, _libc.strlen(address))
        index += 1
    os.environ.clear()
    for raw in copies:
        if len(raw) > 1:  # one-byte bytes objects are the interpreter's shared singletons
            ctypes.memset(ctypes.cast(ctypes.c_char_p(raw), ctypes.c_void_p), 0, len(raw))
    os.environ.update(keep)
