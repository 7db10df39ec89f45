"""Multi-host through jax.distributed: 2 local CPU processes x 2 devices run the sharded train step
(data x FSDP mesh over all 4 devices, each process feeding its own rows) and must agree with each
other and with the same steps in one process on 4 devices."""
import json
import pathlib
import socket
import subprocess
import sys

import jax
import pytest

from codegym_jax import distributed
from codegym_jax.models.config import DecoderConfig
from tolerances import F32_EPS, assert_within, assert_within_rounding, forward_terms, gradient_terms, rounding_bound

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import distributed_worker  # noqa: E402
from xla_flags import child_env  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_match_one(tmp_path):
    port = free_port()
    env = child_env(PYTHONPATH=str(HERE.parent))  # each worker sets its own 2 devices
    procs = [subprocess.Popen([sys.executable, str(HERE / "distributed_worker.py"), "--process-id", str(i),
                               "--num-processes", "2", "--port", str(port), "--out", str(tmp_path)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for i in range(2)]
    outputs = []
    for p in procs:
        try:
            outputs.append(p.communicate(timeout=240)[0])
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise
    for p, out in zip(procs, outputs):
        assert p.returncode == 0, out[-3000:]
    results = [json.loads((tmp_path / f"result_{i}.json").read_text()) for i in range(2)]
    assert results[0] == results[1] and results[0]["devices"] == 4

    from codegym_jax.sharding import logical_sharding, make_mesh

    mesh = make_mesh({"data": 2, "fsdp": -1}, jax.devices()[:4])
    sharding = logical_sharding(mesh, ("batch", "seq"))
    one = distributed_worker.train(mesh, lambda b: {k: jax.device_put(v, sharding) for k, v in b.items()})
    # The same steps as another program (and, the workers' XLA_FLAGS being dropped, maybe other
    # CPU kernels): losses within a forward's rounding plus the sum over the 8 x 31 targets;
    # each parameter within 3 steps of (1 + 2.5) gradient roundings (Adam at lr / eps = 1) and a
    # rounding of itself per step, and so the sum of |params| within the count of them times that.
    cfg = DecoderConfig(**distributed_worker.CFG_KW)
    seq, targets = 31, 8 * 31
    for step, (got, want) in enumerate(zip(results[0]["losses"], one["losses"])):
        assert_within_rounding(got, want, forward_terms(cfg, seq) + targets, what=f"loss of step {step}")
    grad_bound = rounding_bound(gradient_terms(cfg, seq, targets), max(one["grad_norms"]))
    param_bound = 3 * 3.5 * grad_bound + 3 * F32_EPS * one["max_param"]
    assert_within(results[0]["checksum"], one["checksum"], one["params"] * param_bound, "sum of |params|")
    assert len(set(round(x, 6) for x in one["losses"])) == 3  # the steps learn: the loss moves


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="process_id 2"):
        distributed.initialize("127.0.0.1:1234", 2, 2)
    with pytest.raises(ValueError, match="'localhost'"):
        distributed.initialize("localhost", 2, 0)
    distributed.initialize("", 1, 0)  # a single process needs nothing
