"""The eval stage: every policy the run has (initial, sft, rl, sft_baseline) on every eval split.

Results go to `RunPaths.eval_result(policy, split)` (a rerun reuses them), one row per episode
to `RunPaths.eval_episodes(policy, split)`, sampled episodes to `samples/`, and the summary
table (with the ood_eval stage's BFCL scores below it) to stdout and `RunPaths.eval_summary`.
"""
from __future__ import annotations

import json
import sys

from tqdm import tqdm

from codegym_jax.bfcl_harness import score_table
from codegym_jax.evaluation import episode_records, eval_subset, evaluate
from codegym_jax.run_paths import RunPaths
from codegym_jax.samples import write_samples
from codegym_jax.train import components, stage_results
from codegym_jax.train.config import ExperimentConfig
from codegym_jax.train.stage_results import TRAINING_STAGES, write_json
from sandbox.async_sandbox import AsyncSandbox

POLICIES = ("initial",) + TRAINING_STAGES
POLICY_LABELS = {
    "initial": "before training",
    "sft": "after SFT",
    "rl": "after RL",
    "sft_baseline": "SFT continued for RL's wall time",
}


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
    return evaluate(engine, AsyncSandbox(pool), tokenizer, tasks, components.episode_config(config),
                    components.eval_sampling(config, seed=config.train.seed), ev.samples_per_task, ev.pass_k,
                    config.rollout.sampler_slots, progress=progress)


def policies_present(paths: RunPaths) -> list[str]:
    """"initial" and every training stage that has finished in this run directory."""
    return ["initial"] + [p for p in TRAINING_STAGES if stage_results.stage_done(paths, p) is not None]


def earlier_results(config: ExperimentConfig, paths: RunPaths) -> tuple[dict, list[tuple[str, str]]]:
    """(results already on disk by (policy, split), the (policy, split) pairs still to evaluate)
    for every policy the run has."""
    present = policies_present(paths)
    results: dict[tuple[str, str], dict] = {}
    todo = []
    for policy in present:
        for split in config.eval.splits:
            path = paths.eval_result(policy, split)
            if path.exists():
                results[(policy, split)] = json.loads(path.read_text())
                print(f"eval: {POLICY_LABELS[policy]} on {split}: success "
                      f"{100 * results[(policy, split)]['success']:.1f}% (evaluated earlier; reused)")
            else:
                todo.append((policy, split))
    return results, todo


def run_eval(config: ExperimentConfig, paths: RunPaths) -> dict:
    ev = config.eval
    results, todo = earlier_results(config, paths)
    if todo:
        sets = {s: eval_subset(components.read_split(paths, s), ev.num_tasks, config.train.seed)
                for s in ev.splits}
        results.update(evaluate_policies(config, paths, todo, sets))
    print(write_summary(config, paths))
    return {f"{p}/{s}": v["success"] for (p, s), v in results.items()}


def write_summary(config: ExperimentConfig, paths: RunPaths) -> str:
    """`RunPaths.eval_summary` from every result on disk: the in-domain table, and below it each
    policy's BFCL scores when the ood_eval stage has run. Returns the text."""
    ev = config.eval
    results = {(p, s): json.loads(paths.eval_result(p, s).read_text())
               for p in POLICIES for s in ev.splits if paths.eval_result(p, s).exists()}
    parts = [summary_table(results, ev.splits, ev.pass_k)] if results else []
    ood = {POLICY_LABELS[p]: json.loads(paths.ood_eval_result(p).read_text())["scores"]
           for p in POLICIES if paths.ood_eval_result(p).exists()}
    if ood:
        parts.append("Out of domain, BFCL (bfcl-eval's harness and checkers), accuracy per category:\n\n"
                     + score_table(ood))
    text = "\n\n".join(parts)
    paths.eval_dir.mkdir(parents=True, exist_ok=True)
    paths.eval_summary.write_text(text + "\n")
    return text


def evaluate_policies(config: ExperimentConfig, paths: RunPaths, todo: list[tuple[str, str]],
                      sets: dict[str, list]) -> dict[tuple[str, str], dict]:
    """Evaluates each (policy, split) of `todo` in order, loading each policy's params into one
    engine, and writes its files as it finishes."""
    ev = config.eval
    tokenizer = components.load_tokenizer(config)
    arch = components.decoder_config(config, tokenizer)
    mesh = components.build_mesh(config)

    def params_of(policy):
        if policy == "initial":
            return components.initial_params(config, arch, mesh)
        return stage_results.load_final_state(config, paths, policy, arch, mesh).params

    results = {}
    with components.open_sandbox(config) as pool, \
            components.open_engine(config, arch, params_of(todo[0][0]), paths) as engine:
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
            rows = episode_records(tasks, trajectories, ev.samples_per_task)
            paths.eval_episodes(policy, split).parent.mkdir(parents=True, exist_ok=True)
            paths.eval_episodes(policy, split).write_text("".join(json.dumps(r) + "\n" for r in rows))
            write_json(paths.eval_result(policy, split), summary)  # last: its presence marks this evaluation done
            write_samples(paths, f"eval_{policy}_{split}", 0, trajectories, config.logging.samples_per_step)
            results[(policy, split)] = summary
            print(f"eval: {POLICY_LABELS[policy]} on {split}: success {100 * summary['success']:.1f}% "
                  f"({summary['episodes']} episodes)")
    return results
