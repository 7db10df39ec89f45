"""Where each training stage keeps its checkpoints, and how a later stage loads its result.

Stage "sft", "rl" and "sft_baseline" each checkpoint into `<run dir>/checkpoints/<stage>/`; when a
stage finishes it writes `done.json` there (its steps and wall time), so a rerun skips it and
later stages start from its final state. An unfinished stage resumes from its latest checkpoint.
"""
from __future__ import annotations

import json
import pathlib
from typing import Any

import jax

from codegym_jax.checkpoint import Checkpointer, export_hf
from codegym_jax.models.config import ModelConfig as ArchConfig
from codegym_jax.rl import learner
from codegym_jax.rollout import tokenizer as tokenizer_lib
from experiments.config import ExperimentConfig

TRAINING_STAGES = ("sft", "rl", "sft_baseline")
DONE_FILE = "done.json"


def checkpoint_dir(out_dir: pathlib.Path, stage: str) -> pathlib.Path:
    if stage not in TRAINING_STAGES:
        raise ValueError(f"no checkpoints for stage {stage!r}; training stages: {TRAINING_STAGES}")
    return out_dir / "checkpoints" / stage


def optimizer_config(config: ExperimentConfig, stage: str) -> learner.OptimizerConfig:
    return config.optimizer if stage == "rl" else config.sft_optimizer


def make_checkpointer(config: ExperimentConfig, out_dir: pathlib.Path, stage: str) -> Checkpointer:
    c = config.checkpoint
    return Checkpointer(checkpoint_dir(out_dir, stage), keep=c.keep, async_save=c.async_save)


def stage_done(out_dir: pathlib.Path, stage: str) -> dict[str, Any] | None:
    """The finished stage's summary, or None while it has not finished."""
    path = checkpoint_dir(out_dir, stage) / DONE_FILE
    return json.loads(path.read_text()) if path.exists() else None


def write_json(path: pathlib.Path, data: Any) -> None:
    """Writes `path` whole or not at all (a temp file renamed over it): a file whose presence
    marks work finished must not be left half-written by a kill."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)


def mark_done(out_dir: pathlib.Path, stage: str, summary: dict[str, Any]) -> None:
    write_json(checkpoint_dir(out_dir, stage) / DONE_FILE, summary)


def export_final(config: ExperimentConfig, out_dir: pathlib.Path, stage: str, arch: ArchConfig,
                 state: learner.TrainState, tokenizer) -> pathlib.Path | None:
    """The finished stage's params and tokenizer as an HF folder `<run dir>/hf/<stage>` (when
    checkpoint.export_hf): loadable by transformers, SGLang, or a later run's model.hf_path."""
    if not config.checkpoint.export_hf:
        return None
    hf_dir = out_dir / "hf" / stage
    export_hf(hf_dir, arch, state)
    tokenizer_lib.save(tokenizer, hf_dir)
    return hf_dir


def load_final_state(config: ExperimentConfig, out_dir: pathlib.Path, stage: str, arch: ArchConfig,
                     mesh: jax.sharding.Mesh) -> learner.TrainState:
    """The finished `stage`'s last checkpointed state, each array straight into its shard."""
    if stage_done(out_dir, stage) is None:
        raise FileNotFoundError(f"stage {stage!r} has not finished in {out_dir} (no {DONE_FILE})")
    optimizer = learner.make_optimizer(optimizer_config(config, stage))
    with make_checkpointer(config, out_dir, stage) as ckpt:
        state, _ = ckpt.restore(learner.abstract_train_state(arch, optimizer, mesh))
    return state
