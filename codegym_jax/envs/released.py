"""Released CodeGym data: a folder of env files named `{code_id}__{EnvName}.py` and record files
(JSON Lines or Parquet) whose `ability` is "codegym_v1@{code_id}__{EnvName@json}".

Released env files have no `generate()`: every instance comes from a record. Several files may
define the same class name under different `code_id`s, so an environment is keyed by
`{code_id}__{EnvName}` (its file's stem), never by class name. Records are read a row at a time:
the full release (~86k records) is streamed, not loaded.
"""
from __future__ import annotations

import dataclasses
import json
import os
import pathlib
from typing import Iterable, Iterator

from codegym_jax.envs.env_str import parse_env_str
from codegym_jax.envs.tasks import UPSTREAM_ABILITY_PREFIX, TaskInstance, parse_upstream_ability, record_question
from codegym_jax.jsonl import iter_numbered_records

RECORD_SUFFIXES = (".jsonl", ".parquet")
PROMPT_ROLES = ("system", "user", "assistant")
# Parquet rows decoded at a time: bounded memory whatever the file's row groups.
_PARQUET_BATCH_ROWS = 1024


@dataclasses.dataclass(frozen=True)
class ReleasedRecord:
    where: str  # "file:line" (JSONL) or "file:row N" (Parquet), for messages
    code_id: str
    env_name: str
    env_str: str
    env_file: str
    prompt: tuple[dict, ...] | None  # the record's chat messages, checked
    question: str | None  # the task text after "Question:" in the user message
    solve_fc_round: int | None

    @property
    def env_key(self) -> str:
        return f"{self.code_id}__{self.env_name}"


def record_files(paths: Iterable[str]) -> list[pathlib.Path]:
    """The record files named by `paths`: each a .jsonl/.parquet file, or a folder whose
    .jsonl/.parquet files are taken in name order."""
    out: list[pathlib.Path] = []
    for entry in paths:
        path = pathlib.Path(entry)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in RECORD_SUFFIXES and p.is_file())
            if not found:
                raise ValueError(f"record folder {str(path)!r} holds no {'/'.join(RECORD_SUFFIXES)} files")
            out.extend(found)
        elif not path.is_file():
            raise ValueError(f"record file {str(path)!r} does not exist")
        elif path.suffix not in RECORD_SUFFIXES:
            raise ValueError(f"record file {str(path)!r}: expected a {' or '.join(RECORD_SUFFIXES)} file")
        else:
            out.append(path)
    if not out:
        raise ValueError("no record files given")
    return out


def iter_raw_records(path: pathlib.Path) -> Iterator[tuple[str, dict]]:
    """(where, record dict) for each row of one JSONL or Parquet record file."""
    if path.suffix == ".jsonl":
        for number, record in iter_numbered_records(path):
            yield f"{path}:{number}", record
        return
    import pyarrow.parquet as pq  # only Parquet readers pay for the import

    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises its own error types for a damaged file
        raise ValueError(f"{path}: not a readable Parquet file ({exc})") from None
    row = 0
    for batch in parquet.iter_batches(batch_size=_PARQUET_BATCH_ROWS):
        for record in batch.to_pylist():
            row += 1
            yield f"{path}:row {row}", record


def check_prompt(prompt, where: str) -> tuple[dict, ...]:
    """A record's `prompt` as (role, content) messages: a non-empty list ending with a user turn."""
    if not isinstance(prompt, (list, tuple)) or not prompt:
        raise ValueError(f"{where}: prompt must be a non-empty list of chat messages, got {str(prompt)[:80]!r}")
    messages = []
    for i, message in enumerate(prompt):
        role = message.get("role") if isinstance(message, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        if role not in PROMPT_ROLES or not isinstance(content, str):
            raise ValueError(f"{where}: prompt[{i}] must be {{'role': one of {list(PROMPT_ROLES)}, 'content': str}}, "
                             f"got {str(message)[:120]!r}")
        messages.append({"role": role, "content": content})
    if messages[-1]["role"] != "user":
        raise ValueError(f"{where}: the prompt's last message must be the user's, got {messages[-1]['role']!r}")
    return tuple(messages)


def parse_record(where: str, record: dict, env_dir: str | os.PathLike | None) -> ReleasedRecord:
    """One released record, checked: its ability parses, its `code_id` field (when present)
    agrees with the ability, its prompt is chat messages, and its env file exists in `env_dir`
    (not looked for when env_dir is None: the caller has the file; env_file is then "")."""
    if "ability" not in record:
        raise ValueError(f"{where}: record has no 'ability' field (fields: {sorted(record)[:12]})")
    try:
        code_id, env_str = parse_upstream_ability(record["ability"])
    except (ValueError, TypeError, AttributeError) as exc:
        raise ValueError(f"{where}: {exc}") from None
    env_name, _ = parse_env_str(env_str)
    if record.get("code_id") not in (None, code_id):
        raise ValueError(f"{where}: code_id {record['code_id']!r} disagrees with the ability's {code_id!r}")
    env_file = ""
    if env_dir is not None:
        env_file = os.path.join(env_dir, f"{code_id}__{env_name}.py")
        if not os.path.isfile(env_file):
            raise ValueError(f"{where}: env file {env_file} does not exist (env folder {str(env_dir)!r})")
    prompt = check_prompt(record["prompt"], where) if record.get("prompt") is not None else None
    rounds = (record.get("extra_info") or {}).get("solve_fc_round")
    if rounds is not None and (isinstance(rounds, bool) or not str(rounds).isdigit()):
        raise ValueError(f"{where}: extra_info.solve_fc_round must be a non-negative int, got {rounds!r}")
    return ReleasedRecord(
        where=where, code_id=code_id, env_name=env_name, env_str=env_str, env_file=env_file,
        prompt=prompt, question=record_question(record) if prompt else None,
        solve_fc_round=int(rounds) if rounds is not None else None)


def iter_records(paths: Iterable[str], env_dir: str | os.PathLike) -> Iterator[ReleasedRecord]:
    """Every record of the record files `paths` (files or folders), in order, checked."""
    if not pathlib.Path(env_dir).is_dir():
        raise ValueError(f"data.env_dir {str(env_dir)!r} is not a folder")
    for path in record_files(paths):
        for where, record in iter_raw_records(path):
            yield parse_record(where, record, env_dir)


def read_upstream_records(path: str, env_dir: str, split: str = "train") -> list[TaskInstance]:
    """Task instances of one released record file, as they are (no oracle check, no split)."""
    return [TaskInstance(env_name=r.env_name, env_str=r.env_str, env_file=r.env_file, code_id=r.code_id,
                         oracle_steps=r.solve_fc_round, split=split, task_description=r.question)
            for r in iter_records([path], env_dir)]


def write_released_copies(example_dir: str | os.PathLike, out_dir: str | os.PathLike, copies: int,
                          record_format: str = "jsonl") -> tuple[pathlib.Path, pathlib.Path]:
    """(env folder, record file): `copies` copies of a released folder's env files and records
    (its .jsonl files) under new code_ids `{code_id}c{k}`, so each class name recurs `copies`
    times. It makes released data at the full release's scale from a few example files, for
    the data stage's tests and benchmark; `record_format` "jsonl" or "parquet"."""
    if record_format not in ("jsonl", "parquet"):
        raise ValueError(f"record_format must be 'jsonl' or 'parquet', got {record_format!r}")
    example_dir, out_dir = pathlib.Path(example_dir), pathlib.Path(out_dir)
    env_dir = out_dir / "envs"
    env_dir.mkdir(parents=True, exist_ok=True)
    records = [record for path in record_files([example_dir]) if path.suffix == ".jsonl"
               for _, record in iter_raw_records(path)]
    for path in sorted(example_dir.glob("*__*.py")):
        code_id, name = path.stem.rsplit("__", 1)
        source = path.read_text(encoding="utf-8")
        for k in range(copies):
            (env_dir / f"{code_id}c{k}__{name}.py").write_text(source, encoding="utf-8")

    def renamed(k: int):
        for record in records:
            code_id, env_str = parse_upstream_ability(record["ability"])
            yield dict(record, code_id=f"{code_id}c{k}",
                       ability=f"{UPSTREAM_ABILITY_PREFIX}{code_id}c{k}__{env_str}")

    out_file = out_dir / f"records.{record_format}"
    if record_format == "jsonl":
        with open(out_file, "w", encoding="utf-8") as f:
            for k in range(copies):
                for record in renamed(k):
                    f.write(json.dumps(record, ensure_ascii=False) + "\n")
        return env_dir, out_file
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    for k in range(copies):
        table = pa.Table.from_pylist(list(renamed(k)))
        writer = writer or pq.ParquetWriter(out_file, table.schema)
        writer.write_table(table)
    if writer is not None:
        writer.close()
    return env_dir, out_file
