import json
import os
import shutil
import subprocess
import sys

import pytest

from codegym_jax.envs.play import parse_call

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UPSTREAM_ENV_DIR = os.path.join(ROOT, "experiments", "released_example")
UPSTREAM_ENV = os.path.join(UPSTREAM_ENV_DIR, "Toy_00001_I__RunningMaxEnv.py")
UPSTREAM_RECORDS = os.path.join(ROOT, "tests", "data", "upstream_training_records.jsonl")
ABILITY = 'codegym_v1@Toy_00001_I__RunningMaxEnv@{"values": [3, 9, 2]}'
QUESTION = "task: A hidden list of integers is given. Find its largest value using the tools."


def _cli(*args, stdin=""):
    return subprocess.run([sys.executable, "-m", "codegym_jax.envs.play", *args], input=stdin,
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_parse_call():
    assert parse_call('{"name": "A", "parameters": {"x": 1}}') == {"name": "A", "parameters": {"x": 1}}
    assert parse_call("CompareMax a=3 b=[1,2] tag=hi") == {
        "name": "CompareMax", "parameters": {"a": 3, "b": [1, 2], "tag": "hi"}}
    with pytest.raises(ValueError):
        parse_call("Name oops")


def test_tools_listing():
    out = _cli("tools", UPSTREAM_ENV)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("Function:") == 4 and "Example Output" not in out.stdout
    assert "Example Output" in _cli("tools", UPSTREAM_ENV, "--examples").stdout
    assert '"name": "CompareMax"' in _cli("tools", UPSTREAM_ENV, "--json").stdout


def test_interactive_play_to_the_end():
    moves = "Observe\nGetItem index=1\n:oracle\nnot=valid x\nDone answer=9\n"
    out = _cli("play", UPSTREAM_ENV, "--env-str", 'RunningMaxEnv@{"values": [3, 9, 2]}', stdin=moves)
    assert out.returncode == 0, out.stderr
    assert "> 3\n> 9\n" in out.stdout
    assert "oracle: reward=1.0 steps=7 error=None" in out.stdout
    assert "Reference answer: 9, Result: Correct" in out.stdout
    assert "could not read that call: expected key=value, got 'x'" in out.stdout
    assert "episode finished: reward=1.0 after 3 calls" in out.stdout


def _record_line(number):
    with open(UPSTREAM_RECORDS, encoding="utf-8") as f:
        return f.read().splitlines()[number - 1]


def _released_folder(tmp_path, record_lines):
    """A released-data folder: the toy env file next to a record file of `record_lines`."""
    shutil.copy(UPSTREAM_ENV, tmp_path)
    records = tmp_path / "train.jsonl"
    records.write_text("".join(line + "\n" for line in record_lines), encoding="utf-8")
    return records


def test_play_from_an_ability():
    out = _cli("play", "--ability", ABILITY, "--env-dir", UPSTREAM_ENV_DIR, stdin="Done answer=9\n")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith('RunningMaxEnv@{"values": [3, 9, 2]}\n') and "task:" not in out.stdout
    assert "episode finished: reward=1.0 after 1 calls" in out.stdout
    # ENV_FILE in place of --env-dir: the file defines the ability's class.
    out = _cli("play", UPSTREAM_ENV, "--ability", ABILITY, stdin="Done answer=3\n")
    assert out.returncode == 0, out.stderr
    assert "Result: Incorrect" in out.stdout and "episode finished: reward=0.0 after 1 calls" in out.stdout


def test_play_from_a_record_line():
    out = _cli("play", "--record", _record_line(1), "--env-dir", UPSTREAM_ENV_DIR, stdin="GetItem index=1\n:quit\n")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(QUESTION + '\nRunningMaxEnv@{"values": [3, 9, 2]}\n')
    assert "> 9\n" in out.stdout


def test_play_from_a_record_file_line(tmp_path):
    # Line 2 of the file is blank: LINE counts the file's lines, so the second record is line 3.
    records = _released_folder(tmp_path, [_record_line(1), "", _record_line(2)])
    out = _cli("play", "--record", f"{records}:3", stdin=":oracle\nDone answer=8\n")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(QUESTION + '\nRunningMaxEnv@{"values": [5, 1, 8, 8, 0]}\n')
    assert "oracle: reward=1.0 steps=11 error=None" in out.stdout
    assert "episode finished: reward=1.0 after 1 calls" in out.stdout
    _fails(_cli("play", "--record", f"{records}:2"), 1, f"{records}:2 is blank, not a JSON record")
    # --env-dir overrides the record file's folder.
    out = _cli("play", "--record", f"{UPSTREAM_RECORDS}:1", "--env-dir", UPSTREAM_ENV_DIR, stdin="Observe\n:q\n")
    assert out.returncode == 0, out.stderr
    assert '"values": [3, 9, 2]' in out.stdout and "> 3\n" in out.stdout


def _fails(out, code, *fragments):
    assert out.returncode == code, (out.returncode, out.stdout, out.stderr)
    for fragment in fragments:
        assert fragment in out.stderr, out.stderr
    assert "Traceback" not in out.stderr


def test_released_play_errors_name_the_problem(tmp_path):
    envs = ("--env-dir", UPSTREAM_ENV_DIR)
    _fails(_cli("play", "--ability", 'other@Toy_00001_I__RunningMaxEnv@{}', *envs), 1,
           "--ability: ability does not start with 'codegym_v1@'", "'other@Toy_00001_I__RunningMaxEnv@{}'")
    _fails(_cli("play", "--ability", "codegym_v1@NoEnvPart@{}", *envs), 1, "no 'code_id__EnvName' part")
    _fails(_cli("play", "--record", json.dumps({"prompt": []}), *envs), 1,
           "the --record line: record has no 'ability' field (fields: ['prompt'])")
    _fails(_cli("play", "--record", '{"ability": "codegym_v1@', *envs), 1,
           "the --record line is not JSON", '\'{"ability": "codegym_v1@\'')
    records = _released_folder(tmp_path, [_record_line(1), "not json", "[1, 2]"])
    _fails(_cli("play", "--record", f"{records}:2"), 1, f"{records}:2 is not JSON", "'not json'")
    _fails(_cli("play", "--record", f"{records}:3"), 1, f"{records}:3 is a JSON list, not a record object")
    _fails(_cli("play", "--record", f"{records}:4"), 1, f"line 4 is past the end of {records} (3 lines)")
    _fails(_cli("play", "--record", f"{records}:0"), 2, "--record takes one JSON record line or FILE:LINE",
           f"{records}:0")
    _fails(_cli("play", "--record", f"{tmp_path}/absent.jsonl:1"), 1,
           f"record file {tmp_path}/absent.jsonl does not exist")


def test_released_play_env_file_errors(tmp_path):
    missing = 'codegym_v1@Toy_00002_I__RunningMaxEnv@{"values": [1]}'
    _fails(_cli("play", "--ability", missing, "--env-dir", UPSTREAM_ENV_DIR), 1,
           "--ability: env file",
           os.path.join(UPSTREAM_ENV_DIR, "Toy_00002_I__RunningMaxEnv.py") + " does not exist")
    # The record file's folder is the default --env-dir: here it holds no env files.
    _fails(_cli("play", "--record", f"{UPSTREAM_RECORDS}:1"), 1,
           os.path.join(ROOT, "tests", "data", "Toy_00001_I__RunningMaxEnv.py") + " does not exist")
    _fails(_cli("play", "--ability", ABILITY), 2, "--ability needs --env-dir DIR, the folder of its "
           "{code_id}__{Name}.py env file")
    other = 'codegym_v1@Toy_00001_I__OtherEnv@{"values": [1]}'
    _fails(_cli("play", UPSTREAM_ENV, "--ability", other), 1,
           f"{UPSTREAM_ENV} does not define the ability's env class 'OtherEnv'", "its classes: ['RunningMaxEnv']")
    _fails(_cli("play", str(tmp_path / "absent.py"), "--ability", ABILITY), 1,
           f"cannot read env file {tmp_path / 'absent.py'}")


def test_play_rejects_conflicting_options():
    _fails(_cli("play", UPSTREAM_ENV, "--env-str", "RunningMaxEnv@{}", "--ability", ABILITY), 2,
           "argument --ability: not allowed with argument --env-str")
    _fails(_cli("play", "--ability", ABILITY, "--record", f"{UPSTREAM_RECORDS}:1"), 2,
           "argument --record: not allowed with argument --ability")
    _fails(_cli("play", "--ability", ABILITY, "--seed", "3", "--env-dir", UPSTREAM_ENV_DIR), 2,
           "--seed/--difficulty pick a generate() task")
    _fails(_cli("play", UPSTREAM_ENV, "--ability", ABILITY, "--env-dir", UPSTREAM_ENV_DIR), 2,
           f"give ENV_FILE ({UPSTREAM_ENV}) or --env-dir ({UPSTREAM_ENV_DIR}), not both")
    _fails(_cli("play", UPSTREAM_ENV, "--env-dir", UPSTREAM_ENV_DIR), 2, "--env-dir is where --ability/--record")
    _fails(_cli("play"), 2, "give ENV_FILE, or --ability/--record")
