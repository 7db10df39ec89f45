"""Every path of a run directory, in one place: each stage and tool asks `RunPaths` for a file
rather than spelling the layout out.

    <run dir>/config.json                       the resolved config (loadable with --config)
    <run dir>/tasks/{split}.jsonl               task instances (or data.task_dir's)
    <run dir>/tasks/data_stage.json             the task files the data stage wrote, and how
    <run dir>/checkpoints/{stage}/              Orbax checkpoints of a training stage
    <run dir>/checkpoints/{stage}/done.json     written when the stage finished
    <run dir>/metrics.jsonl, tensorboard/       one row per logged step
    <run dir>/samples/{phase}_step{k}.md        episodes written for people to read
    <run dir>/eval/{policy}_{split}.json        an evaluation's summary (its presence marks it done)
    <run dir>/eval/{policy}_{split}_episodes.jsonl, eval/summary.md
    <run dir>/ood_eval/{policy}.json             a policy's BFCL scores (its presence marks it done)
    <run dir>/ood_eval/{policy}/                 the harness's files (result/, score/, logs)
    <run dir>/plots/{panel}.png
    <run dir>/hf/{stage}/                       the finished stage's HF folder
    <run dir>/sglang_weights/, sglang_server.log  a launched SGLang server's weights and log
"""
from __future__ import annotations

import dataclasses
import pathlib


@dataclasses.dataclass(frozen=True)
class RunPaths:
    root: pathlib.Path
    # A task folder outside the run directory (data.task_dir); None: `<root>/tasks`.
    task_root: pathlib.Path | None = None

    def __post_init__(self):
        object.__setattr__(self, "root", pathlib.Path(self.root))
        if self.task_root is not None:
            object.__setattr__(self, "task_root", pathlib.Path(self.task_root))

    @property
    def config_file(self) -> pathlib.Path:
        return self.root / "config.json"

    @property
    def tasks_dir(self) -> pathlib.Path:
        return self.task_root if self.task_root is not None else self.root / "tasks"

    def task_file(self, split: str) -> pathlib.Path:
        return self.tasks_dir / f"{split}.jsonl"

    @property
    def data_manifest(self) -> pathlib.Path:
        return self.tasks_dir / "data_stage.json"

    def checkpoint_dir(self, stage: str) -> pathlib.Path:
        return self.root / "checkpoints" / stage

    def done_file(self, stage: str) -> pathlib.Path:
        return self.checkpoint_dir(stage) / "done.json"

    @property
    def metrics_file(self) -> pathlib.Path:
        return self.root / "metrics.jsonl"

    @property
    def tensorboard_dir(self) -> pathlib.Path:
        return self.root / "tensorboard"

    def samples_file(self, phase: str, step: int) -> pathlib.Path:
        return self.root / "samples" / f"{phase}_step{step:05d}.md"

    @property
    def eval_dir(self) -> pathlib.Path:
        return self.root / "eval"

    def eval_result(self, policy: str, split: str) -> pathlib.Path:
        return self.eval_dir / f"{policy}_{split}.json"

    def eval_episodes(self, policy: str, split: str) -> pathlib.Path:
        return self.eval_dir / f"{policy}_{split}_episodes.jsonl"

    @property
    def eval_summary(self) -> pathlib.Path:
        return self.eval_dir / "summary.md"

    @property
    def ood_eval_dir(self) -> pathlib.Path:
        return self.root / "ood_eval"

    def ood_eval_result(self, policy: str) -> pathlib.Path:
        return self.ood_eval_dir / f"{policy}.json"

    def ood_eval_work_dir(self, policy: str) -> pathlib.Path:
        return self.ood_eval_dir / policy

    @property
    def plots_dir(self) -> pathlib.Path:
        return self.root / "plots"

    def hf_dir(self, stage: str) -> pathlib.Path:
        return self.root / "hf" / stage

    @property
    def sglang_weights_dir(self) -> pathlib.Path:
        return self.root / "sglang_weights"

    @property
    def sglang_log(self) -> pathlib.Path:
        return self.root / "sglang_server.log"
