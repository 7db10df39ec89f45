"""`train.one_step_off_policy`: step k+1's episodes are sampled while step k trains, every one of
them with the params from before step k's updates. The real sandbox, sampler and learner run;
the engine is wrapped only to record, at each weight sync, how many generations were in flight
and, for each generation, the params version it started and ended under."""
from __future__ import annotations

import contextlib
import pathlib
import threading

import pytest

from codegym_jax.metrics import read_metrics
from codegym_jax.run_paths import RunPaths
from codegym_jax.train import components, stages
from codegym_jax.train.config_io import resolve_config

REPO = pathlib.Path(__file__).resolve().parents[1]

OVERRIDES = [
    'train.stages=["data","rl"]',
    'data.train_envs=["LongestCommonPrefixShortcutEnv"]', "data.train_per_env=8", "data.val_per_env=2",
    "rollout.group_size=4", "rollout.sampler_slots=8", "rollout.max_new_tokens_per_turn=48",
    "rollout.max_turns=6",
    "train.rl_steps=3", "train.tasks_per_step=2", "train.mini_batch_size=8", "train.micro_batch_size=8",
    "algorithm.dynamic_sampling=false", "algorithm.loss.tis_cap=2.0",
    # The untrained policy earns no reward; an entropy bonus, no warm-up and a high lr make every
    # update move the params anyway, so a stale sampler shows in the log-probs.
    "algorithm.loss.entropy_coef=0.01", "optimizer.learning_rate=1e-3", "optimizer.warmup_steps=0",
    "eval.every_steps=0", "checkpoint.every_steps=10", "logging.progress_bars=false",
    "logging.tensorboard=false", "logging.samples_per_step=0",
]


class SyncRecorder:
    """The real engine, with a record of weight syncs and of each generation's params versions."""

    def __init__(self, engine):
        self.engine = engine
        self.lock = threading.Lock()
        self.in_flight = 0
        self.syncs: list[tuple[int, int]] = []  # (version, generations in flight)
        self.generations: list[tuple[int, int]] = []  # (version at start, version at end)

    def __getattr__(self, name):
        return getattr(self.engine, name)

    async def generate_async(self, prompt_token_ids, sampling):
        with self.lock:
            self.in_flight += 1
            started = self.engine.version
        try:
            return await self.engine.generate_async(prompt_token_ids, sampling)
        finally:
            with self.lock:
                self.in_flight -= 1
                self.generations.append((started, self.engine.version))

    def update_weights(self, params, version):
        with self.lock:
            self.syncs.append((version, self.in_flight))
        return self.engine.update_weights(params, version)


@pytest.mark.slow
@pytest.mark.parametrize("off_policy", [True, False])
def test_each_step_trains_on_episodes_of_one_params_version(tmp_path, monkeypatch, off_policy):
    config = resolve_config(str(REPO / "experiments" / "configs" / "tiny_cpu.py"),
                            OVERRIDES + [f"logging.run_dir={tmp_path}", f"train.one_step_off_policy={off_policy}"])
    recorders = []
    real_open_engine = components.open_engine

    @contextlib.contextmanager
    def recording_engine(*args, **kwargs):
        with real_open_engine(*args, **kwargs) as engine:
            recorders.append(SyncRecorder(engine))
            yield recorders[-1]

    monkeypatch.setattr(components, "open_engine", recording_engine)
    for stage in config.train.stages:
        stages.run_stage(stage, config, RunPaths(tmp_path))

    (engine,) = recorders
    # The weights change only between rollouts, never under a generation.
    # Off-policy, step 3's params are never handed over: no rollout comes after them.
    assert [v for v, _ in engine.syncs] == ([1, 2] if off_policy else [1, 2, 3]), engine.syncs
    assert all(n == 0 for _, n in engine.syncs), engine.syncs
    assert engine.generations and all(a == b for a, b in engine.generations)
    rows = [r for r in read_metrics(RunPaths(tmp_path)) if "rl/policy_lag" in r]
    assert [r["rl/policy_lag"] for r in rows] == ([0.0, 1.0, 1.0] if off_policy else [0.0, 0.0, 0.0])
    assert all(r["rl/updates"] == 1 for r in rows), rows
    # Episodes of version k-1 trained at step k: the learner's log-probs differ from the sampler's
    # (by 0.4-0.8 a token); on one version they agree to float32 rounding (~1e-7): 1e-3 lies
    # orders of magnitude from both.
    gaps = [r["rl/update/sampler_logprob_gap"] for r in rows]
    if off_policy:
        assert gaps[0] < 1e-3 < min(gaps[1:]), gaps
    else:
        assert max(gaps) < 1e-3, gaps
