"""Test-wide setup: JAX sees 8 virtual CPU devices, so every test can exercise sharding."""
import os

from xla_flags import DEVICE_COUNT_FLAG

def _append_xla_flag(flag: str) -> None:
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + flag).strip()


# Must happen before jax is first imported anywhere in the test process. Eight devices share two
# cores, so one device's thread can reach a collective minutes after the others: XLA's default
# 40 s rendezvous limit aborted a busy machine's run (the processes tests start inherit these).
if f"{DEVICE_COUNT_FLAG}=8" not in os.environ.get("XLA_FLAGS", ""):
    _append_xla_flag(f"{DEVICE_COUNT_FLAG}=8")
for _flag in ("--xla_cpu_collective_call_warn_stuck_timeout_seconds=120",
              "--xla_cpu_collective_call_terminate_timeout_seconds=900"):
    if _flag.split("=")[0] not in os.environ.get("XLA_FLAGS", ""):  # a value the suite was run with stays
        _append_xla_flag(_flag)
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
