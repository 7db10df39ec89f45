"""Multi-host JAX: one process per host joins through `jax.distributed`, and each process feeds
its own rows of a global batch.

On CPU, cross-process collectives need the gloo implementation; it has to be chosen before the
first backend is created, as does the local device count.
"""
from __future__ import annotations

from typing import Any

import jax
import numpy as np


def initialize(coordinator_address: str, num_processes: int, process_id: int,
               local_device_count: int | None = None) -> None:
    """Joins the job (a no-op for a single process). Call before any other JAX work."""
    if num_processes <= 1:
        return
    if not 0 <= process_id < num_processes:
        raise ValueError(f"process_id {process_id} is not in [0, {num_processes})")
    host, _, port = coordinator_address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"coordinator_address {coordinator_address!r} is not host:port")
    if jax.config.jax_platforms in (None, "", "cpu") or "cpu" in str(jax.config.jax_platforms):
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    if local_device_count is not None:
        jax.config.update("jax_num_cpu_devices", local_device_count)
    jax.distributed.initialize(coordinator_address=coordinator_address, num_processes=num_processes,
                               process_id=process_id)


def is_main_process() -> bool:
    return jax.process_index() == 0


def host_local_batch_to_global(batch: dict[str, np.ndarray], sharding: jax.sharding.Sharding) -> dict[str, Any]:
    """Global arrays from each process's own rows (process p holds rows [p*n, (p+1)*n) of the
    global batch; rows must be sharded over the processes' devices by `sharding`)."""
    return {k: jax.make_array_from_process_local_data(sharding, np.asarray(v)) for k, v in batch.items()}
