"""Where a policy's loss on oracle transcripts lives: per-token NLL grouped by what each token writes.

A warm start can have a low mean loss and still fail every episode, because the loss that is left
sits on the few tokens that decide the episode (a character copied from the last tool reply, the
final answer). This splits the NLL of every sampled token by its role in the call: the tool name,
each argument's value (`arg:<name>`), or the call's fixed syntax.

    python experiments/research/loss_by_role.py runs/tiny_cpu --stage sft --steps 40,80,120

prints, for each checkpoint, one row per role: tokens, mean NLL, the role's share of the total,
and how many of its tokens the policy already predicts (p(target) >= 0.5, hence the argmax).
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys
from typing import Sequence

import numpy as np

if __package__ in (None, ""):
    # Run as a script: make the repository root importable without an install.
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))

from codegym_jax.rollout.chat_format import decode  # noqa: E402
from codegym_jax.rollout.trajectory import Trajectory  # noqa: E402

SYNTAX = "syntax"
TOOL_NAME = "tool name"


def _value_span(start: int, end: int, value) -> tuple[int, int]:
    """A string's characters without its quotes (the quotes are syntax); other values whole."""
    return (start + 1, end - 1) if isinstance(value, str) else (start, end)


def call_roles(text: str) -> list[tuple[int, int, str]]:
    """Character spans [start, end) of the tool name and of each argument value in one call's
    text (either tool-call format); everything outside them is call syntax. Malformed text
    (a sampled turn) gives the spans found before the first thing that does not parse."""
    spans: list[tuple[int, int, str]] = []
    try:
        _scan_call(text, spans)
    except json.JSONDecodeError:
        return spans  # a malformed call: the spans found so far
    return spans


def _scan_call(text: str, spans: list[tuple[int, int, str]]) -> None:
    name_at = text.find('"name": ')
    if name_at < 0:
        return
    decoder = json.JSONDecoder()
    start = name_at + len('"name": ')
    name, end = decoder.raw_decode(text, start)
    spans.append((*_value_span(start, end, name), TOOL_NAME))
    for key in ('"parameters": ', '"arguments": '):
        at = text.find(key, end)
        if at >= 0:
            break
    else:
        return
    i = at + len(key)
    if text[i:i + 1] != "{":
        return
    i += 1
    while True:
        while text[i:i + 1] in (" ", ","):
            i += 1
        if text[i:i + 1] != '"':
            return
        arg, i = decoder.raw_decode(text, i)
        if text[i:i + 2] != ": ":
            return
        value_start = i + 2
        value, i = decoder.raw_decode(text, value_start)
        spans.append((*_value_span(value_start, i, value), f"arg:{arg}"))


def token_roles(tokenizer, trajectory: Trajectory) -> list[str | None]:
    """The role of every token of `trajectory`: None outside the sampled turns, else the span
    of `call_roles` holding the token's first non-space character (SYNTAX when none does)."""
    roles: list[str | None] = [None] * len(trajectory.tokens)
    for begin, end in trajectory.turn_spans:
        pieces = [decode(tokenizer, [int(t)]) for t in trajectory.tokens[begin:end]]
        spans = call_roles("".join(pieces))
        offset = 0
        for k, piece in enumerate(pieces):
            first = offset + len(piece) - len(piece.lstrip())
            inside = (r for s, e, r in spans if s <= first < e)
            roles[begin + k] = next(inside, SYNTAX) if piece.strip() else SYNTAX
            offset += len(piece)
    return roles


def loss_by_role(logprobs_BxL: np.ndarray, roles_BxL: Sequence[Sequence[str | None]]) -> dict[str, dict]:
    """Per role: token count, mean NLL, share of the summed NLL, and the fraction of tokens whose
    target has probability >= 0.5. `logprobs_BxL[b, t]` is log p(token t | tokens < t)."""
    nll: dict[str, list[float]] = {}
    for row, roles in zip(np.asarray(logprobs_BxL), roles_BxL):
        for t, role in enumerate(roles):
            if role is not None:
                nll.setdefault(role, []).append(-float(row[t]))
    total = sum(sum(v) for v in nll.values())
    out = {}
    for role, values in nll.items():
        v = np.asarray(values)
        out[role] = {"tokens": int(v.size), "mean_nll": float(v.mean()),
                     "share": float(v.sum() / total) if total > 0 else 0.0,
                     "predicted": float(np.mean(v <= np.log(2.0)))}
    return dict(sorted(out.items(), key=lambda kv: -kv[1]["share"]))


def format_table(results: dict[str, dict], num_transcripts: int) -> str:
    lines = ["| role | tokens | mean NLL | share of NLL | predicted (p >= 0.5) |", "|---|---|---|---|---|"]
    for role, r in results.items():
        lines.append(f"| {role} | {r['tokens']} | {r['mean_nll']:.3f} | {100 * r['share']:.1f}% | "
                     f"{100 * r['predicted']:.0f}% |")
    total = sum(r["tokens"] * r["mean_nll"] for r in results.values())
    lines.append(f"NLL per transcript: {total / max(num_transcripts, 1):.2f} over {num_transcripts} transcripts")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run_dir", help="a run directory (holds config.json, tasks/ and checkpoints/)")
    p.add_argument("--stage", default="sft", choices=("sft", "rl", "sft_baseline"))
    p.add_argument("--steps", default="", help="comma-separated checkpoint steps (default: all kept)")
    p.add_argument("--split", default="val_seen", choices=("train", "val_seen", "val"))
    p.add_argument("--num-tasks", type=int, default=32)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import jax

    from codegym_jax.evaluation import episode_tasks, eval_subset
    from codegym_jax.rl import batches, learner
    from codegym_jax.rollout.oracle_transcripts import oracle_trajectories
    from codegym_jax.train import components, stage_results
    from codegym_jax.train.config_io import load_run

    config, paths = load_run(args.run_dir)
    tokenizer = components.load_tokenizer(config)
    arch = components.decoder_config(config, tokenizer)
    mesh = components.build_mesh(config)
    tasks = eval_subset(components.read_split(paths, args.split), args.num_tasks, config.train.seed)
    cfg = components.episode_config(config)
    with components.open_sandbox(config) as pool:
        transcripts = oracle_trajectories(pool, tokenizer, episode_tasks(tasks), cfg)
    if not transcripts:
        raise ValueError(f"none of the {len(tasks)} {args.split} tasks has an oracle transcript within the budgets")
    roles = [token_roles(tokenizer, t) for t in transcripts]
    batch = batches.trajectory_batch(transcripts, components.data_parallel_size(mesh), 128, cfg.max_total_tokens)
    optimizer = learner.make_optimizer(stage_results.optimizer_config(config, args.stage))
    abstract = learner.abstract_train_state(arch, optimizer, mesh)
    shardings = learner.state_shardings(arch, optimizer, mesh, abstract)
    logprob_fn = learner.make_logprob_fn(arch, mesh, shardings.params)
    with stage_results.make_checkpointer(config, paths, args.stage) as ckpt:
        kept = ckpt.all_steps()
    steps = [int(s) for s in args.steps.split(",")] if args.steps else kept
    missing = sorted(set(steps) - set(kept))
    if missing:  # before any restore: say every missing step at once
        raise ValueError(f"no {args.stage} checkpoint at steps {missing} in {paths.root}; kept: {kept}")
    for step in steps:
        state, _ = stage_results.checkpointed_state(config, paths, args.stage, arch, mesh, step)
        logp = np.asarray(jax.device_get(logprob_fn(state.params, batch)))[:len(transcripts)]
        print(f"{args.stage} step {step} on {args.split}:")
        print(format_table(loss_by_role(logp, roles), len(transcripts)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
