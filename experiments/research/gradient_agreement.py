"""How much of an RL update is signal: cosines between policy gradients of disjoint rollout halves.

Rolls out G episodes for each of N tasks with a checkpoint's policy, keeps the informative groups
(rewards not all equal), and for k = 1, 2, 4, ... groups per half draws two disjoint halves of k
groups, takes the gradient of the run's RL loss on each (at the rollout policy, so every ratio is
1) and prints their cosine. Each group's gradient is a shared direction s plus its own noise n_i;
then cos(k) ~= k r / (1 + k r) with r = |s|^2 / E|n_i|^2, so the cosine at the largest k gives
how many informative groups an update needs before signal and noise weigh the same (cos 0.5):
k_half = k (1 - cos) / cos.

    python experiments/research/gradient_agreement.py runs/tiny_cpu_scan --stage sft --step 200 --num-tasks 64
"""
from __future__ import annotations

import argparse
import pathlib
import sys
from typing import Callable, Sequence

import numpy as np

if __package__ in (None, ""):
    # Run as a script: make the repository root importable without an install.
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))


def half_sizes(num_groups: int) -> list[int]:
    """1, 2, 4, ... groups per half while two disjoint halves fit in num_groups."""
    sizes, k = [], 1
    while 2 * k <= num_groups:
        sizes.append(k)
        k *= 2
    return sizes


def gradient_cosines(grad_of: Callable[[Sequence[int]], np.ndarray], groups: Sequence[int], half: int,
                     repeats: int, rng: np.random.Generator) -> list[float]:
    """Cosines between grad_of(A) and grad_of(B) for `repeats` random disjoint halves of `half` groups."""
    if 2 * half > len(groups):
        raise ValueError(f"two halves of {half} groups need {2 * half} groups, got {len(groups)}")
    out = []
    for _ in range(repeats):
        perm = rng.permutation(np.asarray(groups))
        a, b = grad_of(perm[:half]), grad_of(perm[half:2 * half])
        denom = np.linalg.norm(a) * np.linalg.norm(b)
        if denom == 0:
            raise ValueError(f"a zero gradient for groups {perm[:2 * half].tolist()}: nothing to compare")
        out.append(float(np.dot(a, b) / denom))
    return out


def groups_for_even_signal(half: int, cosine: float) -> float:
    """Groups per update at which signal and noise weigh the same, from cos(half) (inf if cos <= 0)."""
    if cosine <= 0:
        return float("inf")
    if cosine >= 1:
        return 0.0
    return half * (1.0 - cosine) / cosine


def policy_gradient(params, arch, batch, loss_cfg, temperature: float):
    """Gradient of the RL stage's loss (objectives.policy_gradient_loss) at the policy that sampled
    `batch`: its old and reference log-probs are that policy's own, so every ratio is 1 and the KL
    term, as at the start of the RL stage, contributes nothing."""
    import jax
    import jax.numpy as jnp

    from codegym_jax.rl.logprobs import target_view, token_logprobs
    from codegym_jax.rl.objectives import policy_gradient_loss

    logp_BxT, _ = token_logprobs(params, arch, batch, temperature=temperature)
    own_BxL = jax.lax.stop_gradient(jnp.pad(logp_BxT, ((0, 0), (1, 0))))  # aligned with the tokens
    batch = {**batch, "old_logprobs_BxL": own_BxL, "ref_logprobs_BxL": own_BxL}
    loss_fn = policy_gradient_loss(arch, loss_cfg, temperature=temperature)
    return jax.grad(lambda p: loss_fn(p, batch, target_view(batch)[1])[0])(params)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run_dir", help="a run directory (holds config.json, tasks/ and checkpoints/)")
    p.add_argument("--stage", default="sft", choices=("sft", "rl", "sft_baseline"))
    p.add_argument("--step", type=int, default=None, help="checkpoint step (default: the last kept)")
    p.add_argument("--split", default="train", choices=("train", "val_seen", "val"))
    p.add_argument("--num-tasks", type=int, default=64)
    p.add_argument("--repeats", type=int, default=6, help="random pairs of halves per size")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import asyncio

    import jax
    import jax.numpy as jnp

    from codegym_jax.evaluation import episode_tasks, eval_subset
    from codegym_jax.rl import advantages, batches, learner
    from codegym_jax.rollout.agent_loop import run_groups
    from codegym_jax.train import components, stage_results
    from codegym_jax.train.config_io import load_run
    from sandbox.async_sandbox import AsyncSandbox

    config, paths = load_run(args.run_dir)
    r = config.rollout
    tokenizer = components.load_tokenizer(config)
    arch = components.decoder_config(config, tokenizer)
    mesh = components.build_mesh(config)
    state, step = stage_results.checkpointed_state(config, paths, args.stage, arch, mesh, args.step)
    params = state.params
    tasks = eval_subset(components.read_split(paths, args.split), args.num_tasks, args.seed)
    ecfg = components.episode_config(config)
    with components.open_sandbox(config) as pool, components.open_engine(config, arch, params, paths) as engine:
        trajectories, _ = asyncio.run(run_groups(engine, AsyncSandbox(pool), tokenizer, episode_tasks(tasks),
                                                 r.group_size, components.rollout_sampling(config, seed=args.seed),
                                                 ecfg))
    rewards_NxG = np.array([t.reward for t in trajectories], np.float32).reshape(-1, r.group_size)
    adv_NxG = np.asarray(advantages.group_advantages(jnp.asarray(rewards_NxG), config.algorithm.advantage))
    groups = np.flatnonzero(np.asarray(advantages.informative_groups(jnp.asarray(rewards_NxG))))
    print(f"{args.stage} step {step}: {len(trajectories)} episodes on {len(tasks)} {args.split} tasks, "
          f"reward {rewards_NxG.mean():.3f}, {len(groups)} informative groups")
    if len(groups) < 2:
        raise ValueError(f"{len(groups)} informative groups: need at least 2 (more tasks, or another policy)")

    loss_cfg, G = config.algorithm.loss, r.group_size
    grad_fn = jax.jit(lambda p, batch: policy_gradient(p, arch, batch, loss_cfg, r.temperature))

    def grad_of(group_ids: Sequence[int]) -> np.ndarray:
        picked = [(trajectories[i * G + g], float(adv_NxG[i, g])) for i in group_ids for g in range(G)]
        batch = batches.rl_batch([t for t, _ in picked], [a for _, a in picked],
                                 components.data_parallel_size(mesh), 128, ecfg.max_total_tokens)
        grads = jax.device_get(grad_fn(params, {k: jnp.asarray(v) for k, v in batch.items()}))
        return np.concatenate([np.ravel(g) for g in jax.tree.leaves(grads)]).astype(np.float64)

    rng = np.random.default_rng(args.seed)
    print("| groups per half | episodes per half | cosine (mean ± sd) | groups for cos 0.5 |")
    print("|---:|---:|---|---:|")
    for half in half_sizes(len(groups)):
        cos = gradient_cosines(grad_of, groups, half, args.repeats, rng)
        print(f"| {half} | {half * G} | {np.mean(cos):.3f} ± {np.std(cos):.3f} | "
              f"{groups_for_even_signal(half, float(np.mean(cos))):.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
