"""`python -m codegym_jax.plot RUN_DIR`: PNG curves of a run's metrics.jsonl into RUN_DIR/plots/.

One PNG per panel (reward, held-out success, tool calls, lengths, loss, KL, entropy, throughput,
time per phase); a panel shows every logged metric whose name matches one of its patterns, so
new metrics appear without code changes here.
"""
from __future__ import annotations

import argparse
import fnmatch
import pathlib
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from codegym_jax.metrics import read_metrics, series  # noqa: E402
from codegym_jax.run_paths import RunPaths  # noqa: E402

PANELS: dict[str, tuple[str, ...]] = {
    "reward": ("*reward*",),
    "success": ("*success*", "*pass@*"),
    "tool_calls": ("*tool_calls*", "*turns*"),
    "lengths": ("*length*", "*tokens*"),
    "loss": ("*loss*",),
    "kl": ("*kl*",),
    "entropy": ("*entropy*",),
    "throughput": ("*per_s*", "*throughput*"),
    "time": ("*time/*", "*_seconds"),
}


def plot_run(paths: RunPaths) -> list[pathlib.Path]:
    """Writes one PNG per panel that has data; returns the written paths."""
    rows = read_metrics(paths)
    if not rows:
        raise FileNotFoundError(f"no metrics in {paths.metrics_file}")
    keys = sorted({k for r in rows for k in r if k not in ("step", "time")})
    paths.plots_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for panel, patterns in PANELS.items():
        matched = [k for k in keys if any(fnmatch.fnmatch(k, p) for p in patterns)]
        if not matched:
            continue
        fig, ax = plt.subplots(figsize=(7, 4))
        for key in matched:
            steps, values = series(rows, key)
            ax.plot(steps, values, marker="o" if len(steps) < 30 else None, label=key)
        ax.set_xlabel("step")
        ax.set_title(f"{paths.root.name}: {panel}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = paths.plots_dir / f"{panel}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    args = parser.parse_args(argv)
    try:
        written = plot_run(RunPaths(pathlib.Path(args.run_dir)))
    except FileNotFoundError as e:
        print(f"plot: {e}", file=sys.stderr)
        return 1
    for p in written:
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
