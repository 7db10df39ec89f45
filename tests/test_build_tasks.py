"""Task data builder: filters, held-out split, determinism, records readable back."""
from __future__ import annotations

import pathlib

import pytest

from codegym_jax.envs import build_tasks as bt
from codegym_jax.envs.library import env_class_name, library_env_files
from codegym_jax.envs.tasks import read_tasks
from sandbox.pool import SandboxPool


@pytest.fixture(scope="module")
def pool():
    with SandboxPool() as p:
        yield p


def test_library_lists_every_env_file_once():
    files = library_env_files()
    assert len(files) >= 20
    for name, path in files.items():
        assert env_class_name(path.read_text()) == name
    assert set(bt.HELDOUT_ENVS) <= set(files)


def test_splits_filters_and_heldout(pool, tmp_path):
    files = library_env_files()
    opts = bt.BuildOptions(train_per_env=3, val_per_env=2, min_oracle_steps=10, max_oracle_steps=256)
    tasks = bt.build_tasks(pool, files, opts, parallel_jobs=2, log=lambda m: None)
    paths = bt.write_task_files(tmp_path, tasks)
    train, seen, val = (read_tasks(str(paths[s])) for s in ("train", "val_seen", "val"))
    assert train == tasks["train"] and val == tasks["val"]
    assert {t.env_name for t in val} == set(bt.HELDOUT_ENVS)
    assert not {t.env_name for t in train} & set(bt.HELDOUT_ENVS)
    assert {t.env_name for t in seen} == {t.env_name for t in train}
    assert not {t.env_str for t in train} & {t.env_str for t in seen}
    for split in (train, seen, val):
        assert len({t.env_str for t in split}) == len(split), "an instance repeats within a split"
    for t in train + seen + val:
        assert 10 <= t.oracle_steps <= 256
        assert t.task_description and pathlib.Path(t.env_file).exists()
    # Most (env, difficulty) pairs fill their quota; the rest logged why.
    assert len(train) >= 0.8 * 3 * 3 * (len(files) - len(bt.HELDOUT_ENVS))


def test_build_is_deterministic_and_respects_a_tight_filter(pool):
    files = dict(list(library_env_files().items())[:3])
    opts = bt.BuildOptions(train_per_env=2, val_per_env=1, heldout=(), difficulties=("easy",),
                           min_oracle_steps=10, max_oracle_steps=30)
    first = bt.build_tasks(pool, files, opts, parallel_jobs=2, log=lambda m: None)
    second = bt.build_tasks(pool, files, opts, parallel_jobs=2, log=lambda m: None)
    assert first == second
    assert all(10 <= t.oracle_steps <= 30 for t in first["train"])


def test_unknown_heldout_env_is_an_error(pool):
    with pytest.raises(ValueError, match=r"held-out envs \['NoSuchEnv'\]"):
        bt.build_tasks(pool, library_env_files(), bt.BuildOptions(heldout=("NoSuchEnv",)), parallel_jobs=2)


def test_cli_writes_three_files(tmp_path):
    rc = bt.main(["--out", str(tmp_path), "--train-per-env", "1", "--val-per-env", "1",
                  "--difficulties", "easy"])
    assert rc == 0
    assert {p.name for p in tmp_path.iterdir()} == {"train.jsonl", "val_seen.jsonl", "val.jsonl"}
