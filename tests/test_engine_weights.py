"""The one-step-off-policy rule (`codegym_jax.train.weight_sync.EngineWeights`): which params
version the engine holds, and when it may take new ones."""
from __future__ import annotations

import jax.numpy as jnp
import pytest

from codegym_jax.train.weight_sync import EngineWeights


class RecordingEngine:
    def __init__(self):
        self.updates: list[tuple[object, int]] = []

    def update_weights(self, params, version):
        self.updates.append((params, version))


def test_on_policy_the_engine_takes_each_update_at_once_and_the_rollout_waits():
    engine = RecordingEngine()
    weights = EngineWeights(engine, one_step_off_policy=False, copy_params=False)
    assert not weights.rollout_during_update()
    params = {"w": jnp.ones(3)}
    weights.updated(params, 1)
    assert engine.updates == [(params, 1)] and weights.version == 1 and not weights.pending
    weights.rollout_finished()  # nothing waits
    assert len(engine.updates) == 1


def test_off_policy_new_params_wait_for_the_rollout_that_samples_with_the_old_ones():
    engine = RecordingEngine()
    weights = EngineWeights(engine, one_step_off_policy=True, copy_params=False)
    assert weights.rollout_during_update()
    weights.updated({"w": jnp.ones(3)}, 1)
    assert engine.updates == [] and weights.pending and weights.version == 0
    weights.rollout_finished()
    assert [v for _, v in engine.updates] == [1] and weights.version == 1 and not weights.pending


def test_off_policy_a_second_update_before_the_rollout_is_in_would_skip_a_version():
    weights = EngineWeights(RecordingEngine(), one_step_off_policy=True, copy_params=False)
    weights.updated({"w": jnp.ones(3)}, 1)
    with pytest.raises(RuntimeError, match="version 2 arrived while version 1 still waits"):
        weights.updated({"w": jnp.ones(3)}, 2)


def test_an_eval_waits_for_the_rollout_then_measures_the_latest_params():
    engine = RecordingEngine()
    weights = EngineWeights(engine, one_step_off_policy=True, copy_params=False)
    waited = []
    weights.before_eval(lambda: waited.append("rollout"))
    assert waited == [] and engine.updates == []  # nothing pending: no wait
    weights.updated({"w": jnp.ones(3)}, 1)
    weights.before_eval(lambda: waited.append("rollout"))
    assert waited == ["rollout"] and [v for _, v in engine.updates] == [1]


def test_params_the_update_donates_reach_the_engine_as_a_copy():
    engine = RecordingEngine()
    weights = EngineWeights(engine, one_step_off_policy=True, copy_params=True)
    params = {"w": jnp.arange(3.0)}
    weights.updated(params, 1)
    params["w"].delete()  # what donating the train state does to its buffers
    weights.rollout_finished()
    (held, version), = engine.updates
    assert version == 1 and held["w"].tolist() == [0.0, 1.0, 2.0]


def test_versions_only_move_forward():
    weights = EngineWeights(RecordingEngine(), one_step_off_policy=False, copy_params=False, version=3)
    with pytest.raises(ValueError, match="version 3 is not newer than the engine's 3"):
        weights.updated({}, 3)
