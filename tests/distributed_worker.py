"""One process of the 2-process jax.distributed test: 3 sharded train steps on its half of a batch."""
import argparse
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from codegym_jax import distributed  # noqa: E402

CFG_KW = dict(vocab_size=64, hidden_size=32, intermediate_size=64, num_layers=2, num_heads=4, num_kv_heads=2,
              head_dim=8)


def global_batch(rows=8, length=32):
    import numpy as np

    rng = np.random.default_rng(0)
    mask = (rng.random((rows, length)) < 0.7).astype(np.int32)
    return {
        "tokens_BxL": rng.integers(0, 64, (rows, length)).astype(np.int32),
        "positions_BxL": np.tile(np.arange(length, dtype=np.int32), (rows, 1)),
        "segment_ids_BxL": np.ones((rows, length), np.int32),
        "loss_mask_BxL": mask,
        "advantages_BxL": np.repeat(rng.normal(size=(rows, 1)), length, 1).astype(np.float32),
        "sampler_logprobs_BxL": (-rng.random((rows, length)) * mask).astype(np.float32),
        "old_logprobs_BxL": (-rng.random((rows, length)) * mask).astype(np.float32),
    }


def train(mesh, feed, steps=3):
    """{losses, grad_norms, checksum (sum of |params|), params (entries), max_param} of `steps` RL
    train steps; `feed(batch)` places the batch. Adam's eps is the learning rate, so an update
    moves by at most lr / eps = 1 times a change in its gradient (at eps 1e-8 Adam would make
    rounding in near-zero gradient entries full steps)."""
    import jax
    import jax.numpy as jnp

    from codegym_jax.models.config import DecoderConfig
    from codegym_jax.rl import learner
    from codegym_jax.rl.losses import LossConfig
    from codegym_jax.rl.objectives import policy_gradient_loss

    cfg = DecoderConfig(**CFG_KW)
    opt = learner.make_optimizer(learner.OptimizerConfig(learning_rate=1e-2, warmup_steps=0, eps=1e-2))
    state, shardings = learner.init_train_state(cfg, opt, jax.random.key(0), mesh)
    train_step = learner.make_train_step(opt, policy_gradient_loss(cfg, LossConfig()), num_micro_batches=2)
    step = learner.jit_train_step(train_step, shardings, mesh)
    losses, grad_norms = [], []
    for _ in range(steps):
        state, metrics = step(state, feed(global_batch()))
        losses.append(float(metrics["loss"]))
        grad_norms.append(float(metrics["grad_norm"]))
    stats = jax.jit(lambda p: (sum(jnp.sum(jnp.abs(x)) for x in jax.tree.leaves(p)),
                               sum(x.size for x in jax.tree.leaves(p)),
                               jnp.max(jnp.stack([jnp.max(jnp.abs(x)) for x in jax.tree.leaves(p)]))),
                    out_shardings=jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec()))(state.params)
    checksum, entries, max_param = (float(x) for x in stats)
    return {"losses": losses, "grad_norms": grad_norms, "checksum": checksum, "params": int(entries),
            "max_param": max_param}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--process-id", type=int, required=True)
    parser.add_argument("--num-processes", type=int, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    distributed.initialize(f"127.0.0.1:{args.port}", args.num_processes, args.process_id, local_device_count=2)
    import jax

    from codegym_jax.sharding import logical_sharding, make_mesh

    assert jax.device_count() == 2 * args.num_processes and jax.local_device_count() == 2
    mesh = make_mesh({"data": 2, "fsdp": -1})
    sharding = logical_sharding(mesh, ("batch", "seq"))
    n = 8 // args.num_processes
    p = args.process_id

    def feed(batch):
        return distributed.host_local_batch_to_global({k: v[p * n:(p + 1) * n] for k, v in batch.items()}, sharding)

    out = {**train(mesh, feed), "devices": jax.device_count()}
    (pathlib.Path(args.out) / f"result_{p}.json").write_text(json.dumps(out))
    jax.distributed.shutdown()


if __name__ == "__main__":
    main()
