"""The RL stage: GRPO-family training against the environments, from the SFT warm start.

Per step: draw `train.tasks_per_step` train tasks (a pure function of seed and step), roll out
`rollout.group_size` episodes each through the agent loop, turn rewards into group advantages,
drop groups without signal (dynamic sampling), recompute old log-probs, split the episodes into
mini-batches of `train.mini_batch_size` (one optimizer update each), then hand the new params to
the engine. With `train.one_step_off_policy` the next step's rollouts are sampled while this
step trains, all of them with the params before this step's updates: the engine takes the new
params only once that rollout is in (or before an eval), so every step but the first trains on
episodes exactly one update old (logged as `rl/policy_lag`); the recomputed old log-probs and
`algorithm.loss.tis_cap` correct for the stale sampler. With `algorithm.loss.kl_coef` > 0 the
loss adds a KL penalty towards the starting (SFT) policy, whose log-probs come from a kept copy
of its params, per mini-batch.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import pathlib
import sys
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

from codegym_jax.evaluation import episode_tasks, eval_subset
from codegym_jax.metrics import MetricsWriter
from codegym_jax.rl import advantages, batches, learner
from codegym_jax.rollout.agent_loop import run_groups
from codegym_jax.samples import write_samples
from experiments import policies, runtime
from experiments.config import ExperimentConfig
from experiments.stage_eval import evaluate_tasks
from sandbox.pool import AsyncSandbox

# Flat eval metrics logged during training (the per-env tables go to the eval stage's files).
EVAL_KEYS = ("success", "tool_calls_mean", "tokens_mean", "termination_done", "termination_parse_error",
             "termination_max_turns", "termination_context")


def step_seed(seed: int, step: int) -> int:
    return int(np.random.default_rng([seed, step, 7]).integers(0, 2**31 - 1))


def group_episodes(trajectories: list, group_size: int, mode: str, dynamic_sampling: bool):
    """(kept [(trajectory, advantage)], rewards [N, G], informative mask [N])."""
    rewards_NxG = np.array([t.reward for t in trajectories], np.float32).reshape(-1, group_size)
    adv_NxG = np.asarray(advantages.group_advantages(jnp.asarray(rewards_NxG), mode))
    informative = np.asarray(advantages.informative_groups(jnp.asarray(rewards_NxG)))
    kept = []
    for i in range(rewards_NxG.shape[0]):
        if dynamic_sampling and not informative[i]:
            continue
        for g in range(group_size):
            kept.append((trajectories[i * group_size + g], float(adv_NxG[i, g])))
    return kept, rewards_NxG, informative


def periodic_eval(config, engine, pool, tokenizer, eval_sets, writer, step) -> dict[str, float]:
    row = {}
    for split, tasks in eval_sets.items():
        summary, _ = evaluate_tasks(config, engine, pool, tokenizer, tasks)
        values = {k: summary[k] for k in EVAL_KEYS}
        values.update({k: v for k, v in summary.items() if k.startswith("pass@")})
        row.update(writer.write(step, values, phase=f"eval_{split}"))
    return row


def copied(params):
    """Params in new buffers (same shardings), safe to hold across a step that donates the state."""
    return jax.tree.map(jnp.copy, params)


def run_rl(config: ExperimentConfig, out_dir: pathlib.Path) -> dict:
    done = policies.stage_done(out_dir, "rl")
    if done is not None:
        print(f"rl: finished earlier ({done['steps']} steps, {done['train_wall_s']:.0f} s); skipping")
        return done
    t, r = config.train, config.rollout
    if r.temperature <= 0:
        raise ValueError(f"rollout.temperature must be > 0 for RL (greedy rollouts have no sampling "
                         f"distribution to take log-probs of), got {r.temperature}")
    tokenizer = runtime.load_tokenizer(config)
    arch = runtime.arch_config(config, tokenizer)
    mesh = runtime.build_mesh(config)
    optimizer = learner.make_optimizer(config.optimizer)
    if policies.stage_done(out_dir, "sft") is not None:
        start_params = policies.load_final_state(config, out_dir, "sft", arch, mesh).params
        print("rl: starting from the SFT stage's params")
    else:
        start_params = runtime.initial_params(config, arch, mesh)
    state, shardings = learner.init_train_state(arch, optimizer, jax.random.key(t.seed + 1), mesh,
                                                params=start_params)
    del start_params
    # The KL penalty's reference policy: the starting params (also on resume), in buffers of
    # their own because the train step donates the state's.
    ref_params = copied(state.params) if config.algorithm.loss.kl_coef else None
    ckpt = policies.make_checkpointer(config, out_dir, "rl")
    step, train_wall = 0, 0.0
    if ckpt.latest_step() is not None:
        state, progress = ckpt.restore(state)
        step, train_wall = int(progress["step"]), float(progress["train_wall_s"])
        print(f"rl: resuming at step {step}")

    train_tasks = runtime.read_split(config, out_dir, "train")
    eval_sets = {s: eval_subset(runtime.read_split(config, out_dir, s), config.eval.num_tasks, t.seed)
                 for s in config.eval.splits}
    ecfg = runtime.episode_config(config)
    row_multiple = int(np.lcm(t.micro_batch_size, runtime.data_parallel_size(mesh)))
    step_fns: dict[int, Any] = {}

    def train_step_for(rows: int):
        micro = rows // t.micro_batch_size
        if micro not in step_fns:
            fn = learner.make_train_step(arch, optimizer, config.algorithm.loss, micro, objective="rl",
                                         temperature=r.temperature)
            step_fns[micro] = learner.jit_train_step(fn, shardings, mesh)
        return step_fns[micro]

    logprob_fn = learner.make_logprob_fn(arch, mesh, shardings.params, temperature=r.temperature)
    # A sampler running during the update must not hold params the update donates.
    copy_for_engine = t.one_step_off_policy and r.engine == "jax"

    def engine_params(params):
        return copied(params) if copy_for_engine else params

    # Off-policy: params the engine takes once the rollout sampling with its current ones is in.
    pending_sync: tuple[Any, int] | None = None

    writer = MetricsWriter(out_dir, tensorboard=config.logging.tensorboard)
    bar = tqdm(total=t.rl_steps, initial=step, desc="rl", unit="step", file=sys.stderr,
               disable=not config.logging.progress_bars, dynamic_ncols=True)
    episodes_bar = tqdm(desc="rl rollouts", unit="episode", file=sys.stderr, leave=False,
                        disable=not config.logging.progress_bars, dynamic_ncols=True)

    with runtime.open_sandbox(config) as pool, \
            runtime.open_engine(config, arch, engine_params(state.params), out_dir) as engine, \
            concurrent.futures.ThreadPoolExecutor(1) as executor:

        def rollout(k: int, version: int):
            index = runtime.seeded_choice(len(train_tasks), t.tasks_per_step, t.seed, k)
            tasks = [train_tasks[i] for i in index]
            episodes_bar.reset(total=len(tasks) * r.group_size)
            started = time.perf_counter()
            trajectories, metrics = asyncio.run(run_groups(
                engine, AsyncSandbox(pool), tokenizer, episode_tasks(tasks), r.group_size,
                runtime.rollout_sampling(config, seed=step_seed(t.seed, k)), ecfg, version,
                max_concurrent=r.sampler_slots, on_episode=lambda _: episodes_bar.update(1)))
            return trajectories, metrics, time.perf_counter() - started

        def sync_engine():
            nonlocal pending_sync
            if pending_sync is not None:
                engine.update_weights(*pending_sync)
                pending_sync = None

        future = executor.submit(rollout, step, step) if step < t.rl_steps else None
        while step < t.rl_steps:
            step_start = time.perf_counter()
            trajectories, roll_metrics, rollout_s = future.result()
            waited_s = time.perf_counter() - step_start
            sync_engine()
            if t.one_step_off_policy and step + 1 < t.rl_steps:
                future = executor.submit(rollout, step + 1, step)
            kept, rewards_NxG, informative = group_episodes(
                trajectories, r.group_size, config.algorithm.advantage, config.algorithm.dynamic_sampling)
            update_start = time.perf_counter()
            update_metrics = []
            if kept:
                order = np.random.default_rng([t.seed, step, 3]).permutation(len(kept))
                kept = [kept[i] for i in order]
                mini = []
                for chunk in batches.split_into_mini_batches(kept, t.mini_batch_size):
                    b = batches.rl_batch([k[0] for k in chunk], [k[1] for k in chunk], row_multiple, 256,
                                         ecfg.max_total_tokens)
                    if config.algorithm.old_logprobs == "recompute":
                        b["old_logprobs_BxL"] = logprob_fn(state.params, b)
                    if ref_params is not None:
                        b["ref_logprobs_BxL"] = logprob_fn(ref_params, b)
                    mini.append(b)
                for b in mini:
                    state, m = train_step_for(b["tokens_BxL"].shape[0])(state, b)
                    update_metrics.append(m)
                if t.one_step_off_policy:
                    pending_sync = (engine_params(state.params), step + 1)
                else:
                    engine.update_weights(state.params, step + 1)
            policy_lag = step - float(np.mean([traj.policy_version for traj in trajectories]))
            step += 1
            eval_due = config.eval.every_steps and (step % config.eval.every_steps == 0 or step == t.rl_steps)
            # On-policy, an eval step dispatches the next rollout after the eval, so the two do not
            # share the engine and the eval's time stays out of the training wall time.
            if not t.one_step_off_policy and step < t.rl_steps and not eval_due:
                future = executor.submit(rollout, step, step)
            # Pulled after the next rollout is dispatched.
            update_metrics = jax.device_get(update_metrics)
            step_s = time.perf_counter() - step_start
            train_wall += step_s
            row = dict(roll_metrics)
            row.update({
                "reward_mean": float(rewards_NxG.mean()),
                "policy_lag": policy_lag,
                "groups_informative_frac": float(informative.mean()),
                "episodes_trained": len(kept),
                "updates": len(update_metrics),
                "time/step_s": step_s, "time/rollout_s": rollout_s, "time/rollout_wait_s": waited_s,
                "time/update_s": time.perf_counter() - update_start, "time/train_wall_s": train_wall,
            })
            if update_metrics:
                for key in update_metrics[0]:
                    row[f"update/{key}"] = float(np.mean([m[key] for m in update_metrics]))
            logged = writer.write(step, row, phase="rl")
            if config.logging.samples_per_step and step % config.logging.log_every_steps == 0:
                write_samples(out_dir, "rl", step, trajectories, config.logging.samples_per_step)
            if step % config.checkpoint.every_steps == 0 or step == t.rl_steps:
                ckpt.save(step, state, {"step": step, "train_wall_s": train_wall})
            bar.update(1)
            bar.set_postfix(reward=f"{logged['rl/reward_mean']:.2f}", kept=len(kept))
            if eval_due:
                if pending_sync is not None:  # evaluate this step's params, not the sampler's
                    concurrent.futures.wait([future])
                    sync_engine()
                periodic_eval(config, engine, pool, tokenizer, eval_sets, writer, step)
                if not t.one_step_off_policy and step < t.rl_steps:
                    future = executor.submit(rollout, step, step)
        bar.close()
        episodes_bar.close()
    ckpt.close()
    writer.close()
    policies.export_final(config, out_dir, "rl", arch, state, tokenizer)
    summary = {"steps": step, "train_wall_s": train_wall}
    policies.mark_done(out_dir, "rl", summary)
    print(f"rl: {step} steps, {train_wall:.0f} s of training")
    return summary
