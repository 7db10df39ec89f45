"""Sandbox throughput and latency, one run, one workload, printed as a table.

    .venv/bin/python benchmarks/sandbox_bench.py [--sessions 64] [--steps 400] [--sources 8]

Rows: in-process direct calls (the ceiling, no isolation), the pool one call at a time, the pool
batched (`step_many` with one call per session), the same two over HTTP on loopback, and one
fresh Python subprocess per call (building the env and running one step: the cost floor of
stacks that spawn per call, before any replay of earlier calls). The sessions come from
`--sources` distinct env sources (the pool runs one confined worker process per source).
A second table times session starts: of a source whose worker runs, and of a new source (a new
worker: fork from the zygote, kernel confinement, loading the env code).
"""

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time

from sandbox.client import EnvClient
from sandbox.limits import SandboxLimits
from sandbox.pool import SandboxPool
from sandbox.server import EnvServer

BENCH_ENV = '''
import json


class ScanEnv:
    def __init__(self, env_str=None):
        self.func_mapping = {"Observe": 0, "Get": 1, "Max": 2, "Done": 3}
        self.values = json.loads(env_str.split("@", 1)[1])["values"]
        self.best, self.step_count, self._done, self._reward = None, 0, False, 0

    finished = property(lambda self: self._done)
    reward = property(lambda self: float(self._reward))

    @staticmethod
    def from_env_str(env_str):
        return ScanEnv(env_str)

    def step(self, action):
        self.step_count += 1
        try:
            call = json.loads(action)
            name, params = call["name"], call["parameters"]
            if name == "Observe":
                return True, json.dumps({"n": len(self.values)})
            if name == "Get":
                return True, str(self.values[params["index"] % len(self.values)])
            if name == "Max":
                self.best = max(params["a"], params["b"])
                return True, str(self.best)
            self._done, self._reward = True, int(params["answer"] == max(self.values))
            return True, f"reward={self._reward}"
        except Exception as exc:
            return True, f"Error: {exc}"
'''
ENV_STR = 'ScanEnv@{"values": [4, 8, 15, 16, 23, 42, 7, 1]}'

SUBPROCESS_STEP = """
import sys, json
namespace = {"__name__": "env"}
exec(sys.argv[1], namespace)
env = namespace["ScanEnv"].from_env_str(sys.argv[2])
print(env.step(sys.argv[3])[1])
"""


def action(k: int) -> dict:
    return {"name": "Get", "parameters": {"index": k}} if k % 2 else {"name": "Max", "parameters": {"a": k, "b": 3}}


def summarize(name, steps, elapsed, latencies):
    latencies = sorted(latencies)
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    return {"mode": name, "steps": steps, "steps_per_s": steps / elapsed,
            "p50_ms": 1e3 * statistics.median(latencies), "p99_ms": 1e3 * p99}


def run_single(name, step, sids, steps):
    latencies = []
    start = time.perf_counter()
    for k in range(steps):
        for sid in sids:
            t = time.perf_counter()
            step(sid, action(k))
            latencies.append(time.perf_counter() - t)
    return summarize(name, steps * len(sids), time.perf_counter() - start, latencies)


def run_batched(name, step_many, sids, steps):
    latencies = []
    start = time.perf_counter()
    for k in range(steps):
        t = time.perf_counter()
        step_many([(sid, action(k)) for sid in sids])
        latencies.append(time.perf_counter() - t)
    return summarize(f"{name} (batch {len(sids)})", steps * len(sids), time.perf_counter() - start, latencies)


def bench_source(index: int) -> str:
    """BENCH_ENV made distinct per index (a comment), so each index is its own tenant."""
    return f"# bench source {index}\n{BENCH_ENV}"


def session_starts(pool, count: int, new_sources: bool, offset: int) -> dict:
    latencies = []
    for k in range(count):
        source = bench_source(offset + k) if new_sources else bench_source(0)
        t = time.perf_counter()
        sid = pool.open_session(source, ENV_STR)
        latencies.append(time.perf_counter() - t)
        pool.close_session(sid)
    latencies.sort()
    return {"mode": "new source (new worker)" if new_sources else "source with a running worker",
            "starts": count, "p50_ms": 1e3 * statistics.median(latencies),
            "p99_ms": 1e3 * latencies[min(count - 1, int(0.99 * count))], "max_ms": 1e3 * latencies[-1]}


def in_process(sessions, steps):
    namespace = {"__name__": "bench_env"}
    exec(BENCH_ENV, namespace)
    envs = {i: namespace["ScanEnv"].from_env_str(ENV_STR) for i in range(sessions)}
    return run_single("in-process direct calls", lambda sid, a: envs[sid].step(json.dumps(a)),
                      list(envs), steps)


def subprocess_per_call(calls):
    latencies = []
    start = time.perf_counter()
    for k in range(calls):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", SUBPROCESS_STEP, BENCH_ENV, ENV_STR, json.dumps(action(k))],
                       check=True, capture_output=True)
        latencies.append(time.perf_counter() - t)
    return summarize("subprocess per call", calls, time.perf_counter() - start, latencies)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=64)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--sources", type=int, default=8)
    parser.add_argument("--starts", type=int, default=200)
    parser.add_argument("--subprocess-calls", type=int, default=40)
    args = parser.parse_args()
    limits = SandboxLimits(max_steps=args.steps + 10)
    rows = [in_process(args.sessions, args.steps)]
    with SandboxPool(limits=limits) as pool:
        sids = [pool.open_session(bench_source(i % args.sources), ENV_STR) for i in range(args.sessions)]
        run_single("warm-up", pool.step, sids, 2)
        rows.append(run_single("pool, one call at a time", pool.step, sids, args.steps // 2))
        rows.append(run_batched("pool step_many", pool.step_many, sids, args.steps // 2))
        server = EnvServer(pool, max_inflight=256)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        client = EnvClient(server.url)
        http_sids = [client.open_session(bench_source(i % args.sources), ENV_STR) for i in range(args.sessions)]
        rows.append(run_single("pool over HTTP, one call at a time", client.step, http_sids, args.steps // 2))
        rows.append(run_batched("pool over HTTP step_many", client.step_many, http_sids, args.steps // 2))
        server.shutdown()
        server.server_close()
        starts = [session_starts(pool, args.starts, False, 0),
                  session_starts(pool, args.starts, True, 1000)]
    rows.append(subprocess_per_call(args.subprocess_calls))
    ceiling = rows[0]["steps_per_s"]
    floor = rows[-1]["steps_per_s"]
    print(f"\nsandbox benchmark: {args.sessions} sessions of {args.sources} env sources "
          f"(one worker process each)\n")
    print("| mode | steps | steps/s | vs in-process | vs subprocess | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['mode']} | {row['steps']} | {row['steps_per_s']:,.0f} | "
              f"{row['steps_per_s'] / ceiling:.3f} | {row['steps_per_s'] / floor:,.0f}x | "
              f"{row['p50_ms']:.3f} | {row['p99_ms']:.3f} |")
    print("\n(p50/p99: latency of one call; for batch rows, of one step_many call)")
    print("\n| session start | starts | p50 ms | p99 ms | max ms |")
    print("|---|---:|---:|---:|---:|")
    for row in starts:
        print(f"| {row['mode']} | {row['starts']} | {row['p50_ms']:.2f} | {row['p99_ms']:.2f} | {row['max_ms']:.2f} |")


if __name__ == "__main__":
    main()
