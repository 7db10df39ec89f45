"""Test-wide setup: JAX sees 8 virtual CPU devices, so every test can exercise sharding."""
import os

from xla_flags import DEVICE_COUNT_FLAG

# Must happen before jax is first imported anywhere in the test process.
_flag = f"{DEVICE_COUNT_FLAG}=8"
if _flag not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + _flag).strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
