"""Run every environment's oracle inside the sandbox and print a table of the results.

    python -m codegym_jax.envs.validate [--env-dir DIR] [--instances N]
        [--difficulties easy,medium,hard] [--records FILE] [--json OUT] [--markdown]

Our library files carry `generate(seed, difficulty)`: each gets N generated instances per
difficulty (seeds first_seed .. first_seed + N - 1). Upstream CodeGym files have no generator:
their instances are the env strings of an upstream training-record JSONL (`--records`), reported
under the difficulty "records", with the records' `solve_fc_round` checked against the oracle's
step count. Env code only ever runs in the sandbox; here it is only parsed.

An instance passes when the oracle finishes without error and with reward 1 and the reference
answer has at most 100 characters; each difficulty's first seed is also generated twice and must
give the same env string. The exit status is 1 when any env has a failed instance or could not be
validated at all.
"""

import argparse
import ast
import dataclasses
import json
import os
import statistics
import sys

from codegym_jax.envs.library import LIBRARY_DIR
from codegym_jax.envs.released import read_upstream_records
from codegym_jax.envs.tool_docs import extract_env_spec
from sandbox.limits import SandboxLimits
from sandbox.pool import SandboxPool
from sandbox.results import SandboxError

DIFFICULTIES = ("easy", "medium", "hard")
RECORDS = "records"  # the difficulty label of instances taken from upstream records
STEP_FILTER = (10, 256)  # the paper's task filter on oracle steps
MAX_ANSWER_CHARS = 100  # the paper keeps answers short enough to check exactly
PAPER_TOOLS, PAPER_ORACLE_STEPS = 6.52, 44.07
BASE_TOOLS = ("Observe", "Done")


@dataclasses.dataclass(frozen=True)
class Outcome:
    """One oracle run on one instance."""

    difficulty: str
    env_str: str
    passed: bool
    steps: int
    reason: str | None  # why it failed (or, for records, a step-count mismatch note)


@dataclasses.dataclass
class EnvReport:
    env_file: str
    class_name: str | None
    tools: int | None  # tools besides Observe and Done
    outcomes: list = dataclasses.field(default_factory=list)
    problem: str | None = None  # the env could not be validated at all

    def of(self, difficulty):
        return [o for o in self.outcomes if o.difficulty == difficulty]

    def pass_rate(self, difficulty=None):
        runs = self.outcomes if difficulty is None else self.of(difficulty)
        return sum(o.passed for o in runs) / len(runs) if runs else None

    def mean_steps(self, difficulty=None):
        """Mean oracle steps over passing runs (a failed oracle's length says nothing)."""
        runs = [o for o in (self.outcomes if difficulty is None else self.of(difficulty)) if o.passed]
        return statistics.mean(o.steps for o in runs) if runs else None

    def in_filter_rate(self):
        low, high = STEP_FILTER
        runs = [o for o in self.outcomes if o.passed]
        return sum(low <= o.steps <= high for o in runs) / len(runs) if runs else None

    @property
    def ok(self):
        return self.problem is None and bool(self.outcomes) and all(o.passed for o in self.outcomes)

    def reasons(self):
        """Distinct failure reasons and notes with their counts, most frequent first."""
        counts = {}
        if self.problem:
            counts[self.problem] = 1
        for outcome in self.outcomes:
            if outcome.reason:
                counts[outcome.reason] = counts.get(outcome.reason, 0) + 1
        return sorted(counts.items(), key=lambda item: -item[1])


def env_files(env_dir):
    """The env sources of a directory: every .py file except package files, sorted.

    Unlike `library_env_files`, files that do not parse are kept, so they are reported, not fatal.
    """
    if not os.path.isdir(env_dir):
        raise ValueError(f"env dir {env_dir!r} is not a directory")
    names = sorted(n for n in os.listdir(env_dir) if n.endswith(".py") and not n.startswith("__"))
    return [os.path.join(env_dir, n) for n in names]


def has_generator(source):
    """Whether the module defines a top-level generate() (read statically, never imported)."""
    return any(isinstance(node, ast.FunctionDef) and node.name == "generate"
               for node in ast.parse(source).body)


def _short(text, limit=160):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def run_instance(pool, source, difficulty, env_str, recorded_steps=None):
    result = pool.run_oracle(source, env_str)
    if result.error:
        return Outcome(difficulty, env_str, False, result.steps, f"oracle error: {_short(result.error)}")
    if result.reward != 1:
        last = result.observations[-1] if result.observations else "(no observation)"
        return Outcome(difficulty, env_str, False, result.steps,
                       f"reward {result.reward:g}; last observation: {_short(last)}")
    try:
        answer_chars = len(str(pool.get_ref_answer(source, env_str)))
    except SandboxError as exc:
        return Outcome(difficulty, env_str, False, result.steps, f"get_ref_answer error: {_short(exc)}")
    if answer_chars > MAX_ANSWER_CHARS:
        return Outcome(difficulty, env_str, False, result.steps,
                       f"reference answer has {answer_chars} chars (limit {MAX_ANSWER_CHARS})")
    reason = None
    if recorded_steps is not None and recorded_steps != result.steps:
        reason = f"note: oracle took {result.steps} steps, record says solve_fc_round={recorded_steps}"
    return Outcome(difficulty, env_str, True, result.steps, reason)


def generate_env_str(pool, source, class_name, seed, difficulty, check_repeat):
    """(env_str, None) from the env's generate(), or (None, why it is unusable)."""
    try:
        env_str = pool.call_function(source, "generate", seed, difficulty)
        if check_repeat and pool.call_function(source, "generate", seed, difficulty) != env_str:
            return None, f"generate({seed}, {difficulty!r}) differs between calls"
    except SandboxError as exc:
        return None, f"generate error: {_short(exc)}"
    if not isinstance(env_str, str) or not env_str.startswith(f"{class_name}@"):
        return None, f"generate returned {_short(repr(env_str), 60)}, not '{class_name}@{{...}}'"
    return env_str, None


def validate_generated(pool, source, report, instances, difficulties, first_seed):
    for difficulty in difficulties:
        for seed in range(first_seed, first_seed + instances):
            env_str, problem = generate_env_str(pool, source, report.class_name, seed, difficulty,
                                                check_repeat=seed == first_seed)
            if problem:
                report.outcomes.append(Outcome(difficulty, env_str or "", False, 0, problem))
            else:
                report.outcomes.append(run_instance(pool, source, difficulty, env_str))


def validate_dir(pool, env_dir, instances=20, difficulties=DIFFICULTIES, records=None, first_seed=0):
    """One EnvReport per env file of `env_dir`, in file order."""
    tasks_by_file = {}
    if records is not None:
        for task in read_upstream_records(records, env_dir):
            tasks_by_file.setdefault(os.path.abspath(task.env_file), []).append(task)
    reports = []
    for path in env_files(env_dir):
        with open(path, encoding="utf-8") as f:
            source = f.read()
        report = EnvReport(env_file=path, class_name=None, tools=None)
        reports.append(report)
        try:
            spec = extract_env_spec(source)
        except (SyntaxError, ValueError) as exc:
            report.problem = f"tool docs cannot be extracted: {_short(exc)}"
            continue
        report.class_name = spec.class_name
        report.tools = sum(tool.name not in BASE_TOOLS for tool in spec.tools)
        tasks = tasks_by_file.get(os.path.abspath(path), [])
        if tasks:
            for task in tasks:
                report.outcomes.append(run_instance(pool, source, RECORDS, task.env_str, task.oracle_steps))
        elif has_generator(source):
            validate_generated(pool, source, report, instances, difficulties, first_seed)
        else:
            report.problem = "no generate() and no --records entries for this env"
    return reports


def _cell(value, fmt):
    return "-" if value is None else format(value, fmt)


def format_table(reports, difficulties):
    header = ["env", "tools"]
    for difficulty in difficulties:
        header += [f"pass {difficulty}", f"steps {difficulty}"]
    header += [f"in {STEP_FILTER[0]}..{STEP_FILTER[1]}", "failures"]
    rows = [header]
    for report in reports:
        row = [report.class_name or os.path.basename(report.env_file), _cell(report.tools, "d")]
        for difficulty in difficulties:
            row += [_cell(report.pass_rate(difficulty), ".0%"), _cell(report.mean_steps(difficulty), ".1f")]
        reasons = " | ".join(f"{n}x {r}" if n > 1 else r for r, n in report.reasons()[:3])
        row += [_cell(report.in_filter_rate(), ".0%"), reasons or "-"]
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = []
    for index, row in enumerate(rows):
        cells = [cell.ljust(width) for cell, width in zip(row, widths)] + [row[-1]]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths) + "  --------")
    return "\n".join(lines)


def summarize(reports, difficulties):
    """Totals over all envs: counts, mean tools and mean oracle steps per difficulty."""
    tooled = [r.tools for r in reports if r.tools is not None]
    runs = [o for r in reports for o in r.outcomes]
    passed = [o for o in runs if o.passed]
    summary = {
        "envs": len(reports),
        "envs_ok": sum(r.ok for r in reports),
        "mean_tools": statistics.mean(tooled) if tooled else None,
        "instances": len(runs),
        "pass_rate": len(passed) / len(runs) if runs else None,
        "mean_oracle_steps": statistics.mean(o.steps for o in passed) if passed else None,
        "mean_oracle_steps_by_difficulty": {},
    }
    for difficulty in difficulties:
        steps = [o.steps for o in passed if o.difficulty == difficulty]
        summary["mean_oracle_steps_by_difficulty"][difficulty] = statistics.mean(steps) if steps else None
    return summary


def format_summary(summary):
    by_difficulty = ", ".join(f"{d} {_cell(s, '.1f')}"
                              for d, s in summary["mean_oracle_steps_by_difficulty"].items())
    return (f"{summary['envs']} envs ({summary['envs_ok']} with every instance passing), "
            f"{summary['instances']} instances, pass rate {_cell(summary['pass_rate'], '.1%')}\n"
            f"mean tools per env {_cell(summary['mean_tools'], '.2f')} (paper {PAPER_TOOLS}); "
            f"mean oracle steps {_cell(summary['mean_oracle_steps'], '.2f')} (paper {PAPER_ORACLE_STEPS}); "
            f"by difficulty: {by_difficulty}")


def format_markdown(reports, summary, difficulties):
    """The README table: env count, tools per env and mean oracle steps, next to the paper's."""
    tools = [r.tools for r in reports if r.tools is not None]
    # Tools are counted besides Observe and Done; the paper does not say which way it counts, so the
    # count with both included is shown too.
    tool_cell = (f"{summary['mean_tools']:.2f} ({min(tools)}-{max(tools)}); "
                 f"{summary['mean_tools'] + len(BASE_TOOLS):.2f} with Observe/Done" if tools else "-")
    by_difficulty = summary["mean_oracle_steps_by_difficulty"]
    header = ["", "envs", "tools per env (mean, range)"] + [f"oracle steps {d}" for d in difficulties]
    header.append("oracle steps, all")
    ours = ["this library", str(summary["envs"]), tool_cell]
    ours += [_cell(by_difficulty[d], ".1f") for d in difficulties]
    ours.append(_cell(summary["mean_oracle_steps"], ".2f"))
    paper = ["CodeGym paper", "13,116", f"{PAPER_TOOLS}"] + ["-"] * len(difficulties) + [f"{PAPER_ORACLE_STEPS}"]
    rows = [header, ["---"] * len(header), ours, paper]
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def _report_json(report):
    return {"env_file": report.env_file, "class_name": report.class_name, "tools": report.tools,
            "problem": report.problem, "ok": report.ok,
            "outcomes": [dataclasses.asdict(o) for o in report.outcomes]}


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m codegym_jax.envs.validate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env-dir", default=str(LIBRARY_DIR), help="directory of env files (default: the library)")
    parser.add_argument("--instances", type=int, default=20, help="generated instances per difficulty")
    parser.add_argument("--difficulties", default=",".join(DIFFICULTIES),
                        help="comma-separated subset of easy,medium,hard")
    parser.add_argument("--records", default=None,
                        help="upstream training-record JSONL giving the instances of files without generate()")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="also write the full results to this JSON file")
    parser.add_argument("--markdown", action="store_true",
                        help="also print the summary as a Markdown table (the README's)")
    args = parser.parse_args(argv)
    args.difficulties = tuple(d.strip() for d in args.difficulties.split(",") if d.strip())
    unknown = [d for d in args.difficulties if d not in DIFFICULTIES]
    if unknown or not args.difficulties:
        parser.error(f"--difficulties must be a subset of {','.join(DIFFICULTIES)}, got {unknown or 'nothing'}")
    if args.instances < 1:
        parser.error(f"--instances must be >= 1, got {args.instances}")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    with SandboxPool(limits=SandboxLimits()) as pool:
        reports = validate_dir(pool, args.env_dir, args.instances, args.difficulties,
                               records=args.records, first_seed=args.first_seed)
    columns = args.difficulties
    if args.records is not None:
        columns = (RECORDS,) + columns
    columns = tuple(d for d in columns if any(r.of(d) for r in reports)) or args.difficulties
    print(format_table(reports, columns))
    print()
    summary = summarize(reports, columns)
    print(format_summary(summary))
    if args.markdown:
        print()
        print(format_markdown(reports, summary, columns))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"summary": summary, "envs": [_report_json(r) for r in reports]}, f, indent=1)
    return 0 if reports and all(r.ok for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
