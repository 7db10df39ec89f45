"""The RL stage: GRPO-family training against the environments, from the SFT warm start.

Per step: draw `train.tasks_per_step` train tasks (a pure function of seed and step), roll out
`rollout.group_size` episodes each through the agent loop, then `codegym_jax.rl.step.rl_step`
(advantages, dynamic sampling, mini-batches with old log-probs, one update each), then the
engine takes the new params by the rule of `weight_sync.EngineWeights` (at once, or one step
off-policy once the next rollout is in; logged as `rl/policy_lag`). With
`algorithm.loss.kl_coef` > 0 the loss adds a KL penalty towards the starting (SFT) policy,
whose log-probs come from a kept copy of its params.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import sys
import time
from typing import Any, Callable

import jax
import numpy as np
from tqdm import tqdm

from codegym_jax.evaluation import episode_tasks, eval_subset
from codegym_jax.metrics import MetricsWriter
from codegym_jax.rl import learner, objectives
from codegym_jax.rl.step import RLStepSettings, rl_step, train_steps_by_rows, update_summary
from codegym_jax.rollout.agent_loop import run_groups
from codegym_jax.run_paths import RunPaths
from codegym_jax.samples import write_samples
from codegym_jax.train import components, stage_results
from codegym_jax.train.config import ExperimentConfig
from codegym_jax.train.eval_stage import evaluate_tasks
from codegym_jax.train.weight_sync import EngineWeights, copied
from sandbox.async_sandbox import AsyncSandbox

# Flat eval metrics logged during training (the per-env tables go to the eval stage's files).
EVAL_KEYS = ("success", "tool_calls_mean", "tokens_mean", "termination_done", "termination_parse_error",
             "termination_max_turns", "termination_context")


def step_seed(seed: int, step: int) -> int:
    return int(np.random.default_rng([seed, step, 7]).integers(0, 2**31 - 1))


def rl_step_settings(config: ExperimentConfig, mesh: jax.sharding.Mesh) -> RLStepSettings:
    t, a = config.train, config.algorithm
    return RLStepSettings(
        group_size=config.rollout.group_size, mini_batch_size=t.mini_batch_size, advantage=a.advantage,
        dynamic_sampling=a.dynamic_sampling, recompute_old_logprobs=a.old_logprobs == "recompute",
        row_multiple=int(np.lcm(t.micro_batch_size, components.data_parallel_size(mesh))),
        max_length=components.episode_config(config).max_total_tokens)


def periodic_eval(config, engine, pool, tokenizer, eval_sets, writer, step) -> dict[str, float]:
    row = {}
    for split, tasks in eval_sets.items():
        summary, _ = evaluate_tasks(config, engine, pool, tokenizer, tasks)
        values = {k: summary[k] for k in EVAL_KEYS}
        values.update({k: v for k, v in summary.items() if k.startswith("pass@")})
        row.update(writer.write(step, values, phase=f"eval_{split}"))
    return row


@dataclasses.dataclass
class RLRun:
    """What the RL loop works with: the learner's state and functions, the data, the log."""

    config: ExperimentConfig
    paths: RunPaths
    tokenizer: Any
    state: learner.TrainState
    ref_params: Any
    step: int
    train_wall: float
    train_step: Callable
    logprob_fn: Callable
    settings: RLStepSettings
    train_tasks: list
    eval_sets: dict
    writer: MetricsWriter


def start_rl(config: ExperimentConfig, paths: RunPaths, tokenizer, arch, mesh, ckpt) -> RLRun:
    """The state to train from (the SFT stage's params, or the initial ones; a checkpoint when
    resuming) and everything the loop needs."""
    t, r = config.train, config.rollout
    optimizer = learner.make_optimizer(config.optimizer)
    if stage_results.stage_done(paths, "sft") is not None:
        start_params = stage_results.load_final_state(config, paths, "sft", arch, mesh).params
        print("rl: starting from the SFT stage's params")
    else:
        start_params = components.initial_params(config, arch, mesh)
    state, shardings = learner.init_train_state(arch, optimizer, jax.random.key(t.seed + 1), mesh,
                                                params=start_params)
    del start_params
    # The KL penalty's reference policy: the starting params (also on resume), in buffers of
    # their own because the train step donates the state's.
    ref_params = copied(state.params) if config.algorithm.loss.kl_coef else None
    step, train_wall = 0, 0.0
    if ckpt.latest_step() is not None:
        state, progress = ckpt.restore(state)
        step, train_wall = int(progress["step"]), float(progress["train_wall_s"])
        print(f"rl: resuming at step {step}")
    loss_fn = objectives.policy_gradient_loss(arch, config.algorithm.loss, temperature=r.temperature)
    return RLRun(
        config=config, paths=paths, tokenizer=tokenizer, state=state, ref_params=ref_params, step=step,
        train_wall=train_wall,
        train_step=train_steps_by_rows(optimizer, loss_fn, shardings, mesh, t.micro_batch_size),
        logprob_fn=learner.make_logprob_fn(arch, mesh, shardings.params, temperature=r.temperature),
        settings=rl_step_settings(config, mesh),
        train_tasks=components.read_split(paths, "train"),
        eval_sets={s: eval_subset(components.read_split(paths, s), config.eval.num_tasks, t.seed)
                   for s in config.eval.splits},
        writer=MetricsWriter(paths, tensorboard=config.logging.tensorboard))


def run_rl(config: ExperimentConfig, paths: RunPaths) -> dict:
    done = stage_results.stage_done(paths, "rl")
    if done is not None:
        print(f"rl: finished earlier ({done['steps']} steps, {done['train_wall_s']:.0f} s); skipping")
        return done
    if config.rollout.temperature <= 0:
        raise ValueError(f"rollout.temperature must be > 0 for RL (greedy rollouts have no sampling "
                         f"distribution to take log-probs of), got {config.rollout.temperature}")
    tokenizer = components.load_tokenizer(config)
    arch = components.decoder_config(config, tokenizer)
    mesh = components.build_mesh(config)
    ckpt = stage_results.make_checkpointer(config, paths, "rl")
    run = start_rl(config, paths, tokenizer, arch, mesh, ckpt)
    # A sampler running during the update must not hold params the update donates.
    copy_params = config.train.one_step_off_policy and config.rollout.engine == "jax"
    first_params = copied(run.state.params) if copy_params else run.state.params
    with components.open_sandbox(config) as pool, \
            components.open_engine(config, arch, first_params, paths) as engine:
        weights = EngineWeights(engine, config.train.one_step_off_policy, copy_params, version=run.step)
        rl_loop(run, pool, engine, weights, ckpt)
    ckpt.close()
    run.writer.close()
    stage_results.export_final(config, paths, "rl", arch, run.state, tokenizer)
    summary = {"steps": run.step, "train_wall_s": run.train_wall}
    stage_results.mark_done(paths, "rl", summary)
    print(f"rl: {run.step} steps, {run.train_wall:.0f} s of training")
    return summary


def rl_loop(run: RLRun, pool, engine, weights: EngineWeights, ckpt) -> None:
    """Rollouts on a worker thread, updates here; `weights` decides when the engine takes new
    params, so the next rollout starts before the update (off-policy) or after it."""
    config, t, r = run.config, run.config.train, run.config.rollout
    bars = config.logging.progress_bars
    bar = tqdm(total=t.rl_steps, initial=run.step, desc="rl", unit="step", file=sys.stderr, disable=not bars,
               dynamic_ncols=True)
    episodes_bar = tqdm(desc="rl rollouts", unit="episode", file=sys.stderr, leave=False, disable=not bars,
                        dynamic_ncols=True)

    episode_cfg = components.episode_config(config)

    def rollout(k: int, version: int):
        index = components.seeded_choice(len(run.train_tasks), t.tasks_per_step, t.seed, k)
        tasks = [run.train_tasks[i] for i in index]
        episodes_bar.reset(total=len(tasks) * r.group_size)
        started = time.perf_counter()
        trajectories, metrics = asyncio.run(run_groups(
            engine, AsyncSandbox(pool), run.tokenizer, episode_tasks(tasks), r.group_size,
            components.rollout_sampling(config, seed=step_seed(t.seed, k)), episode_cfg,
            version, max_concurrent=r.sampler_slots, on_episode=lambda _: episodes_bar.update(1)))
        return trajectories, metrics, time.perf_counter() - started

    with concurrent.futures.ThreadPoolExecutor(1) as executor:
        future = executor.submit(rollout, run.step, run.step) if run.step < t.rl_steps else None
        while run.step < t.rl_steps:
            step_start = time.perf_counter()
            trajectories, roll_metrics, rollout_s = future.result()
            waited_s = time.perf_counter() - step_start
            weights.rollout_finished()
            step = run.step
            if weights.rollout_during_update() and step + 1 < t.rl_steps:
                future = executor.submit(rollout, step + 1, step)
            update_start = time.perf_counter()
            run.state, outcome = rl_step(run.state, trajectories, run.settings, run.train_step, run.logprob_fn,
                                         np.random.default_rng([t.seed, step, 3]), run.ref_params)
            if outcome.update_metrics:
                weights.updated(run.state.params, step + 1)
            run.step = step + 1
            eval_due = config.eval.every_steps and (run.step % config.eval.every_steps == 0
                                                    or run.step == t.rl_steps)
            # On-policy, an eval step dispatches the next rollout after the eval, so the two do not
            # share the engine and the eval's time stays out of the training wall time.
            if not weights.rollout_during_update() and run.step < t.rl_steps and not eval_due:
                future = executor.submit(rollout, run.step, run.step)
            row = {**roll_metrics, **update_summary(outcome)}  # pulled after the next rollout is dispatched
            step_s = time.perf_counter() - step_start
            run.train_wall += step_s
            row.update({"policy_lag": step - float(np.mean([traj.policy_version for traj in trajectories])),
                        "time/step_s": step_s, "time/rollout_s": rollout_s, "time/rollout_wait_s": waited_s,
                        "time/update_s": time.perf_counter() - update_start, "time/train_wall_s": run.train_wall})
            log_step(run, ckpt, row, trajectories)
            bar.update(1)
            bar.set_postfix(reward=f"{row['reward_mean']:.2f}", kept=outcome.episodes_trained)
            if eval_due:
                weights.before_eval(lambda: concurrent.futures.wait([future]))  # this step's params
                periodic_eval(config, engine, pool, run.tokenizer, run.eval_sets, run.writer, run.step)
                if not weights.rollout_during_update() and run.step < t.rl_steps:
                    future = executor.submit(rollout, run.step, run.step)
    bar.close()
    episodes_bar.close()


def log_step(run: RLRun, ckpt, row: dict, trajectories: list) -> None:
    """The step's metrics row, its sampled episodes and, when due, a checkpoint."""
    config, step = run.config, run.step
    run.writer.write(step, row, phase="rl")
    if config.logging.samples_per_step and step % config.logging.log_every_steps == 0:
        write_samples(run.paths, "rl", step, trajectories, config.logging.samples_per_step)
    if step % config.checkpoint.every_steps == 0 or step == config.train.rl_steps:
        ckpt.save(step, run.state, {"step": step, "train_wall_s": run.train_wall})
