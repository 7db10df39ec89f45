"""A checkpoint folder scored on BFCL: served OpenAI-style on loopback (`codegym_jax.serve`), with
the Berkeley Function Calling Leaderboard's own harness (`codegym_jax.bfcl_harness`) calling it.

    python -m codegym_jax.ood_eval --model HF_DIR --out DIR [--categories simple_python,multiple]
                                   [--entries-per-category N]

The harness formats each prompt itself, reads the tokenizer from the folder (nothing is
downloaded) and grades with its own checkers; `DIR` gets its files and `scores.json`.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import pathlib
import sys
import time
from typing import Any

from codegym_jax.bfcl_harness import DEFAULT_HANDLER, OFFLINE_CATEGORIES, run_bfcl, score_table
from codegym_jax.serve.server import open_served_model, running_server


@dataclasses.dataclass(frozen=True)
class OodEvalConfig:
    """Out-of-domain tool use: each policy served OpenAI-style (`codegym_jax.serve`) and scored by
    the Berkeley Function Calling Leaderboard's own harness (bfcl-eval, in `.venv-bfcl`)."""

    # BFCL categories that run offline (non-live single-turn and multi-turn).
    categories: tuple[str, ...] = OFFLINE_CATEGORIES
    # Entries per category, the first ones in BFCL's order (0 = every entry: the leaderboard's score).
    entries_per_category: int = 0
    # BFCL's prompt format and reply parser for the model (a `bfcl models` name): Qwen chat
    # markup with <tool_call> JSON calls, what Qwen2.5/Qwen3 and the project's native format use.
    handler: str = DEFAULT_HANDLER
    # 0 = greedy.
    temperature: float = 0.0
    # Requests in flight (the harness's threads); each is one sampler slot.
    concurrency: int = 32
    # Most tokens one reply may generate (the harness asks up to 4,096).
    max_new_tokens: int = 4096
    # The harness's virtual environment; empty: `.venv-bfcl` in the repository (`setup.sh --bfcl`).
    bfcl_venv: str = ""


def score_folder(model_dir: str | pathlib.Path, out_dir: str | pathlib.Path, cfg: OodEvalConfig, seed: int = 0,
                 params: Any = None, log=print) -> dict:
    """{"scores": {category: {accuracy, correct, total}}, "wall_s"} of the folder's model (or
    `params` of its architecture) on `cfg.categories`."""
    start = time.monotonic()
    with open_served_model(model_dir, slots=cfg.concurrency, max_new_tokens=cfg.max_new_tokens, seed=seed,
                           params=params) as model, running_server(model) as url:
        scores = run_bfcl(f"{url}/v1", model_dir, out_dir, cfg.categories, handler=cfg.handler,
                          ids_per_category=cfg.entries_per_category, temperature=cfg.temperature,
                          num_threads=cfg.concurrency, bfcl_venv=cfg.bfcl_venv or None, log=log)
    return {"scores": scores, "wall_s": round(time.monotonic() - start, 1)}


def main(argv: list[str] | None = None) -> int:
    defaults = OodEvalConfig()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="HF folder (config.json, *.safetensors, tokenizer)")
    parser.add_argument("--out", required=True, help="folder for the harness's files and scores.json")
    parser.add_argument("--categories", default=",".join(defaults.categories))
    parser.add_argument("--entries-per-category", type=int, default=defaults.entries_per_category,
                        help="the first N entries of each category (0 = all)")
    parser.add_argument("--handler", default=defaults.handler, help="BFCL's model handler (prompt format)")
    parser.add_argument("--temperature", type=float, default=defaults.temperature)
    parser.add_argument("--concurrency", type=int, default=defaults.concurrency)
    parser.add_argument("--max-new-tokens", type=int, default=defaults.max_new_tokens)
    parser.add_argument("--bfcl-venv", default=defaults.bfcl_venv)
    args = parser.parse_args(argv)
    cfg = dataclasses.replace(
        defaults, categories=tuple(c for c in args.categories.split(",") if c),
        entries_per_category=args.entries_per_category, handler=args.handler, temperature=args.temperature,
        concurrency=args.concurrency, max_new_tokens=args.max_new_tokens, bfcl_venv=args.bfcl_venv)
    result = score_folder(args.model, args.out, cfg)
    print(json.dumps(result, indent=2))
    print(score_table({pathlib.Path(args.model).name: result["scores"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
