"""The validation command, run against the real sandbox pool.

Library envs must pass on generated instances; broken envs (wrong oracle, failing generator, no
generator, unparsable source) must show up as failures with their reasons; upstream-style files
(no generate(), `import gymnasium`) are validated from training records, whose step counts are
compared with the oracle's.
"""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

from codegym_jax.envs import validate
from sandbox.pool import SandboxPool

ROOT = pathlib.Path(__file__).resolve().parents[1]
RECORDS = ROOT / "tests" / "data" / "upstream_validate" / "records.jsonl"
EXAMPLE = ROOT / "experiments" / "released_example"
GCD_ENV = ROOT / "codegym_jax" / "envs" / "library" / "array_gcd_lcm_env.py"


@pytest.fixture(scope="module")
def upstream_dir(tmp_path_factory):
    """A folder of exactly the two released example envs the records above name."""
    folder = tmp_path_factory.mktemp("upstream")
    for name in ("Own_00001_E__StockProfitEnv.py", "Own_00002_M__DigitSumEnv.py"):
        shutil.copy(EXAMPLE / name, folder)
    return folder


@pytest.fixture(scope="module")
def pool():
    with SandboxPool() as p:
        yield p


def _by_name(reports):
    return {r.class_name or os.path.basename(r.env_file): r for r in reports}


def test_every_library_env_passes_and_gets_harder(tmp_path):
    out = tmp_path / "report.json"
    code = validate.main(["--instances", "2", "--json", str(out)])
    data = json.loads(out.read_text())
    files = sorted(p.name for p in (ROOT / "codegym_jax" / "envs" / "library").glob("*.py")
                   if not p.name.startswith("__"))
    assert sorted(os.path.basename(e["env_file"]) for e in data["envs"]) == files
    bad = [(e["class_name"], e["problem"], [o["reason"] for o in e["outcomes"] if not o["passed"]][:2])
           for e in data["envs"] if not e["ok"]]
    assert not bad and code == 0
    for env in data["envs"]:
        assert env["tools"] >= 4, env["class_name"]
        assert len(env["outcomes"]) == 6
    by_difficulty = data["summary"]["mean_oracle_steps_by_difficulty"]
    assert by_difficulty["easy"] < by_difficulty["medium"] < by_difficulty["hard"]
    assert data["summary"]["pass_rate"] == 1.0


def _write_variants(directory):
    source = GCD_ENV.read_text()
    (directory / "a_good.py").write_text(source)
    wrong = source.replace('call("Done", answer=[gcd, lcm])', 'call("Done", answer=[gcd, lcm + 1])')
    assert wrong != source
    (directory / "b_wrong_oracle.py").write_text(wrong.replace("class ArrayGcdLcmEnv", "class WrongGcdEnv")
                                                 .replace('"ArrayGcdLcmEnv', '"WrongGcdEnv')
                                                 .replace("ArrayGcdLcmEnv(", "WrongGcdEnv("))
    no_generate = source[:source.index("\ndef generate(")] + "\n"
    (directory / "c_no_generate.py").write_text(no_generate)
    hard_fails = source.replace("    rng = random.Random(seed)\n",
                                "    rng = random.Random(seed)\n"
                                "    if difficulty == 'hard':\n"
                                "        raise RuntimeError('no hard instances')\n", 1)
    (directory / "d_hard_generator_fails.py").write_text(hard_fails)
    (directory / "e_syntax_error.py").write_text("class Broken(:\n    pass\n")
    unseeded = source.replace("    rng = random.Random(seed)\n", "    rng = random.Random(random.random())\n", 1)
    (directory / "f_unseeded_generator.py").write_text(unseeded)
    long_answer = (source.replace("        return [gcd, lcm]\n", "        return [gcd, lcm] + [0] * 40\n")
                   .replace('call("Done", answer=[gcd, lcm])', 'call("Done", answer=[gcd, lcm] + [0] * 40)'))
    assert long_answer.count("[0] * 40") == 2
    (directory / "g_long_answer.py").write_text(long_answer)
    (directory / "__init__.py").write_text("")


def test_broken_envs_are_reported_with_reasons(pool, tmp_path):
    _write_variants(tmp_path)
    reports = validate.validate_dir(pool, str(tmp_path), instances=3)
    assert [os.path.basename(r.env_file) for r in reports] == [
        "a_good.py", "b_wrong_oracle.py", "c_no_generate.py", "d_hard_generator_fails.py", "e_syntax_error.py",
        "f_unseeded_generator.py", "g_long_answer.py"]
    good, wrong, no_generate, hard_fails, syntax, unseeded, long_answer = reports

    assert good.ok and good.tools == 5 and len(good.outcomes) == 9
    assert good.pass_rate("easy") == good.pass_rate("hard") == 1.0

    assert wrong.class_name == "WrongGcdEnv" and wrong.pass_rate() == 0.0 and not wrong.ok
    assert wrong.mean_steps() is None
    assert all("Result: Incorrect" in o.reason for o in wrong.outcomes)

    assert no_generate.problem and "no generate()" in no_generate.problem and not no_generate.outcomes

    assert hard_fails.pass_rate("easy") == 1.0 and hard_fails.pass_rate("hard") == 0.0
    (reason, count), = hard_fails.reasons()
    assert reason.startswith("generate error:") and "no hard instances" in reason and count == 3

    assert syntax.class_name is None and "cannot be extracted" in syntax.problem

    # Only each difficulty's first seed is generated twice; later seeds still run.
    assert [o.passed for o in unseeded.of("easy")] == [False, True, True]
    assert unseeded.of("easy")[0].reason == "generate(0, 'easy') differs between calls"

    assert long_answer.pass_rate() == 0.0
    assert all(re.fullmatch(r"reference answer has \d{3} chars \(limit 100\)", o.reason) for o in long_answer.outcomes)

    table = validate.format_table(reports, validate.DIFFICULTIES)
    lines = table.splitlines()
    assert len(lines) == 2 + len(reports)
    assert re.match(r"ArrayGcdLcmEnv\s+5\s+100%\s+\d+\.\d\s+100%", lines[2])
    assert re.match(r"WrongGcdEnv\s+5\s+0%\s+-\s+0%", lines[3]) and "reward 0; last observation" in lines[3]
    assert "no generate()" in lines[4] and "3x generate error" in lines[5]
    assert lines[6].startswith("e_syntax_error.py")


def test_upstream_files_validate_from_records(pool, upstream_dir):
    reports = _by_name(validate.validate_dir(pool, str(upstream_dir), records=str(RECORDS)))
    records = [json.loads(line) for line in RECORDS.read_text().splitlines()]
    stock, digits = reports["StockProfitEnv"], reports["DigitSumEnv"]
    assert stock.ok and stock.tools == 4
    assert [o.difficulty for o in stock.outcomes] == ["records"] * 3
    recorded = [r["extra_info"]["solve_fc_round"] for r in records if r["code_id"] == "Own_00001_E"]
    assert [o.steps for o in stock.outcomes] == recorded
    assert all(o.reason is None for o in stock.outcomes)
    # DigitSumEnv's oracle sums the digits only once: wrong whenever the sum has two digits.
    assert [o.passed for o in digits.outcomes] == [True, False, True, False]
    assert "Reference answer: 2" in digits.outcomes[1].reason


def test_upstream_files_without_records_cannot_be_validated(pool, upstream_dir):
    reports = validate.validate_dir(pool, str(upstream_dir))
    assert len(reports) == 2
    assert all(not r.ok and "no generate()" in r.problem for r in reports)


def test_recorded_step_count_mismatch_is_noted(pool, tmp_path, upstream_dir):
    lines = RECORDS.read_text().splitlines()
    first = json.loads(lines[0])
    first["extra_info"]["solve_fc_round"] += 5
    records = tmp_path / "records.jsonl"
    records.write_text("\n".join([json.dumps(first)] + lines[1:]) + "\n")
    stock = _by_name(validate.validate_dir(pool, str(upstream_dir), records=str(records)))["StockProfitEnv"]
    assert stock.ok  # a note, not a failure
    note = stock.outcomes[0].reason
    assert note == (f"note: oracle took {stock.outcomes[0].steps} steps, record says "
                    f"solve_fc_round={stock.outcomes[0].steps + 5}")


def test_command_line(tmp_path, upstream_dir):
    command = [sys.executable, "-m", "codegym_jax.envs.validate", "--env-dir", str(upstream_dir),
               "--records", str(RECORDS)]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stderr  # DigitSumEnv fails half its records
    header = run.stdout.splitlines()[0].split()
    assert header[:4] == ["env", "tools", "pass", "records"]
    assert "StockProfitEnv" in run.stdout and "50%" in run.stdout
    assert "mean tools per env 4.00 (paper 6.52)" in run.stdout

    markdown = subprocess.run(command + ["--markdown"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    table = markdown.stdout.strip().splitlines()[-4:]
    assert table[0].startswith("|  | envs | tools per env") and table[1].startswith("| --- |")
    assert table[2].split(" | ")[1:3] == ["2", "4.00 (4-4); 6.00 with Observe/Done"]
    assert table[2].endswith(" | 20.60 |") and table[3] == "| CodeGym paper | 13,116 | 6.52 | - | 44.07 |"

    bad = subprocess.run(command + ["--difficulties", "easy,impossible"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "--difficulties" in bad.stderr
