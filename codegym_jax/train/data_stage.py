"""The data stage: task instances for train, val_seen (new instances of training envs) and val
(held-out envs), built from the environments' generators and checked by their oracles, once:
a rerun reuses the task files."""
from __future__ import annotations

import pathlib

from codegym_jax.envs.build_tasks import BuildOptions, build_tasks, write_task_files
from codegym_jax.envs.library import RESEARCH_ENVS, library_env_files
from codegym_jax.envs.tasks import read_tasks
from codegym_jax.run_paths import RunPaths
from codegym_jax.train import components
from codegym_jax.train.config import ExperimentConfig
from codegym_jax.train.stage_results import TRAINING_STAGES


def env_files(config: ExperimentConfig) -> dict[str, pathlib.Path]:
    """The env files the data stage uses: `data.train_envs` plus the held-out ones, or when
    train_envs is empty every env of the folder (research variants of the built-in library
    only when named)."""
    d = config.data
    files = library_env_files(d.env_dir) if d.env_dir else library_env_files()
    if not d.train_envs:
        if d.env_dir:
            return files
        return {name: path for name, path in files.items() if name not in RESEARCH_ENVS}
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


def run_data_stage(config: ExperimentConfig, paths: RunPaths) -> dict[str, pathlib.Path]:
    """Builds the task files unless all of them already exist (a rerun reuses them)."""
    split_paths = {split: paths.task_file(split) for split in components.SPLITS}
    if all(p.exists() for p in split_paths.values()):
        for split, p in split_paths.items():
            print(f"tasks: {split}: {len(read_tasks(str(p)))} instances in {p} (reused)")
        return split_paths
    d = config.data
    opts = BuildOptions(
        train_per_env=d.train_per_env, val_per_env=d.val_per_env, difficulties=d.difficulties,
        seed=d.seed, min_oracle_steps=d.min_oracle_steps, max_oracle_steps=d.max_oracle_steps,
        heldout=d.heldout_envs,
    )
    with components.open_sandbox(config) as sandbox:
        tasks = build_tasks(sandbox, env_files(config), opts, parallel_jobs=components.sandbox_parallelism(config, sandbox))
    empty = [split for split in splits_needed(config) if not tasks[split]]
    if empty:
        raise ValueError(
            f"data stage: no task instances for split(s) {empty}, which the stages {list(config.train.stages)} "
            f"need: the oracle-length filter (data.min_oracle_steps={d.min_oracle_steps}, "
            f"data.max_oracle_steps={d.max_oracle_steps}) kept none of the {list(d.difficulties)} instances "
            f"generated; widen the filter, add difficulties, or raise data.train_per_env / data.val_per_env")
    written = write_task_files(paths.tasks_dir, tasks)
    for split, p in written.items():
        envs = len({t.env_name for t in tasks[split]})
        print(f"tasks: {split}: {len(tasks[split])} instances of {envs} environments -> {p}")
    return written
