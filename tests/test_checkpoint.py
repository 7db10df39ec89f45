"""Checkpoints: a run resumed at step k in a fresh process equals the unbroken run; keep N;
restored arrays land in the live shardings; HF export loads back."""
from __future__ import annotations

import pathlib
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from codegym_jax import sharding
from codegym_jax.checkpoint import Checkpointer, export_hf
from codegym_jax.models import hf_io
from codegym_jax.models.config import DecoderConfig
from codegym_jax.rl import learner
from xla_flags import child_env

CFG = DecoderConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_layers=2,
                  num_heads=4, num_kv_heads=2, head_dim=8)

# One script, run as separate processes: `train DIR N [RESUME]` trains N steps on batches chosen by
# the data position and the state's RNG, checkpointing every step, and prints the final params'
# checksum; with RESUME it first restores the latest checkpoint.
SCRIPT = textwrap.dedent('''
    import sys
    import jax, jax.numpy as jnp, numpy as np
    from codegym_jax import sharding
    from codegym_jax.checkpoint import Checkpointer
    from codegym_jax.models.config import DecoderConfig
    from codegym_jax.rl import learner
    from codegym_jax.rl.losses import LossConfig
    from codegym_jax.rl.objectives import policy_gradient_loss
    cfg = DecoderConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_layers=2,
                      num_heads=4, num_kv_heads=2, head_dim=8)
    directory, steps, resume = sys.argv[1], int(sys.argv[2]), len(sys.argv) > 3
    mesh = sharding.make_mesh({"fsdp": 4})
    opt = learner.make_optimizer(learner.OptimizerConfig(learning_rate=1e-3, warmup_steps=2))
    state, shardings = learner.init_train_state(cfg, opt, jax.random.key(0), mesh)
    train_step = learner.make_train_step(opt, policy_gradient_loss(cfg, LossConfig()), num_micro_batches=2)
    step = learner.jit_train_step(train_step, shardings, mesh)
    position = 0
    ckpt = Checkpointer(directory, keep=2)
    if resume:
        state, progress = ckpt.restore(state)
        position = progress["data_position"]
    while int(state.step) < steps:
        rng, sub = jax.random.split(state.rng)
        state = state._replace(rng=rng)
        noise = float(jax.random.uniform(sub))
        data = np.random.default_rng(position)
        B, L = 4, 10
        batch = {
            "tokens_BxL": data.integers(0, 64, (B, L)).astype(np.int32),
            "positions_BxL": np.tile(np.arange(L, dtype=np.int32), (B, 1)),
            "segment_ids_BxL": np.ones((B, L), np.int32),
            "loss_mask_BxL": np.ones((B, L), np.int32),
            "advantages_BxL": np.full((B, L), noise - 0.5, np.float32),
            "sampler_logprobs_BxL": np.full((B, L), -4.0, np.float32),
            "old_logprobs_BxL": np.full((B, L), -4.0, np.float32),
        }
        with jax.set_mesh(mesh):
            state, metrics = step(state, batch)
        position += B
        ckpt.save(int(state.step), state, {"data_position": position})
    ckpt.close()
    print("CHECKSUM", repr(float(sum(jnp.sum(jnp.abs(x)) for x in jax.tree.leaves(state.params)))),
          int(state.step), position)
''')


def run_script(tmp_path, *args):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    out = subprocess.run([sys.executable, str(script), *map(str, args)], capture_output=True, text=True,
                         cwd=pathlib.Path(__file__).resolve().parents[1], env=child_env(device_count=4))
    assert out.returncode == 0, out.stderr[-3000:]
    return [line for line in out.stdout.splitlines() if line.startswith("CHECKSUM")][-1]


@pytest.mark.slow
def test_resume_in_a_fresh_process_equals_the_unbroken_run(tmp_path):
    unbroken = run_script(tmp_path, tmp_path / "a", 5)
    run_script(tmp_path, tmp_path / "b", 3)
    resumed = run_script(tmp_path, tmp_path / "b", 5, "resume")
    assert resumed == unbroken
    steps = sorted(int(p.name) for p in (tmp_path / "b").iterdir() if p.name.isdigit())
    assert steps == [4, 5]  # keep=2


def test_restore_places_arrays_in_the_live_shardings(tmp_path):
    mesh = sharding.make_mesh({"fsdp": 2, "tensor": 2}, jax.devices()[:4])
    opt = learner.make_optimizer(learner.OptimizerConfig())
    state, _ = learner.init_train_state(CFG, opt, jax.random.key(1), mesh)
    with Checkpointer(tmp_path / "ck", keep=1, async_save=False) as ck:
        ck.save(7, state, {"data_position": 42, "epoch": 1})
        ck.wait()
        other, _ = learner.init_train_state(CFG, opt, jax.random.key(2), mesh)
        restored, progress = ck.restore(other)
    assert progress == {"data_position": 42, "epoch": 1}
    jax.tree.map(lambda a, b: np.testing.assert_array_equal(a, b), restored.params, state.params)
    assert restored.params["embed"].sharding == state.params["embed"].sharding
    np.testing.assert_array_equal(jax.random.key_data(restored.rng), jax.random.key_data(state.rng))


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    mesh = sharding.make_mesh({"fsdp": 1}, jax.devices()[:1])
    opt = learner.make_optimizer(learner.OptimizerConfig())
    state, _ = learner.init_train_state(CFG, opt, jax.random.key(1), mesh)
    with Checkpointer(tmp_path / "empty") as ck:
        with pytest.raises(FileNotFoundError, match="no checkpoint in"):
            ck.restore(state)


def test_hf_export_loads_back(tmp_path):
    mesh = sharding.make_mesh({"fsdp": 2}, jax.devices()[:2])
    opt = learner.make_optimizer(learner.OptimizerConfig())
    state, _ = learner.init_train_state(CFG, opt, jax.random.key(3), mesh)
    export_hf(tmp_path / "hf", CFG, state)
    cfg, params = hf_io.load_hf_model(tmp_path / "hf")
    assert cfg == CFG
    jax.tree.map(lambda a, b: np.testing.assert_array_equal(a, b), params, state.params)
