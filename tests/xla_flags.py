"""XLA flags for the processes tests start: whatever the suite was run with (a kernel choice such
as `--xla_cpu_max_isa=AVX2` must reach them too), with their own virtual device count in place of
the test process's eight."""
from __future__ import annotations

import os

DEVICE_COUNT_FLAG = "--xla_force_host_platform_device_count"


def child_xla_flags(device_count: int | None = None) -> str:
    """XLA_FLAGS without the device-count flag, plus one for `device_count` devices if given."""
    flags = [f for f in os.environ.get("XLA_FLAGS", "").split() if not f.startswith(DEVICE_COUNT_FLAG)]
    if device_count is not None:
        flags.append(f"{DEVICE_COUNT_FLAG}={device_count}")
    return " ".join(flags)


def child_env(device_count: int | None = None, **extra: str) -> dict[str, str]:
    """os.environ for a child process, with `child_xla_flags(device_count)` and `extra` set."""
    env = {**os.environ, **extra}
    env.pop("XLA_FLAGS", None)
    flags = child_xla_flags(device_count)
    if flags:
        env["XLA_FLAGS"] = flags
    return env
