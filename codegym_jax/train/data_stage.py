"""The data stage: task instances for train, val_seen (new instances of training envs) and val
(held-out envs), once: a rerun reuses the task files. Instances come from the environments'
generators (`envs.build_tasks`), or from released CodeGym records (`envs.build_released`,
`data.released.records`); either way each is checked by its oracle in the sandbox.

The stage never overwrites a file it did not write: before it moves its task files into place
it lists them in `data_stage.json`, so a folder holding only some of the three files is either
its own interrupted work (rebuilt) or a user's (refused, naming the files)."""
from __future__ import annotations

import dataclasses
import json
import os
import pathlib

from codegym_jax.envs.build_released import ReleasedOptions, build_released_tasks
from codegym_jax.envs.build_tasks import BuildOptions, build_tasks
from codegym_jax.envs.library import RESEARCH_ENVS, library_env_files
from codegym_jax.envs.tasks import read_tasks, write_tasks
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


def _own_files(paths: RunPaths) -> set[str]:
    """Names of the task files an earlier data stage wrote into this folder."""
    if not paths.data_manifest.exists():
        return set()
    return set(json.loads(paths.data_manifest.read_text(encoding="utf-8")).get("files", []))


def check_task_folder(paths: RunPaths) -> bool:
    """True when all task files exist (reuse them). Raises when only some do and any of those
    is not the data stage's own: it would have to overwrite a user's file."""
    files = [paths.task_file(split) for split in components.SPLITS]
    present = [p for p in files if p.exists()]
    if len(present) == len(files):
        return True
    foreign = [str(p) for p in present if p.name not in _own_files(paths)]
    if foreign:
        missing = [p.name for p in files if not p.exists()]
        raise ValueError(
            f"data stage: {foreign} exist but {missing} do not; the data stage writes all of "
            f"{[p.name for p in files]} and never overwrites a file it did not write: add the missing "
            f"files (the folder is then used as it is) or set data.task_dir to a new folder")
    return False


def _commit(paths: RunPaths, tmp: dict[str, pathlib.Path], config: ExperimentConfig) -> dict[str, pathlib.Path]:
    """Moves the temp task files into place, after recording them as the stage's own."""
    manifest = {"files": sorted(paths.task_file(s).name for s in tmp), "data": dataclasses.asdict(config.data)}
    staged = paths.data_manifest.with_suffix(f".tmp{os.getpid()}")
    staged.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    os.replace(staged, paths.data_manifest)
    for split, path in tmp.items():
        os.replace(path, paths.task_file(split))
    return {split: paths.task_file(split) for split in tmp}


def _generated(config: ExperimentConfig, paths: RunPaths, sandbox) -> tuple[dict[str, pathlib.Path], dict[str, int]]:
    d = config.data
    opts = BuildOptions(
        train_per_env=d.train_per_env, val_per_env=d.val_per_env, difficulties=d.difficulties,
        seed=d.seed, min_oracle_steps=d.min_oracle_steps, max_oracle_steps=d.max_oracle_steps,
        heldout=d.heldout_envs,
    )
    stats: dict[str, int] = {}
    tasks = build_tasks(sandbox, env_files(config), opts, components.sandbox_parallelism(config, sandbox), stats=stats)
    empty = [split for split in splits_needed(config) if not tasks[split]]
    if empty:
        raise ValueError(
            f"data stage: no task instances for split(s) {empty}, which the stages {list(config.train.stages)} "
            f"need, and nothing was written: of {stats['generated']} generated {list(d.difficulties)} instances "
            f"{stats['oracle_failed']} failed their oracle, {stats['filtered']} fell outside the oracle-length "
            f"filter (data.min_oracle_steps={d.min_oracle_steps}, data.max_oracle_steps={d.max_oracle_steps}) "
            f"and {stats['generate_failed']} generate() calls failed; widen the filter, add difficulties, or raise "
            f"data.train_per_env / data.val_per_env")
    paths.tasks_dir.mkdir(parents=True, exist_ok=True)
    tmp = {}
    for split, items in tasks.items():
        tmp[split] = paths.task_file(split).with_suffix(f".jsonl.tmp{os.getpid()}")
        write_tasks(str(tmp[split]), items)
    return tmp, {split: len(items) for split, items in tasks.items()}


def run_data_stage(config: ExperimentConfig, paths: RunPaths) -> dict[str, pathlib.Path]:
    """Builds the task files unless all of them already exist (a rerun reuses them)."""
    split_paths = {split: paths.task_file(split) for split in components.SPLITS}
    if check_task_folder(paths):
        for split, p in split_paths.items():
            print(f"tasks: {split}: {len(read_tasks(str(p)))} instances in {p} (reused)")
        return split_paths
    d, r = config.data, config.data.released
    with components.open_sandbox(config) as sandbox:
        if r.records:
            opts = ReleasedOptions(
                seed=d.seed, heldout_fraction=r.heldout_fraction, val_seen_per_env=r.val_seen_per_env,
                val_per_env=r.val_per_env, train_per_env=r.train_per_env, min_oracle_steps=d.min_oracle_steps,
                max_oracle_steps=d.max_oracle_steps, record_prompts=r.record_prompts)
            build = build_released_tasks(sandbox, r.records, d.env_dir, opts,
                                         components.sandbox_parallelism(config, sandbox), paths.tasks_dir,
                                         required=tuple(splits_needed(config)))
            print(f"tasks: released data: {build.stats}")
            tmp, counts = build.tmp_paths, build.counts
        else:
            tmp, counts = _generated(config, paths, sandbox)
    written = _commit(paths, tmp, config)
    for split, p in written.items():
        print(f"tasks: {split}: {counts[split]} instances -> {p}")
    return written
