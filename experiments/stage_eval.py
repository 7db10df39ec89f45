"""The eval stage: every policy the run has (initial, sft, rl, sft_baseline) on every eval split.

Results go to `<run dir>/eval/<policy>_<split>.json` (a rerun reuses them), one row per episode
to `eval/<policy>_<split>_episodes.jsonl`, sampled episodes to `samples/`, and the summary table
to stdout and `eval/summary.md`.
"""
from __future__ import annotations

import json
import pathlib
import sys

from tqdm import tqdm

from codegym_jax.evaluation import episode_records, eval_subset, evaluate
from codegym_jax.samples import write_samples
from experiments import policies, runtime
from experiments.config import ExperimentConfig
from sandbox.pool import AsyncSandbox

POLICIES = ("initial",) + policies.TRAINING_STAGES
POLICY_LABELS = {
    "initial": "before training",
    "sft": "after SFT",
    "rl": "after RL",
    "sft_baseline": "SFT continued for RL's wall time",
}


def result_path(out_dir: pathlib.Path, policy: str, split: str) -> pathlib.Path:
    return out_dir / "eval" / f"{policy}_{split}.json"


def episodes_path(out_dir: pathlib.Path, policy: str, split: str) -> pathlib.Path:
    return out_dir / "eval" / f"{policy}_{split}_episodes.jsonl"


def summary_table(results: dict[tuple[str, str], dict], splits, pass_k) -> str:
    header = ["policy"] + [f"{s} success" for s in splits] + [f"{s} pass@{k}" for s in splits for k in pass_k
                                                               if k > 1]
    header += [f"{s} tool calls (oracle)" for s in splits]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for policy in POLICIES:
        if not any((policy, s) in results for s in splits):
            continue
        cells = [POLICY_LABELS[policy]]
        cells += [f"{100 * results[(policy, s)]['success']:.1f}%" if (policy, s) in results else "-" for s in splits]
        cells += [f"{100 * results[(policy, s)].get(f'pass@{k}', float('nan')):.1f}%" if (policy, s) in results
                  else "-" for s in splits for k in pass_k if k > 1]
        cells += [f"{results[(policy, s)]['tool_calls_mean']:.1f} ({results[(policy, s)]['oracle_steps_mean']:.1f})"
                  if (policy, s) in results else "-" for s in splits]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def evaluate_tasks(config: ExperimentConfig, engine, pool, tokenizer, tasks, progress=None):
    """(summary, trajectories) of the engine's current policy on `tasks` with the eval settings."""
    ev = config.eval
    return evaluate(engine, AsyncSandbox(pool), tokenizer, tasks, runtime.episode_config(config),
                    runtime.eval_sampling(config, seed=config.train.seed), ev.samples_per_task, ev.pass_k,
                    config.rollout.sampler_slots, progress=progress)


def run_eval(config: ExperimentConfig, out_dir: pathlib.Path) -> dict:
    ev = config.eval
    present = ["initial"] + [p for p in policies.TRAINING_STAGES if policies.stage_done(out_dir, p) is not None]
    sets = {s: eval_subset(runtime.read_split(config, out_dir, s), ev.num_tasks, config.train.seed)
            for s in ev.splits}
    results: dict[tuple[str, str], dict] = {}
    todo = []
    for policy in present:
        for split in ev.splits:
            path = result_path(out_dir, policy, split)
            if path.exists():
                results[(policy, split)] = json.loads(path.read_text())
                print(f"eval: {POLICY_LABELS[policy]} on {split}: success "
                      f"{100 * results[(policy, split)]['success']:.1f}% (evaluated earlier; reused)")
            else:
                todo.append((policy, split))
    if todo:
        tokenizer = runtime.load_tokenizer(config)
        arch = runtime.arch_config(config, tokenizer)
        mesh = runtime.build_mesh(config)

        def params_of(policy):
            if policy == "initial":
                return runtime.initial_params(config, arch, mesh)
            return policies.load_final_state(config, out_dir, policy, arch, mesh).params

        with runtime.open_sandbox(config) as pool, \
                runtime.open_engine(config, arch, params_of(todo[0][0]), out_dir) as engine:
            loaded = todo[0][0]
            for version, (policy, split) in enumerate(todo):
                if policy != loaded:
                    engine.update_weights(params_of(policy), version)
                    loaded = policy
                tasks = sets[split]
                bar = tqdm(total=len(tasks) * ev.samples_per_task, desc=f"eval {policy} on {split}",
                           unit="episode", file=sys.stderr, disable=not config.logging.progress_bars,
                           dynamic_ncols=True)
                summary, trajectories = evaluate_tasks(config, engine, pool, tokenizer, tasks,
                                                       progress=lambda _: bar.update(1))
                bar.close()
                path = result_path(out_dir, policy, split)
                path.parent.mkdir(parents=True, exist_ok=True)
                rows = episode_records(tasks, trajectories, ev.samples_per_task)
                episodes_path(out_dir, policy, split).write_text("".join(json.dumps(r) + "\n" for r in rows))
                policies.write_json(path, summary)  # last: its presence marks this evaluation done
                write_samples(out_dir, f"eval_{policy}_{split}", 0, trajectories, config.logging.samples_per_step)
                results[(policy, split)] = summary
                print(f"eval: {POLICY_LABELS[policy]} on {split}: success {100 * summary['success']:.1f}% "
                      f"({summary['episodes']} episodes)")
    table = summary_table(results, ev.splits, ev.pass_k)
    (out_dir / "eval").mkdir(parents=True, exist_ok=True)
    (out_dir / "eval" / "summary.md").write_text(table + "\n")
    print(table)
    return {f"{p}/{s}": v["success"] for (p, s), v in results.items()}
