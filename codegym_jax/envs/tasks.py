"""Task instances: one env string of one env file, with its oracle length and split.

Our JSONL holds one `TaskInstance` per line (its fields, by name). Upstream CodeGym training
records are read too: `ability` = "codegym_v1@{code_id}__{EnvName@json}", the oracle length in
`extra_info.solve_fc_round`, the task text after "Question:" in the user message, and the env
file named "{code_id}__{EnvName}.py" in a directory of env files.
"""

import dataclasses
import json
import os

from codegym_jax.envs.env_str import parse_env_str
from codegym_jax.jsonl import numbered_records

UPSTREAM_ABILITY_PREFIX = "codegym_v1@"
DIFFICULTIES = ("easy", "medium", "hard")
# code_id of the instances generated from an env file (build_tasks): "builtin__{file stem}".
BUILTIN_CODE_ID_PREFIX = "builtin__"


@dataclasses.dataclass(frozen=True)
class TaskInstance:
    env_name: str
    env_str: str
    env_file: str  # path of the env source file
    code_id: str
    difficulty: str | None = None  # easy / medium / hard, None when unknown (upstream records)
    oracle_steps: int | None = None  # tool calls of the oracle solve() (upstream solve_fc_round)
    split: str = "train"
    task_description: str | None = None
    # The episode's opening chat messages (a released record's own prompt); None: the project's.
    prompt: list[dict] | None = None

    def __post_init__(self):
        name, _ = parse_env_str(self.env_str)
        if name != self.env_name:
            raise ValueError(f"env_str names {name!r} but env_name is {self.env_name!r}")
        if self.difficulty is not None and self.difficulty not in DIFFICULTIES:
            raise ValueError(f"difficulty must be one of {DIFFICULTIES} or None, got {self.difficulty!r}")
        if self.oracle_steps is not None and (not isinstance(self.oracle_steps, int) or self.oracle_steps < 0):
            raise ValueError(f"oracle_steps must be a non-negative int, got {self.oracle_steps!r}")
        if self.prompt is not None and (not isinstance(self.prompt, list) or not all(
                isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
                for m in self.prompt)):
            raise ValueError(f"prompt must be a list of {{'role': str, 'content': str}} messages, got "
                             f"{str(self.prompt)[:120]!r}")

    @property
    def env_key(self) -> str:
        """The environment's identity: `{code_id}__{EnvName}` for an env file named so (released
        data, where class names repeat across code_ids), else its class name."""
        released = f"{self.code_id}__{self.env_name}"
        return released if os.path.basename(self.env_file) == f"{released}.py" else self.env_name

    def read_source(self) -> str:
        with open(self.env_file, encoding="utf-8") as f:
            return f.read()


_FIELDS = {f.name for f in dataclasses.fields(TaskInstance)}


def read_tasks(path: str) -> list[TaskInstance]:
    tasks = []
    for number, record in numbered_records(path):
        unknown = set(record) - _FIELDS
        if str(record.get("ability", "")).startswith(UPSTREAM_ABILITY_PREFIX):
            raise ValueError(f"{path}:{number} is a released CodeGym record, not a task instance: give record "
                             f"files as data.released.records (with their env folder as data.env_dir), not as "
                             f"data.task_dir")
        if unknown:
            raise ValueError(f"{path}:{number}: unknown task fields {sorted(unknown)}")
        try:
            tasks.append(TaskInstance(**record))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}:{number}: {exc}") from None
    return tasks


def write_tasks(path: str, tasks) -> None:
    """Write tasks as JSONL (atomically: a temp file renamed over `path`)."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        for task in tasks:
            f.write(json.dumps(dataclasses.asdict(task), ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def parse_upstream_ability(ability: str) -> tuple[str, str]:
    """"codegym_v1@{code_id}__{EnvName@json}" -> (code_id, env_str)."""
    if not ability.startswith(UPSTREAM_ABILITY_PREFIX):
        raise ValueError(f"ability does not start with {UPSTREAM_ABILITY_PREFIX!r}: {ability[:120]!r}")
    rest = ability[len(UPSTREAM_ABILITY_PREFIX):]
    head = rest.split("@", 1)[0]  # code_id__EnvName: the "__" lies before the payload's first "@"
    code_id, sep, _ = head.rpartition("__")
    if not sep or not code_id:
        raise ValueError(f"ability has no 'code_id__EnvName' part: {ability[:120]!r}")
    env_str = rest[len(code_id) + 2:]
    parse_env_str(env_str)
    return code_id, env_str


def record_question(record: dict) -> str | None:
    """The task text after "Question:" in a released record's user message, if any."""
    for message in record.get("prompt") or []:
        content = message.get("content") or ""
        if message.get("role") == "user" and "Question:" in content:
            return content.split("Question:", 1)[1].strip() or None
    return None
