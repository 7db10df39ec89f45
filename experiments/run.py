"""The entry point: `python experiments/run.py --config experiments/configs/tiny_cpu.py [--set a.b=v ...]`.

Resolves the config (file + overrides), prints it, saves it as `config.json` in the run
directory (that JSON can be passed back to `--config` to rerun), then runs the configured stages
(`codegym_jax.train.stages.run_stages`).
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

from codegym_jax.train import config_io  # noqa: E402
from codegym_jax.train.config import ConfigError, run_paths  # noqa: E402
from codegym_jax.train.stages import run_stages  # noqa: E402


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
        config = config_io.resolve_config(args.config, args.overrides)
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return 2
    paths = run_paths(config)
    print(json.dumps(config_io.config_to_dict(config), indent=2, sort_keys=True))
    config_io.save_config(config, paths.config_file)
    print(f"resolved config saved to {paths.config_file}")
    if args.dry_run:
        return 0
    enable_compilation_cache()
    run_stages(config, paths)
    return 0


if __name__ == "__main__":
    sys.exit(main())
