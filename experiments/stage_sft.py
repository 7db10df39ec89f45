"""The SFT stages: "sft" (warm start on oracle transcripts) and "sft_baseline" (the same SFT
continued from the warm start for the RL stage's wall time: the oracle-SFT comparison).

Transcripts: every train task's oracle `solve()` runs in the sandbox and its tool calls become
assistant turns in the configured tool-call format (`oracle_transcripts`). Step s trains on a
batch drawn from a per-epoch seeded shuffle, so a resumed stage sees the same batches.
"""
from __future__ import annotations

import pathlib
import sys
import time

import jax
import numpy as np
from tqdm import tqdm

from codegym_jax.evaluation import episode_tasks
from codegym_jax.metrics import MetricsWriter
from codegym_jax.rl import batches, learner
from codegym_jax.rollout.oracle_transcripts import oracle_trajectories
from experiments import policies, runtime
from experiments.config import ExperimentConfig


def sft_batch_indices(num_items: int, batch_size: int, step: int, seed: int) -> np.ndarray:
    """Indices of step `step`'s batch: consecutive slices of a fresh seeded shuffle per epoch."""
    if num_items < 1:
        raise ValueError("no SFT transcripts to draw batches from")
    out = []
    for position in range(step * batch_size, (step + 1) * batch_size):
        epoch, offset = divmod(position, num_items)
        out.append(np.random.default_rng([seed, epoch]).permutation(num_items)[offset])
    return np.asarray(out)


def oracle_transcripts(config: ExperimentConfig, out_dir: pathlib.Path, tokenizer, pool) -> list:
    tasks = runtime.read_split(config, out_dir, "train")
    cfg = runtime.episode_config(config)
    transcripts = oracle_trajectories(pool, tokenizer, episode_tasks(tasks), cfg)
    if not transcripts:
        raise ValueError(f"none of the {len(tasks)} train tasks has an oracle transcript within the "
                         f"budgets (max {cfg.max_total_tokens} tokens, {cfg.max_tool_calls} tool calls)")
    lengths = [len(t.tokens) for t in transcripts]
    print(f"sft: {len(transcripts)}/{len(tasks)} oracle transcripts, tokens mean {np.mean(lengths):.0f} "
          f"max {max(lengths)}", file=sys.stderr)
    return transcripts


def run_sft(config: ExperimentConfig, out_dir: pathlib.Path, stage: str = "sft") -> dict:
    """Runs (or resumes, or skips when finished) `stage` ("sft" or "sft_baseline")."""
    if stage not in ("sft", "sft_baseline"):
        raise ValueError(f"run_sft runs 'sft' or 'sft_baseline', not {stage!r}")
    done = policies.stage_done(out_dir, stage)
    if done is not None:
        print(f"{stage}: finished earlier ({done['steps']} steps, {done['wall_s']:.0f} s); skipping")
        return done
    if stage == "sft_baseline":
        rl_done = policies.stage_done(out_dir, "rl")
        if rl_done is None or policies.stage_done(out_dir, "sft") is None:
            raise ValueError("stage 'sft_baseline' needs finished 'sft' and 'rl' stages (it continues "
                             "SFT for the RL stage's wall time); list them first in train.stages")
        budget_s, max_steps = float(rl_done["train_wall_s"]), None
    else:
        budget_s, max_steps = None, config.train.sft_steps
        if max_steps < 1:
            raise ValueError(f"stage 'sft' needs train.sft_steps >= 1, got {max_steps}")

    tokenizer = runtime.load_tokenizer(config)
    arch = runtime.arch_config(config, tokenizer)
    mesh = runtime.build_mesh(config)
    optimizer = learner.make_optimizer(policies.optimizer_config(config, stage))
    t = config.train
    row_multiple = np.lcm(t.micro_batch_size, runtime.data_parallel_size(mesh))
    rows = batches.bucket(t.sft_batch_size, int(row_multiple))
    step_fn = learner.make_train_step(arch, optimizer, num_micro_batches=rows // t.micro_batch_size,
                                      objective="sft")
    with runtime.open_sandbox(config) as pool:
        transcripts = oracle_transcripts(config, out_dir, tokenizer, pool)
    if stage == "sft":
        state, shardings = learner.init_train_state(arch, optimizer, jax.random.key(t.seed), mesh,
                                                    params=runtime.initial_params(config, arch, mesh))
    else:
        start = policies.load_final_state(config, out_dir, "sft", arch, mesh)
        shardings = learner.state_shardings(arch, optimizer, mesh, start)
        state = start
    train_step = learner.jit_train_step(step_fn, shardings, mesh)

    ckpt = policies.make_checkpointer(config, out_dir, stage)
    step, elapsed = 0, 0.0
    if ckpt.latest_step() is not None:
        state, progress = ckpt.restore(state)
        step, elapsed = int(progress["step"]), float(progress["elapsed_s"])
        print(f"{stage}: resuming at step {step} ({elapsed:.0f} s done)")
    elif stage == "sft_baseline":
        step = int(policies.stage_done(out_dir, "sft")["steps"])  # continue the warm start's count
    first_step = step
    writer = MetricsWriter(out_dir, tensorboard=config.logging.tensorboard)
    total = max_steps if max_steps is not None else None
    bar = tqdm(total=total if total is not None else round(budget_s), initial=step if total else round(elapsed),
               desc=stage, unit="step" if total else "s", disable=not config.logging.progress_bars,
               file=sys.stderr, dynamic_ncols=True)
    length_cap = runtime.episode_config(config).max_total_tokens
    pending = None  # (step, metrics on device, tokens, start time) of the step not yet logged

    def log(pending, now):
        s, metrics, n_tokens, started = pending
        row = writer.write(s, {**metrics, "step_s": now - started, "elapsed_s": elapsed,
                               "tokens_per_s": n_tokens / max(now - started, 1e-9)}, phase=stage)
        bar.set_postfix(loss=f"{row[f'{stage}/loss']:.3f}")

    start_time = time.perf_counter() - elapsed
    while (step < max_steps) if max_steps is not None else (elapsed < budget_s):
        index = sft_batch_indices(len(transcripts), t.sft_batch_size, step, t.seed)
        batch = batches.trajectory_batch([transcripts[i] for i in index], rows, 256, length_cap)
        started = time.perf_counter()
        state, metrics = train_step(state, batch)  # dispatched; the last step's metrics are pulled next
        if pending is not None:
            log(pending, started)
        pending = (step + 1, metrics, int(batch["loss_mask_BxL"].sum()), started)
        step += 1
        elapsed = time.perf_counter() - start_time
        bar.update(1 if total else round(elapsed) - bar.n)
        if step % config.checkpoint.every_steps == 0:
            ckpt.save(step, state, {"step": step, "elapsed_s": elapsed})
    if pending is not None:
        jax.block_until_ready(state)
        log(pending, time.perf_counter())
    bar.close()
    elapsed = time.perf_counter() - start_time
    if ckpt.latest_step() != step:
        ckpt.save(step, state, {"step": step, "elapsed_s": elapsed})
    ckpt.close()
    writer.close()
    policies.export_final(config, out_dir, stage, arch, state, tokenizer)
    summary = {"steps": step, "steps_this_stage": step - first_step, "wall_s": elapsed,
               "transcripts": len(transcripts)}
    policies.mark_done(out_dir, stage, summary)
    print(f"{stage}: {step} steps, {elapsed:.0f} s")
    return summary
