"""The shipped sample run: the pipeline over codegym_jax/synthesis/data/problems.jsonl against the
loopback replay server, with the recorded completions in data/sample_run/recordings.json.

    python tests/synthesis_sample_run.py [--rebuild-recordings]

Recordings exist for the problems that one of our library environments implements (the env file
stands in for the generated env, its generate() supplies the unit-test inputs, its solve() is the
oracle reply); count_primes also gets a faulty first oracle candidate. Problems without a recording
are rejected at env generation (HTTP 404 from the replay server), as with an endpoint that fails."""

import argparse
import asyncio
import dataclasses
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from sandbox.pool import SandboxPool  # noqa: E402

from codegym_jax.synthesis.config import SynthesisConfig  # noqa: E402
from codegym_jax.jsonl import read_jsonl  # noqa: E402
from codegym_jax.synthesis.pipeline import run_pipeline  # noqa: E402
from codegym_jax.synthesis.report import format_report  # noqa: E402
from openai_replay_server import ReplayServer  # noqa: E402
import synthesis_recordings as rec  # noqa: E402

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "codegym_jax", "synthesis", "data")
SAMPLE = os.path.join(DATA, "sample_run")
LIBRARY_FOR_PROBLEM = {
    "connected_components": "connected_components_env.py",
    "dijkstra_distance": "dijkstra_shortest_path_env.py",
    "merge_intervals_count": "merge_intervals_env.py",
    "anagram_groups": "group_anagrams_env.py",
    "course_order_possible": "course_schedule_env.py",
    "kth_smallest": "kth_smallest_env.py",
    "gcd_of_list": "array_gcd_lcm_env.py",
    "jump_game": "jump_game_env.py",
}


def build_recordings(per_difficulty: int) -> list[dict]:
    tests = rec.count_primes_tests()
    found = rec.good_env_recordings("count_primes", rec.count_primes_variant("good"), tests,
                                    [rec.COUNT_PRIMES_SOLVE_OFF_BY_ONE, rec.COUNT_PRIMES_SOLVE])
    with SandboxPool() as pool:
        for problem_id, file_name in LIBRARY_FOR_PROBLEM.items():
            source = rec.library_source(file_name)
            found += rec.good_env_recordings(problem_id, source, rec.generated_tests(pool, source, per_difficulty),
                                             [rec.solve_method(source)])
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rebuild-recordings", action="store_true")
    args = parser.parse_args()
    config = SynthesisConfig()
    recordings_path = os.path.join(SAMPLE, "recordings.json")
    if args.rebuild_recordings or not os.path.exists(recordings_path):
        os.makedirs(SAMPLE, exist_ok=True)
        with open(recordings_path, "w", encoding="utf-8") as f:
            json.dump(build_recordings(config.tests_per_difficulty), f, indent=1)
    with open(recordings_path, encoding="utf-8") as f:
        recordings = json.load(f)
    out = tempfile.mkdtemp(prefix="synthesis_sample_")
    try:
        with ReplayServer(recordings) as server:
            report = asyncio.run(run_pipeline(read_jsonl(os.path.join(DATA, "problems.jsonl")), out,
                                              dataclasses.replace(config, base_url=server.base_url)))
    finally:
        shutil.rmtree(out)
    with open(os.path.join(SAMPLE, "report.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)
    text = format_report(report)
    with open(os.path.join(SAMPLE, "report.txt"), "w", encoding="utf-8") as f:
        f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
