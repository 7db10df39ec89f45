import os
import subprocess
import sys

import pytest

from codegym_jax.envs.play import parse_call

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UPSTREAM_ENV = os.path.join(ROOT, "tests", "data", "upstream_envs", "Toy_00001_I__RunningMaxEnv.py")


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
