"""What a finished training stage leaves behind, and how a later stage loads it.

Stage "sft", "rl" and "sft_baseline" each checkpoint into `RunPaths.checkpoint_dir(stage)`; when
a stage finishes it writes `RunPaths.done_file(stage)` (its steps and wall time), so a rerun
skips it and later stages start from its final state. An unfinished stage resumes from its
latest checkpoint.
"""
from __future__ import annotations

import json
import pathlib
from typing import Any

import jax

from codegym_jax.checkpoint import Checkpointer, export_hf
from codegym_jax.models.config import DecoderConfig
from codegym_jax.rl import learner
from codegym_jax.rollout import tokenizer as tokenizer_lib
from codegym_jax.run_paths import RunPaths
from codegym_jax.train.config import ExperimentConfig

TRAINING_STAGES = ("sft", "rl", "sft_baseline")


def _training_stage(stage: str) -> str:
    if stage not in TRAINING_STAGES:
        raise ValueError(f"no checkpoints for stage {stage!r}; training stages: {TRAINING_STAGES}")
    return stage


def optimizer_config(config: ExperimentConfig, stage: str) -> learner.OptimizerConfig:
    return config.optimizer if stage == "rl" else config.sft_optimizer


def make_checkpointer(config: ExperimentConfig, paths: RunPaths, stage: str) -> Checkpointer:
    c = config.checkpoint
    return Checkpointer(paths.checkpoint_dir(_training_stage(stage)), keep=c.keep, async_save=c.async_save)


def stage_done(paths: RunPaths, stage: str) -> dict[str, Any] | None:
    """The finished stage's summary, or None while it has not finished."""
    path = paths.done_file(_training_stage(stage))
    return json.loads(path.read_text()) if path.exists() else None


def write_json(path: pathlib.Path, data: Any) -> None:
    """Writes `path` whole or not at all (a temp file renamed over it): a file whose presence
    marks work finished must not be left half-written by a kill."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)


def mark_done(paths: RunPaths, stage: str, summary: dict[str, Any]) -> None:
    write_json(paths.done_file(_training_stage(stage)), summary)


def export_final(config: ExperimentConfig, paths: RunPaths, stage: str, arch: DecoderConfig,
                 state: learner.TrainState, tokenizer) -> pathlib.Path | None:
    """The finished stage's params and tokenizer as an HF folder `RunPaths.hf_dir(stage)` (when
    checkpoint.export_hf): loadable by transformers, SGLang, or a later run's model.hf_path."""
    if not config.checkpoint.export_hf:
        return None
    hf_dir = paths.hf_dir(stage)
    export_hf(hf_dir, arch, state)
    tokenizer_lib.save(tokenizer, hf_dir)
    return hf_dir


def checkpointed_state(config: ExperimentConfig, paths: RunPaths, stage: str, arch: DecoderConfig,
                       mesh: jax.sharding.Mesh, step: int | None = None) -> tuple[learner.TrainState, int]:
    """(state, step) of `stage`'s checkpoint at `step` (default: its latest), finished or not, each
    array straight into its shard."""
    optimizer = learner.make_optimizer(optimizer_config(config, stage))
    with make_checkpointer(config, paths, stage) as ckpt:
        kept = ckpt.all_steps()
        step = step if step is not None else ckpt.latest_step()
        if step not in kept:
            raise ValueError(f"no {stage} checkpoint at step {step} in {paths.root}; kept: {kept}")
        state, _ = ckpt.restore(learner.abstract_train_state(arch, optimizer, mesh), step=step)
    return state, step


def load_final_state(config: ExperimentConfig, paths: RunPaths, stage: str, arch: DecoderConfig,
                     mesh: jax.sharding.Mesh) -> learner.TrainState:
    """The finished `stage`'s last checkpointed state, each array straight into its shard."""
    if stage_done(paths, stage) is None:
        raise FileNotFoundError(f"stage {stage!r} has not finished in {paths.root} (no {paths.done_file(stage)})")
    return checkpointed_state(config, paths, stage, arch, mesh)[0]
