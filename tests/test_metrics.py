"""Metrics JSONL + TensorBoard writer, reader robustness, and the plot command."""
from __future__ import annotations

import json

import jax.numpy as jnp
import numpy as np
import pytest

from codegym_jax import metrics, plot
from codegym_jax.run_paths import RunPaths


def test_writer_accepts_device_scalars_and_round_trips(tmp_path):
    with metrics.MetricsWriter(RunPaths(tmp_path), tensorboard=True) as w:
        w.write(0, {"loss": jnp.float32(1.5), "reward": np.float64(0.25)}, phase="rl")
        w.write(1, {"loss": 1.0, "reward": 0.5}, phase="rl")
    rows = metrics.read_metrics(RunPaths(tmp_path))
    assert [r["step"] for r in rows] == [0, 1]
    assert rows[0]["rl/loss"] == 1.5 and rows[1]["rl/reward"] == 0.5
    steps, values = metrics.series(rows, "rl/reward")
    np.testing.assert_array_equal(steps, [0, 1])
    np.testing.assert_array_equal(values, [0.25, 0.5])
    assert any((tmp_path / "tensorboard").iterdir())


def test_writer_appends_across_restarts(tmp_path):
    with metrics.MetricsWriter(RunPaths(tmp_path), tensorboard=False) as w:
        w.write(0, {"a": 1})
    with metrics.MetricsWriter(RunPaths(tmp_path), tensorboard=False) as w:
        w.write(1, {"a": 2})
    assert [r["a"] for r in metrics.read_metrics(RunPaths(tmp_path))] == [1.0, 2.0]


def test_steps_redone_after_a_resume_count_once_with_their_later_values(tmp_path):
    with metrics.MetricsWriter(RunPaths(tmp_path), tensorboard=False) as w:
        for step in (1, 2, 3, 4):  # killed after step 4; the last checkpoint was step 2
            w.write(step, {"loss": 10.0 + step}, phase="sft")
    with metrics.MetricsWriter(RunPaths(tmp_path), tensorboard=False) as w:
        for step in (3, 4, 5):
            w.write(step, {"loss": 20.0 + step}, phase="sft")
    steps, values = metrics.series(metrics.read_metrics(RunPaths(tmp_path)), "sft/loss")
    np.testing.assert_array_equal(steps, [1, 2, 3, 4, 5])
    np.testing.assert_array_equal(values, [11, 12, 23, 24, 25])


def test_non_scalar_metric_is_an_error_naming_it(tmp_path):
    with metrics.MetricsWriter(RunPaths(tmp_path), tensorboard=False) as w:
        with pytest.raises(ValueError, match=r"metric 'hist' must be a scalar, got shape \(3,\)"):
            w.write(0, {"hist": np.zeros(3)})


def test_torn_last_line_is_skipped_but_corruption_elsewhere_is_an_error(tmp_path):
    path = RunPaths(tmp_path).metrics_file
    path.write_text(json.dumps({"step": 0, "a": 1.0}) + "\n" + '{"step": 1, "a"')
    assert metrics.read_metrics(RunPaths(tmp_path)) == [{"step": 0, "a": 1.0}]
    path.write_text('{"step": 0\n' + json.dumps({"step": 1, "a": 1.0}) + "\n")
    with pytest.raises(ValueError, match=r"metrics.jsonl:1: not JSON"):
        metrics.read_metrics(RunPaths(tmp_path))


def test_plot_writes_one_png_per_panel_with_data(tmp_path):
    with metrics.MetricsWriter(RunPaths(tmp_path), tensorboard=False) as w:
        for step in range(5):
            w.write(step, {"reward_mean": step / 4, "loss": 1.0 / (step + 1), "kl": 0.01 * step})
    paths = plot.plot_run(RunPaths(tmp_path))
    names = sorted(p.name for p in paths)
    assert names == ["kl.png", "loss.png", "reward.png"]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_cli_without_metrics_fails_clearly(tmp_path, capsys):
    assert plot.main([str(tmp_path)]) == 1
    assert "no metrics in" in capsys.readouterr().err
