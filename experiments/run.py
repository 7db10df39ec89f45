"""The entry point: `python experiments/run.py --config experiments/configs/tiny_cpu.py [--set a.b=v ...]`.

Resolves the config (file + overrides), prints it, saves it as `config.json` in the run
directory (that JSON can be passed back to `--config` to rerun), then runs the configured stages.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys

if __package__ in (None, ""):
    # Run as a script: make the repository root importable without an install.
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from experiments import config as config_lib  # noqa: E402
from codegym_jax.plot import plot_run  # noqa: E402
from experiments import stages  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="config module (.py) or resolved config.json")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one field, e.g. --set train.rl_steps=3 (repeatable)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="resolve, print and save the config; run nothing"
    )
    return parser.parse_args(argv)


def resolve_config(config_path: str, overrides: list[str]) -> config_lib.ExperimentConfig:
    config = config_lib.load_config(config_path)
    return config_lib.check_config(config_lib.apply_overrides(config, overrides))


def enable_compilation_cache() -> None:
    """Compiled programs persist across runs and stages (a resumed run skips most compiles)."""
    import jax

    cache = pathlib.Path(os.environ.get("CODEGYM_JAX_CACHE", pathlib.Path.home() / ".cache" / "codegym_jax" / "xla"))
    jax.config.update("jax_compilation_cache_dir", str(cache))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # stage reports interleave with progress bars
    try:
        config = resolve_config(args.config, args.overrides)
    except config_lib.ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return 2
    out_dir = config_lib.run_dir(config)
    print(json.dumps(config_lib.config_to_dict(config), indent=2, sort_keys=True))
    config_lib.save_config(config, out_dir / "config.json")
    print(f"resolved config saved to {out_dir / 'config.json'}")
    if args.dry_run:
        return 0
    enable_compilation_cache()
    for stage in config.train.stages:
        print(f"== stage {stage}", flush=True)
        stages.run_stage(stage, config, out_dir)
    if (out_dir / "metrics.jsonl").exists():
        written = plot_run(out_dir)
        print(f"plots: {len(written)} PNGs in {out_dir / 'plots'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
