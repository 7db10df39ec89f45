"""Run metrics: one JSON line per logged step (metrics.jsonl) plus TensorBoard events.

Values may be Python numbers, NumPy or JAX scalars; they are pulled to the host here, once per
logged step, so hot loops can hand over device arrays without forcing a sync themselves.
"""
from __future__ import annotations

import json
import math
import time
from typing import Any, Mapping

import numpy as np

from codegym_jax.jsonl import open_append, read_jsonl
from codegym_jax.run_paths import RunPaths


def _to_float(key: str, value: Any) -> float:
    arr = np.asarray(value)
    if arr.size != 1:
        raise ValueError(f"metric {key!r} must be a scalar, got shape {arr.shape}")
    return float(arr.reshape(()))


class MetricsWriter:
    """Appends metrics to the run's metrics.jsonl and, optionally, TensorBoard event files."""

    def __init__(self, paths: RunPaths, tensorboard: bool = True):
        paths.metrics_file.parent.mkdir(parents=True, exist_ok=True)
        self._file = open_append(paths.metrics_file)
        self._tb = None
        if tensorboard:
            from tensorboardX import SummaryWriter

            self._tb = SummaryWriter(str(paths.tensorboard_dir))

    def write(self, step: int, metrics: Mapping[str, Any], phase: str = "") -> dict[str, float]:
        """Logs `metrics` at `step`; keys get a `phase/` prefix when a phase is given."""
        prefix = f"{phase}/" if phase else ""
        row = {f"{prefix}{k}": _to_float(k, v) for k, v in metrics.items()}
        record = {"step": int(step), "time": time.time(), **row}
        self._file.write(json.dumps(record, allow_nan=True) + "\n")
        if self._tb is not None:
            for k, v in row.items():
                if math.isfinite(v):
                    self._tb.add_scalar(k, v, int(step))
        return row

    def close(self) -> None:
        self._file.close()
        if self._tb is not None:
            self._tb.close()

    def __enter__(self) -> "MetricsWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_metrics(paths: RunPaths) -> list[dict[str, float]]:
    """All logged rows, in order; a torn last line (a run killed mid-write) is skipped."""
    return read_jsonl(paths.metrics_file, torn_tail_ok=True, missing_ok=True)


def series(rows: list[dict[str, float]], key: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of one metric across rows that have it, by step. A step logged twice (a
    resumed stage redoes the steps after its last checkpoint) counts once, with its later value."""
    by_step = {r["step"]: r[key] for r in rows if key in r}
    if not by_step:
        return np.zeros((0,)), np.zeros((0,))
    steps = sorted(by_step)
    return np.asarray(steps, dtype=np.float64), np.asarray([by_step[s] for s in steps], dtype=np.float64)
