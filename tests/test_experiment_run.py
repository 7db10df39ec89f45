"""`experiments/run.py` end to end on the real stack (sandbox, JAX sampler, learner, Orbax) with
small budgets: data -> sft -> rl -> sft_baseline -> eval, killed during SFT and again during RL,
each time rerun with the same command, which must resume from the stage's last checkpoint and
finish; then the ood_eval stage scores its policies on a few BFCL entries. It runs on the runtime
requirements alone (tests/runtime_site.py), as after a plain `./setup.sh`."""
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

from codegym_jax.metrics import read_metrics, series
from codegym_jax.run_paths import RunPaths
from runtime_site import build_site, runtime_env

REPO = pathlib.Path(__file__).resolve().parents[1]

OVERRIDES = [
    "name=e2e",
    'data.train_envs=["MaxSubarrayEnv","JumpGameEnv"]', 'data.heldout_envs=["MeetingRoomsEnv"]',
    "data.train_per_env=4", "data.val_per_env=2", "data.max_oracle_steps=40",
    "rollout.group_size=4", "rollout.max_new_tokens_per_turn=24", "rollout.sampler_slots=8",
    "train.sft_steps=12", "train.sft_batch_size=4", "train.rl_steps=4", "train.tasks_per_step=2",
    "train.mini_batch_size=4", "train.micro_batch_size=4",
    "algorithm.loss.kl_coef=0.05", "algorithm.dynamic_sampling=false",
    "eval.num_tasks=2", "eval.samples_per_task=1", "eval.pass_k=1", "eval.every_steps=2", "checkpoint.every_steps=1", "logging.progress_bars=false",
]


def command(run_dir):
    sets = [a for o in OVERRIDES + [f"logging.run_dir={run_dir}"] for a in ("--set", o)]
    return [sys.executable, "-S", str(REPO / "experiments" / "run.py"), "--config",
            str(REPO / "experiments" / "configs" / "tiny_cpu.py"), *sets]


def checkpoints(run_dir, stage):
    folder = run_dir / "checkpoints" / stage
    return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit()) if folder.exists() else []


def kill_once_checkpointed(run_dir, env, stage, log_path):
    """Runs the command until `stage` has 2 checkpoints, SIGKILLs it there (as a crash or a
    pre-emption would) and returns the last checkpointed step and the run's output."""
    with open(log_path, "w") as log:
        run = subprocess.Popen(command(run_dir), cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
        deadline = time.time() + 600
        while time.time() < deadline and run.poll() is None and len(checkpoints(run_dir, stage)) < 2:
            time.sleep(0.2)
        alive = run.poll() is None
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
    out = log_path.read_text()
    assert alive, out[-3000:]
    assert len(checkpoints(run_dir, stage)) >= 2, f"no {stage} checkpoint appeared within the time limit"
    assert not (run_dir / "checkpoints" / stage / "done.json").exists(), f"{stage} finished before the kill"
    return checkpoints(run_dir, stage)[-1], out


def resumed_at(out, stage):
    lines = [line for line in out.splitlines() if line.startswith(f"{stage}: resuming at step")]
    assert lines, out[-3000:]
    return int(lines[0].split()[4])


@pytest.mark.slow
def test_sft_rl_eval_killed_and_resumed(tmp_path):
    run_dir = tmp_path / "run"
    env = runtime_env(build_site(tmp_path / "site"))
    sft_killed_at, _ = kill_once_checkpointed(run_dir, env, "sft", tmp_path / "first.log")
    rl_killed_at, out = kill_once_checkpointed(run_dir, env, "rl", tmp_path / "second.log")
    assert resumed_at(out, "sft") >= sft_killed_at - 1

    third = subprocess.run(command(run_dir), cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    out = third.stdout + third.stderr
    assert third.returncode == 0, out[-4000:]
    assert "sft: finished earlier" in out
    assert resumed_at(out, "rl") >= rl_killed_at - 1
    assert json.loads((run_dir / "checkpoints" / "sft" / "done.json").read_text())["steps"] == 12
    assert json.loads((run_dir / "checkpoints" / "rl" / "done.json").read_text())["steps"] == 4
    assert (run_dir / "checkpoints" / "sft_baseline" / "done.json").exists()

    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert {r["step"] for r in rows if "rl/reward_mean" in r} == {1, 2, 3, 4}
    # Every update carried the KL penalty against the SFT policy (k3 = e^x - x - 1: never below
    # zero; in float32, e^x and its two subtractions near 1 are within 3 eps = 3.6e-7 of it).
    # Without dynamic sampling every step updates, whatever the tiny policy's rewards.
    updated = [r for r in rows if r.get("rl/updates", 0) > 0]
    assert {r["step"] for r in updated} == {1, 2, 3, 4}, updated
    assert all(r["rl/update/kl_ref"] >= -3 * 1.2e-7 for r in updated), updated
    assert any("sft_baseline/loss" in r for r in rows)
    # Steps redone after a resume are logged again; the curves hold each step once.
    steps, _ = series(read_metrics(RunPaths(run_dir)), "sft/loss")
    assert steps.tolist() == list(range(1, 13))
    assert any("eval_val/success" in r for r in rows) and any("eval_val_seen/success" in r for r in rows)
    table = (run_dir / "eval" / "summary.md").read_text()
    for label in ("before training", "after SFT", "after RL", "SFT continued"):
        assert label in table
    for policy in ("initial", "sft", "rl", "sft_baseline"):
        for split in ("val_seen", "val"):
            result = json.loads((run_dir / "eval" / f"{policy}_{split}.json").read_text())
            assert result["episodes"] == 2 and 0.0 <= result["success"] <= 1.0
            rows = [json.loads(line) for line in
                    (run_dir / "eval" / f"{policy}_{split}_episodes.jsonl").read_text().splitlines()]
            assert len(rows) == 2 and sum(r["reward"] for r in rows) / 2 == result["success"], rows
    assert list((run_dir / "samples").glob("rl_step*.md")) and list((run_dir / "plots").glob("*.png"))
    for stage in ("sft", "rl", "sft_baseline"):
        assert (run_dir / "hf" / stage / "config.json").exists(), stage
    assert (run_dir / "tensorboard").is_dir()
    assert (run_dir / "config.json").exists()

    # Rerunning the finished run redoes nothing and prints the same table.
    again = subprocess.run(command(run_dir), cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    for stage in ("sft", "rl", "sft_baseline"):
        assert f"{stage}: finished earlier" in again.stdout
    assert again.stdout.count("(evaluated earlier; reused)") == 8
    assert (run_dir / "eval" / "summary.md").read_text() == table

    # BFCL on every policy of the finished run (2 entries of 2 categories), then rerun: reused.
    ood = ["--set", "train.stages=ood_eval", "--set", "ood_eval.categories=simple_python,irrelevance",
           "--set", "ood_eval.entries_per_category=2", "--set", "ood_eval.concurrency=4"]
    scored = subprocess.run(command(run_dir) + ood, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert scored.returncode == 0, (scored.stdout + scored.stderr)[-4000:]
    for policy in ("initial", "sft", "rl", "sft_baseline"):
        result = json.loads((run_dir / "ood_eval" / f"{policy}.json").read_text())
        assert {c: s["total"] for c, s in result["scores"].items()} == {"simple_python": 2, "irrelevance": 2}
        assert all(0.0 <= s["accuracy"] <= 1.0 for s in result["scores"].values()) and result["wall_s"] > 0
    summary = (run_dir / "eval" / "summary.md").read_text()
    assert summary.startswith(table.rstrip("\n")) and "BFCL" in summary and summary.count("| after RL |") == 2
    again = subprocess.run(command(run_dir) + ood, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and again.stdout.count("scored earlier; reused") == 4, again.stdout[-3000:]
    assert (run_dir / "eval" / "summary.md").read_text() == summary

    # The loss-by-role diagnostic on the same run: one table per kept SFT checkpoint.
    diag = [sys.executable, "-S", str(REPO / "experiments" / "research" / "loss_by_role.py"), str(run_dir), "--num-tasks", "2"]
    shown = subprocess.run(diag, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert shown.returncode == 0, shown.stderr[-3000:]
    assert shown.stdout.count("sft step") == 3 and "| tool name |" in shown.stdout, shown.stdout
    missing = subprocess.run(diag + ["--steps", "999"], cwd=REPO, env=env, capture_output=True, text=True,
                             timeout=300)
    assert missing.returncode != 0 and "no sft checkpoint at steps [999]" in missing.stderr
