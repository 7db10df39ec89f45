import json
import os

import pytest

from codegym_jax.envs.released import read_upstream_records
from codegym_jax.envs.tasks import TaskInstance, parse_upstream_ability, read_tasks, write_tasks

DATA = os.path.join(os.path.dirname(__file__), "data")


def test_round_trip(tmp_path):
    tasks = [TaskInstance("SumEnv", 'SumEnv@{"xs": [1, 2], "note": "a@b"}', "lib/sum_env.py", "sum_env",
                          "easy", 12, "train", "Sum it."),
             TaskInstance("SumEnv", 'SumEnv@{"xs": []}', "lib/sum_env.py", "sum_env", split="eval")]
    path = str(tmp_path / "tasks.jsonl")
    write_tasks(path, tasks)
    assert read_tasks(path) == tasks


@pytest.mark.parametrize("record, message", [
    ({"env_name": "A", "env_str": "B@{}", "env_file": "f", "code_id": "c"}, "names 'B'"),
    ({"env_name": "A", "env_str": "A@{}", "env_file": "f", "code_id": "c", "difficulty": "x"}, "difficulty"),
    ({"env_name": "A", "env_str": "A@{}", "env_file": "f", "code_id": "c", "oracle_steps": -1}, "oracle_steps"),
    ({"env_name": "A", "env_str": "A@{}", "env_file": "f", "code_id": "c", "extra": 1}, "unknown task fields"),
])
def test_read_tasks_rejects_bad_records(tmp_path, record, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(record) + "\n")
    with pytest.raises(ValueError, match=message):
        read_tasks(str(path))


def test_upstream_ability():
    assert parse_upstream_ability('codegym_v1@Codeforces_38402_I__MaxEnv@{"s": "x__y@z"}') == (
        "Codeforces_38402_I", 'MaxEnv@{"s": "x__y@z"}')
    with pytest.raises(ValueError):
        parse_upstream_ability('other@A__B@{}')
    with pytest.raises(ValueError):
        parse_upstream_ability('codegym_v1@NoEnvPart@{}')


def test_reads_upstream_training_records():
    tasks = read_upstream_records(os.path.join(DATA, "upstream_training_records.jsonl"),
                                  os.path.join(os.path.dirname(DATA), "..", "experiments", "released_example"))
    assert [(t.env_name, t.env_str, t.code_id, t.oracle_steps) for t in tasks] == [
        ("RunningMaxEnv", 'RunningMaxEnv@{"values": [3, 9, 2]}', "Toy_00001_I", 7),
        ("RunningMaxEnv", 'RunningMaxEnv@{"values": [5, 1, 8, 8, 0]}', "Toy_00001_I", 11)]
    assert tasks[0].task_description.startswith("A hidden list of integers")
    assert "class RunningMaxEnv(gymnasium.Env)" in tasks[0].read_source()


def test_missing_env_file_is_reported(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        read_upstream_records(os.path.join(DATA, "upstream_training_records.jsonl"), str(tmp_path))
