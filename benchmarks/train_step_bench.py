"""GRPO train-step time for a tiny model: our jitted learner step vs the same loss in
torch + transformers (forward, clipped-ratio token-mean loss, backward, AdamW), one run, the
median of --iters steps after a warm-up step.

    .venv/bin/python benchmarks/train_step_bench.py
"""
from __future__ import annotations

import argparse
import tempfile

import jax
import numpy as np

from codegym_jax import sharding
from codegym_jax.models import hf_io, qwen
from codegym_jax.models.config import DecoderConfig
from codegym_jax.rl import learner
from codegym_jax.rl.losses import LossConfig
from codegym_jax.rl.objectives import policy_gradient_loss
from model_bench import median_step_s  # this script's folder is on sys.path

CFG = DecoderConfig(vocab_size=4096, hidden_size=256, intermediate_size=704, num_layers=4,
                  num_heads=8, num_kv_heads=2, head_dim=32)


def make_batch(batch, seq, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "tokens_BxL": rng.integers(0, CFG.vocab_size, (batch, seq)).astype(np.int32),
        "positions_BxL": np.tile(np.arange(seq, dtype=np.int32), (batch, 1)),
        "segment_ids_BxL": np.ones((batch, seq), np.int32),
        "loss_mask_BxL": (np.arange(seq)[None] >= seq // 4).repeat(batch, 0).astype(np.int32),
        "advantages_BxL": np.repeat(rng.normal(size=(batch, 1)), seq, 1).astype(np.float32),
        "sampler_logprobs_BxL": np.full((batch, seq), -8.0, np.float32),
        "old_logprobs_BxL": np.full((batch, seq), -8.0, np.float32),
    }


def time_ours(batch, iters):
    mesh = sharding.make_mesh({"fsdp": 1}, jax.devices()[:1])
    opt = learner.make_optimizer(learner.OptimizerConfig(learning_rate=1e-5, warmup_steps=0))
    state, shardings = learner.init_train_state(CFG, opt, jax.random.key(0), mesh)
    train_step = learner.make_train_step(opt, policy_gradient_loss(CFG, LossConfig()))
    step = learner.jit_train_step(train_step, shardings, mesh)
    holder = {"state": state}

    def one_step():
        holder["state"], metrics = step(holder["state"], batch)
        jax.block_until_ready(metrics)

    with jax.set_mesh(mesh):
        seconds = median_step_s(one_step, iters)
    return seconds, holder["state"].params


def time_torch(params, batch, iters):
    import torch
    import transformers

    with tempfile.TemporaryDirectory() as d:
        hf_io.save_hf_model(d, CFG, params)
        model = transformers.AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, betas=(0.9, 0.95), weight_decay=0.1)
    t = {k: torch.tensor(v) for k, v in batch.items()}

    def step():
        opt.zero_grad(set_to_none=True)
        logits = model(input_ids=t["tokens_BxL"][:, :-1].long()).logits.float()
        logp = torch.log_softmax(logits, -1).gather(-1, t["tokens_BxL"][:, 1:, None].long())[..., 0]
        mask = t["loss_mask_BxL"][:, 1:].float()
        ratio = torch.exp(logp - t["old_logprobs_BxL"][:, 1:])
        adv = t["advantages_BxL"][:, 1:]
        per = torch.maximum(-adv * ratio, -adv * torch.clamp(ratio, 0.8, 1.2))
        loss = (per * mask).sum() / mask.sum()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    return median_step_s(step, iters)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--iters", type=int, default=7, help="timed steps (median reported)")
    args = parser.parse_args()
    batch = make_batch(args.batch, args.seq)
    ours, params = time_ours(batch, args.iters)
    theirs = time_torch(jax.device_get(params), batch, args.iters)
    print(f"GRPO train step, {CFG.num_layers} layers, hidden {CFG.hidden_size}, vocab {CFG.vocab_size}, "
          f"batch {args.batch} x seq {args.seq}, fp32, {jax.devices()[0].platform}")
    print("| implementation | step ms | vs torch |")
    print("|---|---:|---:|")
    print(f"| codegym-jax learner (jit, donated state) | {ours * 1e3:.1f} | {theirs / ours:.2f}x |")
    print(f"| torch + transformers, same loss | {theirs * 1e3:.1f} | 1.00x |")


if __name__ == "__main__":
    main()
