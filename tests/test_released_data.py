"""Released CodeGym data as the data source: env files `{code_id}__{EnvName}.py` whose class
names repeat across code_ids, and records (JSONL or Parquet) with their own prompts. The data
stage streams them through the real sandbox; run.py trains and evaluates on them; each bad input
a new user meets stops with a message naming the cause, and no file that existed changes."""
import hashlib
import json
import pathlib
import shutil
import subprocess
import sys

import pytest

from codegym_jax.envs.build_released import SPLITS, ReleasedOptions, build_released_tasks, plan_splits
from codegym_jax.envs.released import iter_raw_records, iter_records, write_released_copies
from codegym_jax.envs.tasks import read_tasks
from codegym_jax.evaluation import episode_tasks
from codegym_jax.rollout import tokenizer as tokenizer_lib
from codegym_jax.rollout.agent_loop import EpisodeConfig, _Episode
from codegym_jax.run_paths import RunPaths
from codegym_jax.train.config import ConfigError
from codegym_jax.train.config_io import resolve_config
from codegym_jax.train.data_stage import run_data_stage
from sandbox.pool import SandboxPool

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "experiments" / "released_example"
CONFIG = ROOT / "experiments" / "configs" / "tiny_cpu_released.py"


@pytest.fixture(scope="module")
def pool():
    with SandboxPool() as p:
        yield p


@pytest.fixture
def released(tmp_path):
    """Two copies of the example folder: 6 env files, each class name under 2 code_ids."""
    env_dir, records = write_released_copies(EXAMPLE, tmp_path / "released", copies=2)
    return env_dir, records


def snapshot(root: pathlib.Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_copies_share_class_names_under_distinct_code_ids(released):
    env_dir, records = released
    names = [p.stem.rsplit("__", 1)[1] for p in env_dir.iterdir()]
    assert len(names) == 6 and len(set(names)) == 3
    keys = {r.env_key for r in iter_records([str(records)], env_dir)}
    assert len(keys) == 6


def test_split_plan_is_seeded_by_environment_and_instance(released):
    env_dir, records = released
    recs = list(iter_records([str(records)], env_dir))
    opts = ReleasedOptions(heldout_fraction=0.34, val_seen_per_env=2)
    plan, counts = plan_splits(recs, opts)
    assert plan == plan_splits(recs, opts)[0]  # deterministic
    assert plan != plan_splits(recs, ReleasedOptions(seed=1, heldout_fraction=0.34, val_seen_per_env=2))[0]
    by_env: dict[str, set[int]] = {}
    for r, split in zip(recs, plan):
        by_env.setdefault(r.env_key, set()).add(split)
    heldout = [k for k, s in by_env.items() if s == {SPLITS.index("val")}]
    assert len(heldout) == counts["heldout_envs"] == 2  # round(0.34 * 6)
    for key, splits in by_env.items():
        if key not in heldout:
            assert splits == {0, 1}, key  # training envs: train and val_seen, never val
            assert sum(1 for r, s in zip(recs, plan) if r.env_key == key and s == 1) == 2


def test_a_repeated_instance_is_kept_once(tmp_path):
    lines = (EXAMPLE / "records.jsonl").read_text().splitlines()
    (tmp_path / "records.jsonl").write_text("\n".join(lines + lines[:3]) + "\n")
    recs = list(iter_records([str(tmp_path / "records.jsonl")], EXAMPLE))
    plan, counts = plan_splits(recs, ReleasedOptions())
    assert counts["duplicates"] == 3 and list(plan[-3:]) == [255] * 3


def test_jsonl_and_parquet_give_the_same_task_files(tmp_path, pool):
    outs = []
    for fmt in ("jsonl", "parquet"):
        env_dir, records = write_released_copies(EXAMPLE, tmp_path / fmt, copies=3, record_format=fmt)
        build = build_released_tasks(pool, [str(records)], env_dir, ReleasedOptions(), 2, tmp_path / fmt / "tasks")
        assert build.stats["oracle_failed"] == 0 and build.stats["filtered"] == 0
        assert sum(build.counts.values()) == build.stats["records"] == 72
        outs.append({s: [t.env_str for t in read_tasks(str(build.tmp_paths[s]))] for s in SPLITS})
    assert outs[0] == outs[1]


def test_nothing_is_written_when_a_needed_split_is_empty(tmp_path, pool):
    opts = ReleasedOptions(max_oracle_steps=5)  # every example oracle takes 11 or more calls
    with pytest.raises(ValueError, match=r"no usable instances for split\(s\) \['train'.*24 fell outside the "
                                         r"oracle-length filter \(10\.\.5 steps\); nothing was written"):
        build_released_tasks(pool, [str(EXAMPLE / "records.jsonl")], EXAMPLE, opts, 2, tmp_path / "tasks")
    assert list((tmp_path / "tasks").iterdir()) == []


@pytest.mark.parametrize("line, message", [
    ('{"prompt": []}', "has no 'ability' field"),
    ('{"ability": "other@A__B@{}"}', "does not start with 'codegym_v1@'"),
    ('{"ability": "codegym_v1@Nope_1__NopeEnv@{}"}', "Nope_1__NopeEnv.py does not exist"),
    ('{"ability": "codegym_v1@Toy_00001_I__RunningMaxEnv@{}", "prompt": [{"role": "user"}]}', r"prompt\[0\] must be"),
    ('{"ability": "codegym_v1@Toy_00001_I__RunningMaxEnv@{}", "code_id": "Other"}', "disagrees"),
])
def test_bad_records_name_the_line_and_the_problem(tmp_path, line, message):
    path = tmp_path / "records.jsonl"
    path.write_text((EXAMPLE / "records.jsonl").read_text() + line + "\n")
    with pytest.raises(ValueError, match=f"records.jsonl:25: .*{message}"):
        list(iter_records([str(path)], EXAMPLE))


def config(tmp_path, *overrides):
    return resolve_config(CONFIG, [f"logging.run_dir={tmp_path / 'run'}", *overrides])


def paths_of(cfg) -> RunPaths:
    from codegym_jax.train.config import run_paths

    return run_paths(cfg)


def test_record_prompts_open_each_episode_with_exactly_the_record(tmp_path):
    cfg = config(tmp_path)
    paths = paths_of(cfg)
    run_data_stage(cfg, paths)
    by_env_str = {json.loads(line)["ability"].split("__", 1)[1]: json.loads(line)["prompt"]
                  for line in (EXAMPLE / "records.jsonl").read_text().splitlines()}
    tok = tokenizer_lib.load(cfg.model.hf_path)
    tasks = [t for s in SPLITS for t in read_tasks(str(paths.task_file(s)))]
    assert len(tasks) == 24
    for task, ep_task in zip(tasks, episode_tasks(tasks)):
        expected = list(tok.apply_chat_template(by_env_str[task.env_str], add_generation_prompt=True,
                                                tokenize=True, return_dict=False))
        assert _Episode(tok, ep_task, EpisodeConfig()).buffer.tokens == expected, task.env_str
    # Off, the project's own prompt opens the episode (the records' prompts are not kept).
    plain = config(tmp_path / "plain", "data.released.record_prompts=false")
    run_data_stage(plain, paths_of(plain))
    assert all(t.prompt is None for t in read_tasks(str(paths_of(plain).task_file("train"))))


def test_config_checks_name_the_fields():
    with pytest.raises(ConfigError, match=r"\['data.train_envs'\] shape generated instances"):
        resolve_config(CONFIG, ['data.train_envs=["X"]'])
    with pytest.raises(ConfigError, match="set rollout.tool_format='codegym'"):
        resolve_config(CONFIG, ["rollout.tool_format=native"])
    with pytest.raises(ConfigError, match="needs the records' env folder as data.env_dir"):
        resolve_config(CONFIG, ["data.env_dir="])
    with pytest.raises(ConfigError, match="heldout_fraction=1.0 must be in"):
        resolve_config(CONFIG, ["data.released.heldout_fraction=1.0"])


def generated_config(tmp_path, env_dir, *overrides):
    """The built-in-data path (generate()) pointed at `env_dir`, as a new user first tries."""
    return config(tmp_path, "data.released.records=[]", "data.released.record_prompts=false",
                  f"data.env_dir={env_dir}", *overrides)


def test_a_released_folder_without_records_says_why(tmp_path, released):
    env_dir, _ = released
    before = snapshot(tmp_path)
    with pytest.raises(ValueError, match=r"env class '\w+' is defined in both .*give them as data.released.records"):
        run_data_stage(cfg := generated_config(tmp_path, env_dir), paths_of(cfg))
    assert snapshot(tmp_path) == before
    single = tmp_path / "single"
    single.mkdir()
    shutil.copy(EXAMPLE / "Toy_00001_I__RunningMaxEnv.py", single)
    before = snapshot(tmp_path)
    with pytest.raises(ValueError, match=r"define no generate\(\), so no instances can be made .*data.released.records"):
        run_data_stage(cfg := generated_config(tmp_path, single), paths_of(cfg))
    assert snapshot(tmp_path) == before
    assert not (tmp_path / "run" / "tasks").exists()


def test_released_records_given_as_the_task_folder_say_so(tmp_path):
    task_dir = tmp_path / "tasks"
    task_dir.mkdir()
    for split in SPLITS:
        shutil.copy(EXAMPLE / "records.jsonl", task_dir / f"{split}.jsonl")
    before = snapshot(tmp_path)
    cfg = config(tmp_path, f"data.task_dir={task_dir}")
    with pytest.raises(ValueError, match="train.jsonl:1 is a released CodeGym record, not a task instance: give "
                                         "record files as data.released.records"):
        run_data_stage(cfg, paths_of(cfg))
    assert snapshot(tmp_path) == before


def test_a_users_partial_task_folder_is_never_overwritten(tmp_path):
    task_dir = tmp_path / "tasks"
    task_dir.mkdir()
    (task_dir / "train.jsonl").write_text("my own tasks\n")
    before = snapshot(tmp_path)
    cfg = config(tmp_path, f"data.task_dir={task_dir}")
    with pytest.raises(ValueError, match=r"\['.*train.jsonl'\] exist but \['val_seen.jsonl', 'val.jsonl'\] do not;"
                                         r".*never overwrites a file it did not write"):
        run_data_stage(cfg, paths_of(cfg))
    assert snapshot(tmp_path) == before


def test_an_interrupted_data_stage_is_rebuilt(tmp_path):
    cfg = config(tmp_path)
    paths = paths_of(cfg)
    run_data_stage(cfg, paths)
    first = paths.task_file("val").read_bytes()
    paths.task_file("val").unlink()  # as if killed between moving its files into place
    run_data_stage(cfg, paths)
    assert paths.task_file("val").read_bytes() == first


@pytest.mark.slow
def test_run_py_trains_and_evaluates_on_released_data(tmp_path, released):
    env_dir, records = released
    run_dir = tmp_path / "run"
    sets = [f"logging.run_dir={run_dir}", f"data.env_dir={env_dir}", f'data.released.records=["{records}"]',
            "data.released.heldout_fraction=0.2", 'train.stages=["data","sft","rl","eval"]',
            "train.sft_steps=4", "train.sft_batch_size=4", "train.rl_steps=1", "train.tasks_per_step=2",
            "rollout.group_size=2", "train.mini_batch_size=4", "train.micro_batch_size=4", "eval.num_tasks=2",
            "eval.samples_per_task=1", "eval.pass_k=1", "eval.every_steps=0", "logging.progress_bars=false"]
    out = subprocess.run([sys.executable, str(ROOT / "experiments" / "run.py"), "--config", str(CONFIG),
                          *[a for s in sets for a in ("--set", s)]], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
    assert "'records': 48, 'duplicates': 0, 'envs': 6, 'heldout_envs': 1, 'oracle_failed': 0, 'filtered': 0" in out.stdout
    paths = RunPaths(run_dir)
    tasks = {s: read_tasks(str(paths.task_file(s))) for s in SPLITS}
    assert sum(len(t) for t in tasks.values()) == 48  # every record's oracle reached reward 1
    val_keys = {t.env_key for t in tasks["val"]}
    assert len(val_keys) == 1 and not val_keys & {t.env_key for t in tasks["train"]}
    assert all(t.prompt for s in SPLITS for t in tasks[s])
    for policy in ("initial", "sft", "rl"):
        for split in ("val_seen", "val"):
            assert json.loads(paths.eval_result(policy, split).read_text())["episodes"] == 2
    assert paths.eval_summary.exists() and paths.done_file("rl").exists()
    assert len(list(iter_raw_records(records))) == 48  # the user's records are untouched
