"""Why a policy's longest-common-prefix episodes fail, counted from an eval's episode records.

`LongestCommonPrefixEnv` episodes end by copying the prefix buffer (the reply of `GetPrefix` or
`ExtendPrefix`) into `Done(answer)`; `LongestCommonPrefixRoutesEnv` (`tiny_cpu_routes.py`'s) also
lets the policy read whole strings and fold them with `CommonPrefixOfTwo`, whose last reply is
the prefix, or submit a prefix it computed from the strings it read; `LongestCommonPrefixShortcutEnv`
(the README default's) has the fold and an oracle that sometimes answers before reading. For
every policy the eval stage recorded (`eval/<policy>_<split>_episodes.jsonl`), this prints:

- failed episodes by kind: no `Done` (by termination); the last observation holds the right
  prefix and the answer differs from it (a wrong last copy); the answer is the last
  observation and that is not the prefix (a wrong buffer submitted); anything else;
- success by answer: whether the right prefix holds a multi-letter token of the run's tokenizer
  (`ce`), or tokenizes into single letters (`b` `c`);
- tasks by how many of their samples were solved;
- success by the procedure the policy followed: a character scan (`CharAt`, no
  `CommonPrefixOfTwo`), a fold (`CommonPrefixOfTwo`, no `CharAt`), reading whole strings and
  answering (`ReadString` alone), a mix of scan and fold, or none of these tools (answered unseen).

    python experiments/research/lcp_failures.py runs/tiny_cpu --split val_seen

The reference prefix is recomputed from each episode's instance, independently of the
environment's own grader.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import pathlib
import sys
from typing import Iterable

if __package__ in (None, ""):
    # Run as a script: make the repository root importable without an install.
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))

from codegym_jax.jsonl import read_jsonl  # noqa: E402
from codegym_jax.rollout.tool_calls import parse_tool_call  # noqa: E402

ENV_NAMES = ("LongestCommonPrefixEnv", "LongestCommonPrefixRoutesEnv", "LongestCommonPrefixShortcutEnv")
PROCEDURE_TOOLS = ("CharAt", "CommonPrefixOfTwo", "ReadString")
PROCEDURES = ("scan", "fold", "read", "mixed", "unseen")
SOLVED = "solved"
WRONG_COPY = "wrong last copy (right last observation)"
WRONG_BUFFER = "wrong buffer submitted"
OTHER_ANSWER = "other wrong answer"
ANSWER_KINDS = (SOLVED, WRONG_COPY, WRONG_BUFFER, OTHER_ANSWER)


def reference_prefix(env_str: str) -> str:
    """The longest common prefix of the instance's strings."""
    name, sep, options = env_str.partition("@")
    if name not in ENV_NAMES or not sep:
        raise ValueError(f"not an instance of {' or '.join(ENV_NAMES)}: {env_str[:80]!r}")
    return os.path.commonprefix([str(s) for s in json.loads(options)["strings"]])


def submitted_answer(last_action: str, tool_format: str) -> str | None:
    """The `answer` of a `Done` call, or None when the action is not one."""
    call = parse_tool_call(last_action, tool_format, ["Done"])
    if call.action is None or call.action["name"] != "Done":
        return None
    answer = call.action["parameters"].get("answer")
    return answer if isinstance(answer, str) else None


def procedure(record: dict, tool_format: str) -> str:
    """Which of PROCEDURES an episode followed, from the tools its actions called."""
    if "actions" not in record:
        raise ValueError(f"task {record.get('task')} sample {record.get('sample')}: the record has no "
                         f"'actions' (written by an older eval); rerun the eval stage")
    names = set()
    for action in record["actions"]:
        call = parse_tool_call(action, tool_format, list(PROCEDURE_TOOLS))
        if call.action is not None:
            names.add(call.action["name"])
    scan, fold = "CharAt" in names, "CommonPrefixOfTwo" in names
    if scan or fold:
        return "mixed" if scan and fold else "scan" if scan else "fold"
    return "read" if "ReadString" in names else "unseen"


def classify(record: dict, tool_format: str) -> str:
    """One episode's kind: SOLVED, a failure kind, or `no Done: <termination>`."""
    if record["termination"] != "done":
        return f"no Done: {record['termination']}"
    reference = reference_prefix(record["env_str"])
    answer = submitted_answer(record["last_action"], tool_format)
    if answer == reference:
        return SOLVED
    try:
        observed = json.loads(record["last_observation"])
    except (json.JSONDecodeError, TypeError):
        observed = None
    if observed == reference:
        return WRONG_COPY
    if answer is not None and answer == observed:
        return WRONG_BUFFER
    return OTHER_ANSWER


def has_multi_letter_token(tokenizer, text: str) -> bool:
    return any(len(tokenizer.decode([i])) > 1 for i in tokenizer.encode(text, add_special_tokens=False))


def failure_report(records: Iterable[dict], tokenizer, tool_format: str) -> dict:
    """Counts for one policy's episodes: by kind, by answer tokenization, tasks by solved samples."""
    records = [r for r in records if r["env_name"] in ENV_NAMES]
    if not records:
        raise ValueError(f"no {' or '.join(ENV_NAMES)} episodes in the records")
    kinds = collections.Counter()
    wrong_copy_multi = 0
    by_answer = {True: [0, 0], False: [0, 0]}  # multi-letter -> [solved, episodes]
    by_procedure = {name: [0, 0] for name in PROCEDURES}  # -> [solved, episodes]
    solved_per_task: dict[int, list[bool]] = collections.defaultdict(list)
    for r in records:
        kind = classify(r, tool_format)
        if kind == SOLVED and r["reward"] <= 0:
            raise ValueError(f"task {r['task']} sample {r['sample']}: the answer is the common prefix but the "
                             f"reward is {r['reward']}; the records and the environment disagree")
        multi = has_multi_letter_token(tokenizer, reference_prefix(r["env_str"]))
        kinds[kind] += 1
        wrong_copy_multi += kind == WRONG_COPY and multi
        by_answer[multi][0] += kind == SOLVED
        by_answer[multi][1] += 1
        solved_per_task[r["task"]].append(kind == SOLVED)
        how = procedure(r, tool_format)
        by_procedure[how][0] += kind == SOLVED
        by_procedure[how][1] += 1
    samples = {len(v) for v in solved_per_task.values()}
    return {
        "episodes": len(records), "kinds": dict(kinds), "wrong_copy_multi_letter": wrong_copy_multi,
        "single_letter": tuple(by_answer[False]), "multi_letter": tuple(by_answer[True]),
        "tasks_never": sum(not any(v) for v in solved_per_task.values()),
        "tasks_sometimes": sum(any(v) and not all(v) for v in solved_per_task.values()),
        "tasks_always": sum(all(v) for v in solved_per_task.values()),
        "samples_per_task": max(samples),
        "procedures": {name: tuple(v) for name, v in by_procedure.items()},
    }


def _share(solved: int, episodes: int) -> str:
    return f"{100 * solved / episodes:.1f}% of {episodes}" if episodes else "-"


def format_tables(reports: dict[str, dict]) -> str:
    """Three markdown tables, one row per policy label."""
    other = sorted({k for r in reports.values() for k in r["kinds"] if k not in ANSWER_KINDS})
    kinds = list(ANSWER_KINDS[1:]) + other
    lines = ["| policy | episodes | solved | " + " | ".join(kinds) + " |", "|---|---|---|" + "---|" * len(kinds)]
    for label, r in reports.items():
        cells = [label, str(r["episodes"]), str(r["kinds"].get(SOLVED, 0))]
        cells += [str(r["kinds"].get(k, 0)) + (f" ({r['wrong_copy_multi_letter']} multi-letter)"
                                               if k == WRONG_COPY else "") for k in kinds]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "| policy | success, single-letter answers | success, multi-letter answers | "
              "tasks never / sometimes / always solved |", "|---|---|---|---|"]
    for label, r in reports.items():
        lines.append(f"| {label} | {_share(*r['single_letter'])} | {_share(*r['multi_letter'])} | "
                     f"{r['tasks_never']} / {r['tasks_sometimes']} / {r['tasks_always']} "
                     f"(of {r['samples_per_task']} samples) |")
    lines += ["", "| policy | " + " | ".join(f"success, {name}" for name in PROCEDURES) + " |",
              "|---|" + "---|" * len(PROCEDURES)]
    for label, r in reports.items():
        lines.append(f"| {label} | " + " | ".join(_share(*r["procedures"][name]) for name in PROCEDURES) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run_dir", help="a run directory whose eval stage has run (holds config.json and eval/)")
    p.add_argument("--split", default="val_seen", choices=("train", "val_seen"))
    args = p.parse_args(argv)

    from codegym_jax.train import components
    from codegym_jax.train.config_io import load_run
    from codegym_jax.train.eval_stage import POLICIES, POLICY_LABELS

    config, paths = load_run(args.run_dir)
    tokenizer = components.load_tokenizer(config)
    files = {policy: paths.eval_episodes(policy, args.split) for policy in POLICIES}
    found = {policy: path for policy, path in files.items() if path.is_file()}
    if not found:
        raise FileNotFoundError(f"no eval/<policy>_{args.split}_episodes.jsonl in {paths.root}; run its eval stage first")
    reports = {POLICY_LABELS[policy]: failure_report(read_jsonl(path), tokenizer, config.rollout.tool_format)
               for policy, path in found.items()}
    print(format_tables(reports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
