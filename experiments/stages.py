"""The stages `run.py` runs, one plain function each, selected by `train.stages`."""
from __future__ import annotations

import pathlib

from codegym_jax.envs.build_tasks import BuildOptions, build_tasks, write_task_files
from codegym_jax.envs.library import library_env_files
from codegym_jax.envs.tasks import read_tasks
from experiments.config import ExperimentConfig
from experiments.policies import TRAINING_STAGES
from experiments.runtime import SPLITS, task_dir
from experiments.stage_eval import run_eval
from experiments.stage_rl import run_rl
from experiments.stage_sft import run_sft
from sandbox.pool import SandboxPool


def run_stage(stage: str, config: ExperimentConfig, out_dir: pathlib.Path) -> None:
    if stage == "data":
        run_data_stage(config, out_dir)
    elif stage in ("sft", "sft_baseline"):
        run_sft(config, out_dir, stage)
    elif stage == "rl":
        run_rl(config, out_dir)
    elif stage == "eval":
        run_eval(config, out_dir)
    else:
        raise ValueError(f"unknown stage {stage!r}")


def env_files(config: ExperimentConfig) -> dict[str, pathlib.Path]:
    """The env files the data stage uses: all of them, or `data.train_envs` plus the held-out ones."""
    d = config.data
    files = library_env_files(d.env_dir) if d.env_dir else library_env_files()
    if not d.train_envs:
        return files
    wanted = set(d.train_envs) | set(d.heldout_envs)
    unknown = sorted(wanted - set(files))
    if unknown:
        raise ValueError(f"data.train_envs / heldout_envs name unknown envs {unknown}; known: {sorted(files)}")
    overlap = sorted(set(d.train_envs) & set(d.heldout_envs))
    if overlap:
        raise ValueError(f"envs {overlap} are in both data.train_envs and data.heldout_envs")
    return {name: path for name, path in files.items() if name in wanted}


def splits_needed(config: ExperimentConfig) -> list[str]:
    """The task splits the configured stages read: train for any training stage, the eval
    splits for the eval stage and for the RL stage's periodic evals."""
    stages = set(config.train.stages)
    needed = ["train"] if stages & set(TRAINING_STAGES) else []
    if "eval" in stages or ("rl" in stages and config.eval.every_steps):
        needed += [s for s in config.eval.splits if s not in needed]
    return needed


def run_data_stage(config: ExperimentConfig, out_dir: pathlib.Path) -> dict[str, pathlib.Path]:
    """Builds the task files unless all of them already exist (a rerun reuses them)."""
    folder = task_dir(config, out_dir)
    paths = {split: folder / f"{split}.jsonl" for split in SPLITS}
    if all(p.exists() for p in paths.values()):
        for split, p in paths.items():
            print(f"tasks: {split}: {len(read_tasks(str(p)))} instances in {p} (reused)")
        return paths
    d = config.data
    opts = BuildOptions(
        train_per_env=d.train_per_env, val_per_env=d.val_per_env, difficulties=d.difficulties,
        seed=d.seed, min_oracle_steps=d.min_oracle_steps, max_oracle_steps=d.max_oracle_steps,
        heldout=d.heldout_envs,
    )
    with SandboxPool(num_workers=config.sandbox.num_workers, limits=config.sandbox.limits) as pool:
        tasks = build_tasks(pool, env_files(config), opts)
    empty = [split for split in splits_needed(config) if not tasks[split]]
    if empty:
        raise ValueError(
            f"data stage: no task instances for split(s) {empty}, which the stages {list(config.train.stages)} "
            f"need: the oracle-length filter (data.min_oracle_steps={d.min_oracle_steps}, "
            f"data.max_oracle_steps={d.max_oracle_steps}) kept none of the {list(d.difficulties)} instances "
            f"generated; widen the filter, add difficulties, or raise data.train_per_env / data.val_per_env")
    paths = write_task_files(folder, tasks)
    for split, p in paths.items():
        envs = len({t.env_name for t in tasks[split]})
        print(f"tasks: {split}: {len(tasks[split])} instances of {envs} environments -> {p}")
    return paths
