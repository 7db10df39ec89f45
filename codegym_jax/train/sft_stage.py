"""The SFT stages: "sft" (warm start on oracle transcripts) and "sft_baseline" (the same SFT
continued from the warm start for the RL stage's wall time: the oracle-SFT comparison).

Transcripts: every train task's oracle `solve()` runs in the sandbox and its tool calls become
assistant turns in the configured tool-call format (`oracle_transcripts`). Step s trains on a
batch drawn from a per-epoch seeded shuffle, so a resumed stage sees the same batches.
"""
from __future__ import annotations

import sys
import time

import jax
import numpy as np
from tqdm import tqdm

from codegym_jax.buckets import bucket
from codegym_jax.evaluation import episode_tasks
from codegym_jax.metrics import MetricsWriter
from codegym_jax.rl import batches, learner, objectives
from codegym_jax.rollout.oracle_transcripts import oracle_trajectories
from codegym_jax.run_paths import RunPaths
from codegym_jax.train import components, stage_results
from codegym_jax.train.config import ExperimentConfig


def sft_batch_indices(num_items: int, batch_size: int, step: int, seed: int) -> np.ndarray:
    """Indices of step `step`'s batch: consecutive slices of a fresh seeded shuffle per epoch."""
    if num_items < 1:
        raise ValueError("no SFT transcripts to draw batches from")
    out = []
    for position in range(step * batch_size, (step + 1) * batch_size):
        epoch, offset = divmod(position, num_items)
        out.append(np.random.default_rng([seed, epoch]).permutation(num_items)[offset])
    return np.asarray(out)


def oracle_transcripts(config: ExperimentConfig, paths: RunPaths, tokenizer, pool) -> list:
    tasks = components.read_split(paths, "train")
    cfg = components.episode_config(config)
    transcripts = oracle_trajectories(pool, tokenizer, episode_tasks(tasks), cfg)
    if not transcripts:
        raise ValueError(f"none of the {len(tasks)} train tasks has an oracle transcript within the "
                         f"budgets (max {cfg.max_total_tokens} tokens, {cfg.max_tool_calls} tool calls)")
    lengths = [len(t.tokens) for t in transcripts]
    print(f"sft: {len(transcripts)}/{len(tasks)} oracle transcripts, tokens mean {np.mean(lengths):.0f} "
          f"max {max(lengths)}", file=sys.stderr)
    return transcripts


def sft_budget(config: ExperimentConfig, paths: RunPaths, stage: str) -> tuple[float | None, int | None]:
    """(wall-time budget, step budget): "sft" runs train.sft_steps steps, "sft_baseline" runs
    for the RL stage's training wall time."""
    if stage == "sft_baseline":
        rl_done = stage_results.stage_done(paths, "rl")
        if rl_done is None or stage_results.stage_done(paths, "sft") is None:
            raise ValueError("stage 'sft_baseline' needs finished 'sft' and 'rl' stages (it continues "
                             "SFT for the RL stage's wall time); list them first in train.stages")
        return float(rl_done["train_wall_s"]), None
    if config.train.sft_steps < 1:
        raise ValueError(f"stage 'sft' needs train.sft_steps >= 1, got {config.train.sft_steps}")
    return None, config.train.sft_steps


def start_sft(config: ExperimentConfig, paths: RunPaths, stage: str, arch, mesh, optimizer, ckpt):
    """(state, its shardings, step, elapsed s): the initial params ("sft") or the warm start's
    final state ("sft_baseline"), or the latest checkpoint when resuming."""
    if stage == "sft":
        state, shardings = learner.init_train_state(arch, optimizer, jax.random.key(config.train.seed), mesh,
                                                    params=components.initial_params(config, arch, mesh))
    else:
        state = stage_results.load_final_state(config, paths, "sft", arch, mesh)
        shardings = learner.state_shardings(arch, optimizer, mesh, state)
    step, elapsed = 0, 0.0
    if ckpt.latest_step() is not None:
        state, progress = ckpt.restore(state)
        step, elapsed = int(progress["step"]), float(progress["elapsed_s"])
        print(f"{stage}: resuming at step {step} ({elapsed:.0f} s done)")
    elif stage == "sft_baseline":
        step = int(stage_results.stage_done(paths, "sft")["steps"])  # continue the warm start's count
    return state, shardings, step, elapsed


def run_sft(config: ExperimentConfig, paths: RunPaths, stage: str = "sft") -> dict:
    """Runs (or resumes, or skips when finished) `stage` ("sft" or "sft_baseline")."""
    if stage not in ("sft", "sft_baseline"):
        raise ValueError(f"run_sft runs 'sft' or 'sft_baseline', not {stage!r}")
    done = stage_results.stage_done(paths, stage)
    if done is not None:
        print(f"{stage}: finished earlier ({done['steps']} steps, {done['wall_s']:.0f} s); skipping")
        return done
    budget_s, max_steps = sft_budget(config, paths, stage)
    tokenizer = components.load_tokenizer(config)
    arch = components.decoder_config(config, tokenizer)
    mesh = components.build_mesh(config)
    optimizer = learner.make_optimizer(stage_results.optimizer_config(config, stage))
    t = config.train
    rows = bucket(t.sft_batch_size, int(np.lcm(t.micro_batch_size, components.data_parallel_size(mesh))))
    with components.open_sandbox(config) as pool:
        transcripts = oracle_transcripts(config, paths, tokenizer, pool)
    ckpt = stage_results.make_checkpointer(config, paths, stage)
    state, shardings, step, elapsed = start_sft(config, paths, stage, arch, mesh, optimizer, ckpt)
    step_fn = learner.make_train_step(optimizer, objectives.sft_cross_entropy(arch),
                                      num_micro_batches=rows // t.micro_batch_size)
    train_step = learner.jit_train_step(step_fn, shardings, mesh)
    first_step = step
    with MetricsWriter(paths, tensorboard=config.logging.tensorboard) as writer:
        state, step, elapsed = sft_loop(config, stage, train_step, state, step, elapsed, budget_s, max_steps,
                                        transcripts, rows, writer, ckpt)
    ckpt.close()
    stage_results.export_final(config, paths, stage, arch, state, tokenizer)
    summary = {"steps": step, "steps_this_stage": step - first_step, "wall_s": elapsed,
               "transcripts": len(transcripts)}
    stage_results.mark_done(paths, stage, summary)
    print(f"{stage}: {step} steps, {elapsed:.0f} s")
    return summary


def sft_loop(config, stage, train_step, state, step, elapsed, budget_s, max_steps, transcripts, rows,
             writer, ckpt):
    """Steps until the step or wall-time budget is spent; each step's metrics are pulled after
    the next step is dispatched. Returns (state, step, elapsed s)."""
    t = config.train
    bar = tqdm(total=max_steps if max_steps is not None else round(budget_s),
               initial=step if max_steps is not None else round(elapsed), desc=stage,
               unit="step" if max_steps is not None else "s", disable=not config.logging.progress_bars,
               file=sys.stderr, dynamic_ncols=True)
    length_cap = components.episode_config(config).max_total_tokens
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
        bar.update(1 if max_steps is not None else round(elapsed) - bar.n)
        if step % config.checkpoint.every_steps == 0:
            ckpt.save(step, state, {"step": step, "elapsed_s": elapsed})
    if pending is not None:
        jax.block_until_ready(state)
        log(pending, time.perf_counter())
    bar.close()
    elapsed = time.perf_counter() - start_time
    if ckpt.latest_step() != step:
        ckpt.save(step, state, {"step": step, "elapsed_s": elapsed})
    return state, step, elapsed
