"""The data stage on released CodeGym data at the release's scale, one run, printed as a table.

    .venv/bin/python benchmarks/data_stage_bench.py [--copies 3334] [--workers 2]

The example folder (`experiments/released_example/`: 3 env files, 24 records) is copied under
new code_ids (`--copies` 3334: 10,002 environments, 80,016 records), as JSON Lines and as
Parquet. Rows, each in a fresh process so its peak memory is its own:
- reference: the same oracles run in-process, without the sandbox (the ceiling: no isolation,
  no splits, nothing written);
- data stage (JSONL / Parquet): `build_released_tasks` with a sandbox pool of `--workers`, from
  reading the records to the written split files.
Peak memory is the process's maximum resident set, and the largest sandbox worker's.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

from codegym_jax.envs.build_released import ReleasedOptions, build_released_tasks
from codegym_jax.envs.released import iter_records, write_released_copies
from sandbox import gymnasium_stub
from sandbox.pool import SandboxPool

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "experiments" / "released_example"


def _peak_mib(who) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def _worker_peak_mib(pool: SandboxPool) -> float:
    """The largest worker's peak resident set (VmHWM; workers are the forkserver's children)."""
    peaks = []
    for info in pool.worker_info():
        status = pathlib.Path(f"/proc/{info['pid']}/status").read_text()
        peaks.append(next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")))
    return max(peaks) / 1024


def reference(env_dir: pathlib.Path, records: pathlib.Path) -> dict:
    """Each record's oracle run in this process (env code executed unsandboxed: trusted here)."""
    sys.modules.setdefault("gymnasium", gymnasium_stub.make_module())  # released files subclass gymnasium.Env
    classes: dict[str, type] = {}
    solved = total = 0
    start = time.perf_counter()
    for record in iter_records([str(records)], env_dir):
        if record.env_file not in classes:
            namespace: dict = {}
            exec(compile(pathlib.Path(record.env_file).read_text(), record.env_file, "exec"), namespace)
            classes[record.env_file] = namespace[record.env_name]
        env = classes[record.env_file].from_env_str(record.env_str)
        env.solve()
        solved += env.reward == 1
        total += 1
    return {"records": total, "solved": solved, "seconds": time.perf_counter() - start}


def data_stage(env_dir: pathlib.Path, records: pathlib.Path, workers: int, out: pathlib.Path) -> dict:
    start = time.perf_counter()
    with SandboxPool() as pool:
        build = build_released_tasks(pool, [str(records)], env_dir, ReleasedOptions(), workers, out,
                                     log=lambda msg: None)
        worker_peak = _worker_peak_mib(pool)
    return {"records": build.stats["records"], "solved": sum(build.counts.values()),
            "seconds": time.perf_counter() - start, "envs": build.stats["envs"],
            "worker_peak_mib": worker_peak}


def run_row(row: str, folder: pathlib.Path, workers: int) -> dict:
    fmt = "parquet" if row == "parquet" else "jsonl"
    env_dir, records = folder / "envs", folder / f"records.{fmt}"
    result = reference(env_dir, records) if row == "reference" else data_stage(
        env_dir, records, workers, folder / f"tasks_{row}")
    return dict(result, peak_mib=_peak_mib(resource.RUSAGE_SELF))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=3334)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--row", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.row:
        print(json.dumps(run_row(args.row, pathlib.Path(args.folder), args.workers)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = pathlib.Path(tmp)
        write_released_copies(EXAMPLE, folder, args.copies, "jsonl")
        write_released_copies(EXAMPLE, folder, args.copies, "parquet")
        rows = {}
        for row in ("reference", "jsonl", "parquet"):
            out = subprocess.run([sys.executable, __file__, "--row", row, "--folder", tmp,
                                  "--workers", str(args.workers)], capture_output=True, text=True)
            if out.returncode:
                sys.exit(f"row {row} failed:\n{out.stderr[-3000:]}")
            rows[row] = json.loads(out.stdout.splitlines()[-1])
    envs = rows["jsonl"]["envs"]
    print(f"{envs:,} environments, {rows['jsonl']['records']:,} records, {args.workers} sandbox workers\n")
    print("| path | records | oracle reward 1 | s | records/s | peak RSS (MiB) | largest worker (MiB) |")
    print("|---|---|---|---|---|---|---|")
    names = {"reference": "in-process oracles (reference)", "jsonl": "data stage, JSONL",
             "parquet": "data stage, Parquet"}
    for row, r in rows.items():
        worker = f"{r['worker_peak_mib']:.0f}" if "worker_peak_mib" in r else "-"
        print(f"| {names[row]} | {r['records']:,} | {r['solved']:,} | {r['seconds']:.1f} | "
              f"{r['records'] / r['seconds']:,.0f} | {r['peak_mib']:.0f} | {worker} |")


if __name__ == "__main__":
    main()
