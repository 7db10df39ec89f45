"""The stages `experiments/run.py` runs, one plain function each, selected by `train.stages`."""
from __future__ import annotations

from codegym_jax.plot import plot_run
from codegym_jax.run_paths import RunPaths
from codegym_jax.train.config import ExperimentConfig
from codegym_jax.train.data_stage import run_data_stage
from codegym_jax.train.eval_stage import run_eval
from codegym_jax.train.ood_eval_stage import run_ood_eval
from codegym_jax.train.rl_stage import run_rl
from codegym_jax.train.sft_stage import run_sft


def run_stage(stage: str, config: ExperimentConfig, paths: RunPaths) -> None:
    if stage == "data":
        run_data_stage(config, paths)
    elif stage in ("sft", "sft_baseline"):
        run_sft(config, paths, stage)
    elif stage == "rl":
        run_rl(config, paths)
    elif stage == "eval":
        run_eval(config, paths)
    elif stage == "ood_eval":
        run_ood_eval(config, paths)
    else:
        raise ValueError(f"unknown stage {stage!r}")


def run_stages(config: ExperimentConfig, paths: RunPaths) -> None:
    """Every stage of `train.stages` in order (each skips or resumes what an earlier run of the
    same run directory did), then the run's plots."""
    for stage in config.train.stages:
        print(f"== stage {stage}", flush=True)
        run_stage(stage, config, paths)
    if paths.metrics_file.exists():
        written = plot_run(paths)
        print(f"plots: {len(written)} PNGs in {paths.plots_dir}")
