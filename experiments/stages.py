"""The stages `run.py` runs, one plain function each, selected by `train.stages`."""
from __future__ import annotations

import pathlib

from experiments.config import ExperimentConfig


def run_stage(stage: str, config: ExperimentConfig, out_dir: pathlib.Path) -> None:
    if stage == "data":
        run_data_stage(config, out_dir)
    else:
        raise ValueError(f"unknown stage {stage!r}")


def run_data_stage(config: ExperimentConfig, out_dir: pathlib.Path) -> None:
    raise RuntimeError("data stage needs codegym_jax.envs.build_tasks")
