"""Task files from released CodeGym data, streamed: two passes over the record files.

Pass 1 reads and checks every record (no oracle runs) and plans the splits, deterministically from the seed:
a share of the environments (keys `{code_id}__{EnvName}`, chosen by a seeded hash) is held out
for `val`; of each training environment, `val_seen_per_env` instances go to `val_seen` and the
rest (up to `train_per_env`) to `train`. A repeated (environment, env string) is kept once.
Pass 2 reads the records again, runs each planned record's oracle in the sandbox (several at
once, results taken in record order), keeps those that reach reward 1 within the oracle-length
filter, and appends them to the split files as they come. Memory holds the plan (a few bytes a
record) and a bounded window of oracle calls, never the records.
"""
from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import hashlib
import json
import os
import pathlib
import sys
from typing import Callable

from codegym_jax.envs.released import ReleasedRecord, iter_records
from codegym_jax.envs.tasks import TaskInstance
from codegym_jax.envs.tool_docs import extract_env_spec

SPLITS = ("train", "val_seen", "val")
_SKIP = 255  # plan entry of a record that is not used
# Env sources read in the parent, most recent first: records of one env are usually adjacent.
_SOURCE_CACHE = 512


@dataclasses.dataclass(frozen=True)
class ReleasedOptions:
    seed: int = 0
    heldout_fraction: float = 0.05
    val_seen_per_env: int = 1
    val_per_env: int = 0  # 0: every record of a held-out env
    train_per_env: int = 0  # 0: every record not in val_seen
    min_oracle_steps: int = 10
    max_oracle_steps: int = 256
    record_prompts: bool = False


def _rank(seed: int, text: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{seed}\0{text}".encode(), digest_size=8).digest(), "big")


def plan_splits(records, opts: ReleasedOptions) -> tuple[bytearray, dict]:
    """(plan, counts): plan[i] is the index in SPLITS of record i's split, or _SKIP."""
    per_env: dict[str, list[tuple[int, int]]] = collections.defaultdict(list)
    seen: set[int] = set()
    plan = bytearray()
    duplicates = 0
    for i, record in enumerate(records):
        plan.append(_SKIP)
        key = _rank(0, f"{record.env_key}\0{record.env_str}")
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        per_env[record.env_key].append((_rank(opts.seed, record.env_str), i))
    envs = sorted(per_env, key=lambda k: (_rank(opts.seed, k), k))
    held = round(opts.heldout_fraction * len(envs))
    if opts.heldout_fraction > 0 and len(envs) > 1:
        held = min(max(held, 1), len(envs) - 1)  # at least one env each way
    heldout = set(envs[:held])
    for env in envs:
        ranked = [i for _, i in sorted(per_env[env])]
        if env in heldout:
            chosen = {2: ranked[:opts.val_per_env] if opts.val_per_env else ranked}
        else:
            cut = min(opts.val_seen_per_env, len(ranked) - 1)
            rest = ranked[cut:]
            chosen = {1: ranked[:cut], 0: rest[:opts.train_per_env] if opts.train_per_env else rest}
        for split, indices in chosen.items():
            for i in indices:
                plan[i] = split
    counts = {"records": len(plan), "duplicates": duplicates, "envs": len(envs), "heldout_envs": len(heldout)}
    return plan, counts


class _Sources:
    """Env file text and its task description, read once per file while it is recent."""

    def __init__(self):
        self._cache: collections.OrderedDict[str, tuple[str, str | None]] = collections.OrderedDict()

    def get(self, path: str) -> tuple[str, str | None]:
        if path in self._cache:
            self._cache.move_to_end(path)
            return self._cache[path]
        source = pathlib.Path(path).read_text(encoding="utf-8")
        try:
            description = extract_env_spec(source).task_description
        except (SyntaxError, ValueError) as exc:
            raise ValueError(f"env file {path} cannot be read as an environment: {exc}") from None
        self._cache[path] = (source, description)
        if len(self._cache) > _SOURCE_CACHE:
            self._cache.popitem(last=False)
        return source, description


def _task(record: ReleasedRecord, split: str, steps: int, description: str | None, opts) -> TaskInstance:
    return TaskInstance(
        env_name=record.env_name, env_str=record.env_str, env_file=record.env_file, code_id=record.code_id,
        difficulty=None, oracle_steps=steps, split=split, task_description=record.question or description,
        prompt=[dict(m) for m in record.prompt] if opts.record_prompts and record.prompt else None)


def _check_one(pool, sources: _Sources, record: ReleasedRecord, split: int, opts):
    """(split, task or None, why it was dropped or None)."""
    source, description = sources.get(record.env_file)
    if opts.record_prompts and record.prompt is None:
        raise ValueError(f"{record.where}: data.released.record_prompts is on but the record has no prompt")
    result = pool.run_oracle(source, record.env_str)
    if result.error or result.reward != 1:
        return split, None, f"oracle failed ({result.error or f'reward {result.reward}'})"
    if not opts.min_oracle_steps <= result.steps <= opts.max_oracle_steps:
        return split, None, "filtered"
    return split, _task(record, SPLITS[split], result.steps, description, opts), None


@dataclasses.dataclass
class ReleasedBuild:
    counts: dict  # per split: instances written
    envs: dict  # per split: environments with an instance
    stats: dict  # records, duplicates, envs, heldout_envs, oracle_failed, filtered
    first_failure: str | None  # "where: why" of the first dropped record, for messages
    tmp_paths: dict = dataclasses.field(default_factory=dict)  # split -> written temp file


def _write_split_files(out_dir: pathlib.Path, results, build: ReleasedBuild, log) -> dict[str, pathlib.Path]:
    """Appends each kept task to its split's temp file; returns the temp paths."""
    tmp = {split: out_dir / f"{split}.jsonl.tmp{os.getpid()}" for split in SPLITS}
    files = {split: open(path, "w", encoding="utf-8") for split, path in tmp.items()}
    envs: dict[str, set[str]] = {split: set() for split in SPLITS}
    try:
        for record, (split, task, why) in results:
            if task is None:
                build.stats["oracle_failed" if why != "filtered" else "filtered"] += 1
                if build.first_failure is None and why != "filtered":
                    build.first_failure = f"{record.where}: {why}"
                    log(f"released data: {build.first_failure}")
                continue
            files[task.split].write(json.dumps(dataclasses.asdict(task), ensure_ascii=False) + "\n")
            build.counts[task.split] += 1
            envs[task.split].add(task.env_key)
    except BaseException:
        for f in files.values():
            f.close()
        for path in tmp.values():
            path.unlink(missing_ok=True)
        raise
    for f in files.values():
        f.close()
    build.envs = {split: len(keys) for split, keys in envs.items()}
    return tmp


def build_released_tasks(pool, record_paths, env_dir, opts: ReleasedOptions, parallel_jobs: int,
                         out_dir: str | os.PathLike, required: tuple[str, ...] = SPLITS,
                         log: Callable[[str], None] = lambda msg: print(msg, file=sys.stderr)) -> ReleasedBuild:
    """Writes the task files of released records (module docstring) as temp files in `out_dir`
    (`ReleasedBuild.tmp_paths`; the caller moves them into place). Unless every split in
    `required` gets an instance nothing is kept, and a ValueError says why (how many records
    were planned, failed their oracle, were filtered)."""
    if parallel_jobs < 1:
        raise ValueError(f"parallel_jobs must be >= 1, got {parallel_jobs}")
    plan, stats = plan_splits(iter_records(record_paths, env_dir), opts)
    build = ReleasedBuild({s: 0 for s in SPLITS}, {}, dict(stats, oracle_failed=0, filtered=0), None)
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sources = _Sources()
    window = collections.deque()

    def results():
        with concurrent.futures.ThreadPoolExecutor(parallel_jobs) as ex:
            for i, record in enumerate(iter_records(record_paths, env_dir)):
                if plan[i] == _SKIP:
                    continue
                window.append((record, ex.submit(_check_one, pool, sources, record, plan[i], opts)))
                # A window a few calls deep per worker keeps them busy with bounded memory.
                while len(window) > 4 * parallel_jobs:
                    record_done, future = window.popleft()
                    yield record_done, future.result()
            while window:
                record_done, future = window.popleft()
                yield record_done, future.result()

    tmp = _write_split_files(out_dir, results(), build, log)
    missing = [s for s in required if not build.counts[s]]
    if missing:
        for path in tmp.values():
            path.unlink(missing_ok=True)
        planned = {s: plan.count(SPLITS.index(s)) for s in SPLITS}
        raise ValueError(
            f"released data: no usable instances for split(s) {missing} of {stats['records']} records in "
            f"{stats['envs']} environments ({stats['heldout_envs']} held out for val; planned per split "
            f"{planned}); {build.stats['oracle_failed']} failed their oracle"
            f"{f' (first: {build.first_failure})' if build.first_failure else ''}, {build.stats['filtered']} "
            f"fell outside the oracle-length filter ({opts.min_oracle_steps}..{opts.max_oracle_steps} steps); "
            f"nothing was written")
    build.tmp_paths = tmp
    return build
