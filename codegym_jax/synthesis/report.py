"""Counts per stage and rejection reasons, read from the stage files of an output dir."""

import json
import os

from codegym_jax.jsonl import read_jsonl
from codegym_jax.synthesis.stage_files import STAGES, stage_path


def reason_kind(reason: str) -> str:
    """The reason's kind: the text before its first colon ("syntax_error: line 3 ..." -> "syntax_error")."""
    return reason.split(":", 1)[0]


def build_report(out_dir: str, ids: list[str]) -> dict:
    wanted = set(ids)
    report = {"problems": len(ids), "stages": {}}
    for stage in STAGES:
        stage_file = stage_path(out_dir, stage)
        records = [r for r in read_jsonl(stage_file, missing_ok=True) if r["id"] in wanted]
        rejected: dict[str, int] = {}
        for record in records:
            if not record["ok"]:
                kind = reason_kind(record["reason"])
                rejected[kind] = rejected.get(kind, 0) + 1
        report["stages"][stage] = {"in": len(records), "passed": sum(r["ok"] for r in records),
                                   "rejected": dict(sorted(rejected.items())),
                                   "rejections": {r["id"]: r["reason"] for r in records if not r["ok"]}}
        # Item-level counts inside an env: failed unit tests, tasks dropped by the filters.
        for field in ("test_failures", "dropped_tasks"):
            totals: dict[str, int] = {}
            for record in records:
                for kind, count in record.get(field, {}).items():
                    totals[kind] = totals.get(kind, 0) + count
            if any(field in record for record in records):
                report["stages"][stage][field] = dict(sorted(totals.items()))
    tasks_path = os.path.join(out_dir, "tasks.jsonl")
    tasks = read_jsonl(tasks_path, missing_ok=True)
    steps = [t["oracle_steps"] for t in tasks]
    report["export"] = {"envs": len({t["env_name"] for t in tasks}), "tasks": len(tasks),
                        "mean_oracle_steps": round(sum(steps) / len(steps), 2) if steps else None}
    return report


def format_report(report: dict) -> str:
    lines = [f"problems: {report['problems']}", f"{'stage':<16}{'in':>5}{'passed':>8}  rejected by reason"]
    for stage, counts in report["stages"].items():
        reasons = ", ".join(f"{k}={v}" for k, v in counts["rejected"].items()) or "-"
        lines.append(f"{stage:<16}{counts['in']:>5}{counts['passed']:>8}  {reasons}")
        for field in ("test_failures", "dropped_tasks"):
            if counts.get(field):
                items = ", ".join(f"{k}={v}" for k, v in counts[field].items())
                lines.append(f"{'':<29}{field.replace('_', ' ')}: {items}")
    export = report["export"]
    lines.append(f"exported: {export['envs']} envs, {export['tasks']} tasks, "
                 f"mean oracle steps {export['mean_oracle_steps']}")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys
    with open(os.path.join(sys.argv[1], "report.json"), encoding="utf-8") as f:
        print(format_report(json.load(f)))
