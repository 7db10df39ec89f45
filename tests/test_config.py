"""Experiment config: defaults, overrides parsed to field types, strict errors, JSON round trip."""
from __future__ import annotations

import dataclasses
import json
import pathlib
import subprocess
import sys

import pytest

from codegym_jax.train import config as C
from codegym_jax.train import config_io

ROOT = pathlib.Path(__file__).resolve().parents[1]
CONFIG_DIR = ROOT / "experiments" / "configs"


def test_every_concern_is_a_frozen_dataclass():
    cfg = C.ExperimentConfig()
    groups = [f.name for f in dataclasses.fields(cfg) if dataclasses.is_dataclass(getattr(cfg, f.name))]
    assert set(groups) == {
        "model", "mesh", "rollout", "sandbox", "data", "algorithm",
        "optimizer", "sft_optimizer", "train", "eval", "ood_eval", "checkpoint", "logging",
    }
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.model.remat = True  # type: ignore[misc]


def test_paper_defaults():
    cfg = C.ExperimentConfig()
    assert cfg.optimizer.learning_rate == 1e-6 and cfg.optimizer.warmup_steps == 5
    assert (cfg.optimizer.b1, cfg.optimizer.b2, cfg.optimizer.weight_decay) == (0.9, 0.95, 0.1)
    assert cfg.algorithm.loss.clip_low == 0.2 and cfg.algorithm.loss.kl_coef == 0.0
    assert cfg.rollout.group_size == 8 and cfg.rollout.max_turns == 256
    assert (cfg.data.min_oracle_steps, cfg.data.max_oracle_steps) == (10, 256)


@pytest.mark.parametrize(
    "override, path, expected",
    [
        ("train.rl_steps=7", ("train", "rl_steps"), 7),
        ("optimizer.learning_rate=3e-4", ("optimizer", "learning_rate"), 3e-4),
        ("optimizer.learning_rate=2", ("optimizer", "learning_rate"), 2.0),
        ("checkpoint.async_save=false", ("checkpoint", "async_save"), False),
        ("checkpoint.async_save=YES", ("checkpoint", "async_save"), True),
        ("rollout.engine=sglang", ("rollout", "engine"), "sglang"),
        ("model.hf_path=/models/qwen 0.5b", ("model", "hf_path"), "/models/qwen 0.5b"),
        ("model.hf_path=", ("model", "hf_path"), ""),
        ("rollout.sglang_urls=http://a:1,http://b:2", ("rollout", "sglang_urls"), ("http://a:1", "http://b:2")),
        ('eval.pass_k=[1, 4, 8]', ("eval", "pass_k"), (1, 4, 8)),
        ("eval.pass_k=1,2", ("eval", "pass_k"), (1, 2)),
        ("train.stages=data,rl", ("train", "stages"), ("data", "rl")),
        ("name=x=y", ("name",), "x=y"),
        ("sandbox.limits.call_deadline_s=0.5", ("sandbox", "limits", "call_deadline_s"), 0.5),
        ("data.heldout_envs=", ("data", "heldout_envs"), ()),
    ],
)
def test_good_overrides_parse_to_field_type(override, path, expected):
    cfg = config_io.apply_overrides(C.ExperimentConfig(), [override])
    value = cfg
    for p in path:
        value = getattr(value, p)
    assert value == expected
    assert type(value) is type(expected)


def test_overrides_apply_in_order_and_leave_the_rest():
    base = C.ExperimentConfig()
    cfg = config_io.apply_overrides(base, ["train.rl_steps=1", "train.rl_steps=2", "mesh.fsdp=4"])
    assert cfg.train.rl_steps == 2 and cfg.mesh.fsdp == 4
    assert cfg.train.tasks_per_step == base.train.tasks_per_step
    assert base.train.rl_steps == 100  # the original is untouched


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.rl_stepz=3", r"unknown config key 'train.rl_stepz'.*no field 'rl_stepz'.*allowed: \[.*'rl_steps'"),
        ("trian.rl_steps=3", r"no field 'trian'.*allowed: \[.*'train'"),
        ("train.rl_steps=three", r"train.rl_steps: 'three' is not an int"),
        ("train.rl_steps=1.5", r"train.rl_steps: '1.5' is not an int"),
        ("optimizer.learning_rate=fast", r"optimizer.learning_rate: 'fast' is not a float"),
        ("checkpoint.async_save=maybe", r"checkpoint.async_save: 'maybe' is not a bool"),
        ("rollout.engine=vllm", r"rollout.engine: 'vllm' is not allowed; expected one of 'jax', 'sglang'"),
        ("train.stages=data,fly", r"train.stages: 'fly' is not allowed"),
        ("train=3", r"train is a group of fields.*train.rl_steps"),
        ("train.rl_steps.x=3", r"'rl_steps' is a value \(int\), not a group"),
        ("train.rl_steps", r"not of the form a.b.c=value"),
        ("eval.pass_k=[1,", r"eval.pass_k: .* is not a JSON list"),
        ("sandbox.limits.call_deadline_s=-1", r"sandbox.limits.call_deadline_s: .*must be > 0, got -1"),
        ("data.difficulties=easy,extreme", r"data.difficulties: 'extreme' is not allowed"),
    ],
)
def test_bad_overrides_name_the_key_and_what_is_allowed(override, message):
    with pytest.raises(C.ConfigError, match=message):
        config_io.apply_overrides(C.ExperimentConfig(), [override])


def test_pass_k_beyond_the_samples_per_task_is_refused_after_all_overrides():
    # Overrides apply one at a time, so the check waits for the whole config: lowering
    # samples_per_task and then pass_k is fine.
    ok = config_io.apply_overrides(C.ExperimentConfig(), ["eval.samples_per_task=2", "eval.pass_k=1,2"])
    assert C.check_config(ok) is ok
    lowered = config_io.apply_overrides(ok, ["eval.samples_per_task=1"])
    with pytest.raises(C.ConfigError, match=r"eval.pass_k=\[1, 2\] holds \[2\], outside 1..eval.samples_per_task=1"):
        C.check_config(lowered)
    with pytest.raises(C.ConfigError, match=r"holds \[0\]"):
        C.check_config(config_io.apply_overrides(ok, ["eval.pass_k=0,1"]))
    assert C.check_config(config_io.apply_overrides(lowered, ["eval.pass_k=1"])).eval.pass_k == (1,)


def test_off_policy_rollouts_without_a_correction_are_refused():
    stale = config_io.apply_overrides(C.ExperimentConfig(), ["train.one_step_off_policy=true"])
    with pytest.raises(C.ConfigError, match=r"one_step_off_policy=true .* set algorithm.loss.tis_cap"):
        C.check_config(stale)
    for fix in ("algorithm.loss.tis_cap=2.0", "algorithm.old_logprobs=sampler"):
        C.check_config(config_io.apply_overrides(stale, [fix]))


@pytest.mark.parametrize("overrides, message", [
    (["ood_eval.categories=simple_python,web_search_base"], r"\['web_search_base'\]; the BFCL categories that run offline"),
    (["ood_eval.categories="], r"ood_eval.categories=\[\]: empty"),
    (["ood_eval.concurrency=0"], r"concurrency=0"),
    (["ood_eval.entries_per_category=-1"], r"entries_per_category=-1"),
])
def test_ood_eval_settings_are_checked_before_the_run(overrides, message):
    with pytest.raises(C.ConfigError, match=message):
        C.check_config(config_io.apply_overrides(C.ExperimentConfig(), overrides))
    assert C.check_config(config_io.apply_overrides(C.ExperimentConfig(), ["ood_eval.categories=irrelevance"]))


def test_run_py_refuses_an_inconsistent_config_before_writing_anything(tmp_path):
    run_dir = tmp_path / "run"
    out = subprocess.run(
        [sys.executable, str(ROOT / "experiments" / "run.py"), "--config", str(CONFIG_DIR / "tiny_cpu.py"),
         "--set", f"logging.run_dir={run_dir}", "--set", "eval.samples_per_task=1", "--dry-run"],
        capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 2
    assert "config error: eval.pass_k=[1, 2] holds [2]" in out.stderr
    assert not run_dir.exists()


def test_json_round_trip(tmp_path):
    cfg = config_io.apply_overrides(
        C.ExperimentConfig(), ["name=rt", "eval.pass_k=1,8", "rollout.sglang_urls=http://h:30000"]
    )
    path = tmp_path / "config.json"
    config_io.save_config(cfg, path)
    assert config_io.load_config(path) == cfg
    assert json.loads(path.read_text())["eval"]["pass_k"] == [1, 8]


@pytest.mark.parametrize(
    "doc, message",
    [
        ({"model": {"hidden_sise": 3}}, r"unknown field\(s\) \['hidden_sise'\] in model; allowed"),
        ({"bogus": 1}, r"unknown field\(s\) \['bogus'\] in ExperimentConfig"),
        ({"train": {"rl_steps": "3"}}, r"train.rl_steps: expected an int, got '3'"),
        ({"train": {"rl_steps": True}}, r"train.rl_steps: expected an int, got True"),
        ({"rollout": {"engine": "vllm"}}, r"rollout.engine: 'vllm' is not allowed"),
        ({"eval": {"pass_k": 4}}, r"eval.pass_k: expected a list"),
        ({"mesh": 3}, r"mesh: expected an object for MeshConfig"),
        ({"sandbox": {"limits": {"open_files": 0}}}, r"sandbox.limits: .*open_files must be > 0"),
    ],
)
def test_bad_json_is_a_clear_error(tmp_path, doc, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(C.ConfigError, match=message):
        config_io.load_config(path)


def test_partial_json_fills_defaults(tmp_path):
    path = tmp_path / "partial.json"
    path.write_text(json.dumps({"name": "p", "optimizer": {"learning_rate": 1}}))
    cfg = config_io.load_config(path)
    assert cfg.optimizer.learning_rate == 1.0 and isinstance(cfg.optimizer.learning_rate, float)
    assert cfg.model == C.PolicyConfig()


def test_missing_and_malformed_config_files(tmp_path):
    with pytest.raises(C.ConfigError, match="does not exist"):
        config_io.load_config(tmp_path / "nope.py")
    (tmp_path / "x.yaml").write_text("a: 1")
    with pytest.raises(C.ConfigError, match="must be a .py module or a .json file"):
        config_io.load_config(tmp_path / "x.yaml")
    (tmp_path / "no_fn.py").write_text("X = 1\n")
    with pytest.raises(C.ConfigError, match="has no get_config"):
        config_io.load_config(tmp_path / "no_fn.py")
    (tmp_path / "wrong.py").write_text("def get_config():\n    return {}\n")
    with pytest.raises(C.ConfigError, match="returned dict, not ExperimentConfig"):
        config_io.load_config(tmp_path / "wrong.py")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(C.ConfigError, match="is not valid JSON"):
        config_io.load_config(tmp_path / "broken.json")


@pytest.mark.parametrize("path", sorted(CONFIG_DIR.glob("*.py")), ids=lambda p: p.name)
def test_shipped_configs_load(path):
    if path.name == "__init__.py":
        return
    cfg = config_io.load_config(path)
    assert isinstance(cfg, C.ExperimentConfig)
    assert C.check_config(cfg) is cfg  # the cross-field checks run.py applies
    assert config_io.config_from_dict(config_io.config_to_dict(cfg)) == cfg


def test_run_py_prints_and_saves_resolved_config_and_reruns_from_json(tmp_path):
    run_dir = tmp_path / "run"
    cmd = [
        sys.executable, str(ROOT / "experiments" / "run.py"),
        "--config", str(CONFIG_DIR / "tiny_cpu.py"),
        "--set", f"logging.run_dir={run_dir}", "--set", "train.rl_steps=3", "--dry-run",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    saved = run_dir / "config.json"
    assert '"rl_steps": 3' in out.stdout
    first = config_io.load_config(saved)
    assert first.train.rl_steps == 3
    rerun = subprocess.run(
        [sys.executable, str(ROOT / "experiments" / "run.py"), "--config", str(saved), "--dry-run"],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert rerun.returncode == 0, rerun.stderr
    assert config_io.load_config(saved) == first


def data_stage_command(run_dir, stages: str, max_oracle_steps: int) -> list[str]:
    """run.py with one easy instance per env and split, through the given stages."""
    sets = [f"logging.run_dir={run_dir}", f"train.stages={stages}", "data.train_per_env=1",
            "data.val_per_env=1", "data.difficulties=easy", f"data.max_oracle_steps={max_oracle_steps}"]
    return [sys.executable, str(ROOT / "experiments" / "run.py"), "--config", str(CONFIG_DIR / "tiny_cpu.py"),
            *[a for s in sets for a in ("--set", s)]]


def test_run_py_data_stage_builds_then_reuses_task_files(tmp_path):
    run_dir = tmp_path / "run"
    cmd = data_stage_command(run_dir, "data", 256)
    first = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    for split in ("train", "val_seen", "val"):
        assert (run_dir / "tasks" / f"{split}.jsonl").stat().st_size > 0
    assert "-> " in first.stdout
    second = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert second.returncode == 0 and "(reused)" in second.stdout


def test_run_py_data_stage_refuses_an_empty_split_a_later_stage_needs(tmp_path):
    run_dir = tmp_path / "run"
    out = subprocess.run(data_stage_command(run_dir, "data,sft", 2), capture_output=True, text=True,
                         cwd=tmp_path)
    assert out.returncode != 0
    assert "no task instances for split(s) ['train']" in out.stderr
    assert "data.max_oracle_steps=2" in out.stderr
    assert not (run_dir / "tasks" / "train.jsonl").exists()  # nothing half-built is left to be reused


def test_run_py_bad_override_exits_with_message(tmp_path):
    out = subprocess.run(
        [sys.executable, str(ROOT / "experiments" / "run.py"), "--config",
         str(CONFIG_DIR / "tiny_cpu.py"), "--set", "train.nope=1", "--dry-run"],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert out.returncode == 2
    assert "unknown config key 'train.nope'" in out.stderr

