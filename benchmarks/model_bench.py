"""Forward+backward throughput of our jitted Qwen vs transformers on torch, same config and shapes.

    .venv/bin/python benchmarks/model_bench.py            # tiny model on CPU, prints a table
    .venv/bin/python benchmarks/model_bench.py --mfu      # Qwen2.5-0.5B shape, seq 4096, bf16 (GPU)

Where the CPU step's time goes (TINY, batch 8 x 256, 2-core AMD EPYC; a JAX profiler trace of
the compiled step, op times summed per group, ms a step; the two threads overlap ops, so a
column's sum is near, not equal to, the step). "Before": grouped einsums differentiated by JAX,
log_softmax + take_along_axis, logits in chunks of 128 under remat; "after": the folded-layout
attention and the log-prob/entropy with hand-written backward passes (`models/attention.py`,
`rl/logprobs.py`), gate and up in one matmul, no chunking when the logits fit in 64 MiB.

| op group | before | after |
|---|---:|---:|
| MLP (gate/up/down matmuls, SiLU) | 254 | 209 |
| attention (scores, softmax, values) | 194 | 164 |
| scan residuals (stacking, slicing, zero-fill of per-layer saved values) | 192 | 127 |
| unembedding + log-softmax | 119 | 96 |
| q/k/v/o projections | 48 | 61 |
| norms, RoPE, embedding, rest | 43 | 47 |
| step (median of 7) | 870 | 678 |

The matmuls run at 110-185 GFLOP/s (a 2048^2 matmul: 150-190 here), torch's at 100-180 on the
same shapes; about 48 GFLOP a step, so ~300 ms of the step is matmul at that rate in either
framework. XLA CPU options that change kernel choice, this benchmark once each (torch 482-568 ms
in the same runs): oneDNN on (`--xla_cpu_use_onednn=true`) 672 ms, XNNPACK
(`--xla_cpu_use_xnnpack=true`) 714, YNNPACK fusions off (`--xla_cpu_experimental_ynn_fusion_type=`)
755, the default (YNNPACK dots, reductions and elementwise fusions) 652 and 678 in two runs. No
option beats the default by more than the run-to-run spread, and YNNPACK's reductions are what
make the log-softmax and softmax passes fast (off, a [2040, 4096] log-sum-exp took 3x longer),
so the default stays and the code sets no flag.
"""
from __future__ import annotations

import argparse
import functools
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np

from codegym_jax.models import hf_io, qwen
from codegym_jax.models.config import DecoderConfig
from codegym_jax.rl import logprobs

TINY = DecoderConfig(vocab_size=4096, hidden_size=256, intermediate_size=704, num_layers=4,
                   num_heads=8, num_kv_heads=2, head_dim=32)
QWEN25_05B = DecoderConfig(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_layers=24,
                         num_heads=14, num_kv_heads=2, head_dim=64, tie_word_embeddings=True,
                         param_dtype="bfloat16", compute_dtype="bfloat16", remat=True)

# Peak dense bf16 FLOP/s of known accelerators (for MFU).
PEAK_FLOPS = {"H100": 989e12, "H200": 989e12, "A100": 312e12}


def loss_fn(params, cfg, tokens):
    """Mean next-token cross-entropy, through the learner's own log-prob path."""
    positions = jnp.broadcast_to(jnp.arange(tokens.shape[1]), tokens.shape)
    hidden, _ = qwen.forward_hidden(params, cfg, tokens[:, :-1], positions[:, :-1])
    logp, _ = logprobs.chunked_logprobs(hidden, qwen.unembed_matrix(params, cfg), tokens[:, 1:])
    return -jnp.mean(logp)


def median_step_s(step, iters):
    """Median wall time of `iters` calls after one warm-up call; step() blocks on its result."""
    step()
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def time_ours(cfg, batch, seq, iters):
    params = qwen.init_params(cfg, jax.random.key(0))
    tokens = jnp.asarray(np.random.default_rng(0).integers(0, cfg.vocab_size, (batch, seq)), jnp.int32)
    grad_fn = jax.jit(jax.value_and_grad(functools.partial(loss_fn, cfg=cfg)))
    return median_step_s(lambda: jax.block_until_ready(grad_fn(params, tokens=tokens)), iters), params


def time_torch(cfg, params, batch, seq, iters):
    import torch
    import transformers

    torch.set_num_threads(max(1, torch.get_num_threads()))
    with tempfile.TemporaryDirectory() as d:
        hf_io.save_hf_model(d, cfg, params)
        model = transformers.AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32)
    model.train()
    tokens = torch.tensor(np.random.default_rng(0).integers(0, cfg.vocab_size, (batch, seq)))

    def step():
        model.zero_grad(set_to_none=True)
        out = model(input_ids=tokens, labels=tokens)
        out.loss.backward()

    return median_step_s(step, iters)


def train_flops_per_token(cfg: DecoderConfig, seq: int) -> float:
    """6 x matmul params per token plus causal attention (score + value) forward and backward."""
    d, f, h, kv, hd, n = (cfg.hidden_size, cfg.intermediate_size, cfg.num_heads, cfg.num_kv_heads,
                          cfg.head_dim, cfg.num_layers)
    per_layer = d * h * hd * 2 + d * kv * hd * 2 + 3 * d * f
    matmul_params = n * per_layer + d * cfg.vocab_size
    attention = n * 2 * 2 * h * hd * seq / 2  # QK^T and PV, causal half, fwd
    return 6 * matmul_params + 3 * attention


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--iters", type=int, default=7, help="timed steps (median reported)")
    parser.add_argument("--mfu", action="store_true", help="Qwen2.5-0.5B shape at seq 4096 in bf16")
    args = parser.parse_args()
    if args.mfu:
        cfg, batch, seq = QWEN25_05B, args.batch, 4096
        step_s, _ = time_ours(cfg, batch, seq, args.iters)
        tokens_per_s = batch * seq / step_s
        device = jax.devices()[0].device_kind
        peak = next((v for k, v in PEAK_FLOPS.items() if k in device), None)
        flops = train_flops_per_token(cfg, seq) * tokens_per_s
        print(f"| model | device | batch x seq | step s | tokens/s | TFLOP/s | MFU |")
        print(f"|---|---|---|---:|---:|---:|---:|")
        mfu = f"{flops / peak:.1%}" if peak else "n/a"
        print(f"| Qwen2.5-0.5B shape, bf16, remat | {device} | {batch} x {seq} | {step_s:.3f} | "
              f"{tokens_per_s:,.0f} | {flops / 1e12:.1f} | {mfu} |")
        return
    cfg = TINY
    ours_s, params = time_ours(cfg, args.batch, args.seq, args.iters)
    torch_s = time_torch(cfg, params, args.batch, args.seq, args.iters)
    tokens = args.batch * args.seq
    print(f"forward+backward, {cfg.num_layers} layers, hidden {cfg.hidden_size}, vocab {cfg.vocab_size}, "
          f"batch {args.batch} x seq {args.seq}, fp32, {jax.devices()[0].platform}")
    print("| implementation | step ms | tokens/s | vs transformers |")
    print("|---|---:|---:|---:|")
    print(f"| codegym-jax (jax.jit) | {ours_s * 1e3:.1f} | {tokens / ours_s:,.0f} | {torch_s / ours_s:.2f}x |")
    print(f"| transformers (torch eager) | {torch_s * 1e3:.1f} | {tokens / torch_s:,.0f} | 1.00x |")


if __name__ == "__main__":
    main()
