"""`codegym_jax.rl.step.rl_step` on a hand-made trajectory list and a tiny model: which groups
train, how many updates, and the first update's loss against a NumPy computation of the
GRPO objective. The same tests run again in a process where `experiments` cannot be imported."""
from __future__ import annotations

import dataclasses
import pathlib
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from codegym_jax.models.config import DecoderConfig
from codegym_jax.rl import learner, objectives
from codegym_jax.rl.losses import LossConfig
from codegym_jax.rl.step import RLStepSettings, group_episodes, rl_step, train_steps_by_rows, update_summary
from codegym_jax.rollout.trajectory import Trajectory
from codegym_jax.sharding import make_mesh
from codegym_jax.train import stages  # noqa: F401  (the stage functions import without experiments)
from tolerances import assert_within
from xla_flags import child_env

REPO = pathlib.Path(__file__).resolve().parents[1]
CFG = DecoderConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_layers=1, num_heads=2,
                    num_kv_heads=1, head_dim=16, max_position_embeddings=128)
GROUP = 4


def fake_episode(rng: np.random.Generator, reward: float, group_id: int) -> Trajectory:
    """A prompt of 6 tokens, then 4-9 sampled tokens; the sampler's log-probs are made up."""
    prompt, sampled = 6, int(rng.integers(4, 10))
    n = prompt + sampled
    mask = np.r_[np.zeros(prompt, np.int32), np.ones(sampled, np.int32)]
    return Trajectory(
        tokens=rng.integers(1, CFG.vocab_size, n).astype(np.int32), loss_mask=mask,
        sampler_logprobs=(-rng.random(n) * mask).astype(np.float32), reward=reward, termination="done",
        env_str="FakeEnv@{}", group_id=group_id, policy_version=0, turn_spans=[(prompt, n)], prompt_len=prompt,
        num_tool_calls=1, messages=[])


def episodes(rewards_NxG) -> list[Trajectory]:
    rng = np.random.default_rng(0)
    return [fake_episode(rng, float(r), i) for i, group in enumerate(rewards_NxG) for r in group]


@pytest.fixture(scope="module")
def learner_parts():
    """(fresh_state(), train_step, logprob_fn), compiled once for the module's tests."""
    mesh = make_mesh({"data": 1, "fsdp": -1, "tensor": 1}, jax.devices()[:1])
    optimizer = learner.make_optimizer(learner.OptimizerConfig(learning_rate=1e-2, warmup_steps=0))
    state, shardings = learner.init_train_state(CFG, optimizer, jax.random.key(0), mesh)
    loss_fn = objectives.policy_gradient_loss(CFG, LossConfig())
    train_step = train_steps_by_rows(optimizer, loss_fn, shardings, mesh, micro_batch_size=2)
    logprob_fn = learner.make_logprob_fn(CFG, mesh, shardings.params)
    # The train step donates the state it is given: each test starts from its own copy.
    return (lambda: jax.tree.map(jnp.copy, state)), train_step, logprob_fn


def settings(**fields) -> RLStepSettings:
    return RLStepSettings(group_size=GROUP, mini_batch_size=4, row_multiple=2, length_multiple=16, **fields)


def test_uninformative_groups_are_dropped_and_each_mini_batch_is_one_update(learner_parts):
    fresh_state, train_step, logprob_fn = learner_parts
    state = fresh_state()
    before = jax.device_get(state.params)
    trajectories = episodes([[1, 0, 0, 1], [0, 0, 0, 0], [1, 1, 0, 1]])
    state, outcome = rl_step(state, trajectories, settings(), train_step, logprob_fn, np.random.default_rng(5))
    summary = update_summary(outcome)
    assert summary["episodes_trained"] == 8 and summary["updates"] == 2
    assert abs(summary["groups_informative_frac"] - 2 / 3) < 1e-6 and abs(summary["reward_mean"] - 5 / 12) < 1e-6
    assert int(state.step) == 2
    moved = jax.tree.map(lambda a, b: float(np.max(np.abs(a - b))), before, jax.device_get(state.params))
    assert max(jax.tree.leaves(moved)) > 0


def test_without_dynamic_sampling_every_episode_trains(learner_parts):
    fresh_state, train_step, logprob_fn = learner_parts
    _, outcome = rl_step(fresh_state(), episodes([[1, 0, 0, 1], [0, 0, 0, 0]]), settings(dynamic_sampling=False),
                         train_step, logprob_fn, np.random.default_rng(0))
    assert outcome.episodes_trained == 8 and len(outcome.update_metrics) == 2


def test_a_step_without_signal_leaves_the_state_alone(learner_parts):
    fresh_state, train_step, logprob_fn = learner_parts
    state = fresh_state()
    after, outcome = rl_step(state, episodes([[1, 1, 1, 1], [0, 0, 0, 0]]), settings(), train_step, logprob_fn,
                             np.random.default_rng(0))
    assert after is state and outcome.episodes_trained == 0 and outcome.update_metrics == []
    assert update_summary(outcome)["updates"] == 0


def test_first_update_loss_is_minus_the_token_mean_advantage(learner_parts):
    """At the first update the params are the rollout policy's, so every ratio is 1 and the
    token-mean GRPO loss is -sum(A_i * n_i) / sum(n_i) over the mini-batch's episodes."""
    fresh_state, train_step, logprob_fn = learner_parts
    rewards = np.array([[1, 0, 0, 0], [1, 1, 0, 1]], np.float32)
    trajectories = episodes(rewards)
    _, outcome = rl_step(fresh_state(), trajectories, settings(), train_step, logprob_fn, np.random.default_rng(3))
    adv = (rewards - rewards.mean(1, keepdims=True)) / (rewards.std(1, keepdims=True) + 1e-6)
    first = np.random.default_rng(3).permutation(8)[:4]  # the shuffle rl_step draws
    # Targets are tokens[1:]; the first sampled token is predicted from the prompt's last one.
    n = np.array([trajectories[i].num_sampled for i in first], np.float64)
    expected = -float(np.sum(adv.ravel()[first] * n) / n.sum())
    metrics = jax.device_get(outcome.update_metrics[0])
    assert_within(metrics["loss"], expected, 1e-5, "first update's loss")
    assert_within(metrics["ratio"], 1.0, 1e-5, "first update's mean ratio")


def test_episodes_that_do_not_form_groups_are_an_error():
    with pytest.raises(ValueError, match="do not form groups of 4"):
        group_episodes(episodes([[1, 0, 0, 1]])[:3], GROUP, "grpo", True)


def test_rl_step_runs_where_experiments_cannot_be_imported():
    """`experiments` blocked in sys.modules: the library's RL step and stage functions stand alone."""
    code = ("import sys; sys.modules['experiments'] = None; import pytest; "
            "sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', 'tests/test_rl_step.py', "
            "'-k', 'first_update_loss']))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         env=child_env(), timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "1 passed" in out.stdout, out.stdout[-2000:]


def test_a_group_with_an_infrastructure_failure_is_never_trained_on():
    trajectories = episodes([[1, 0, 0, 1], [1, 0, 1, 0]])
    trajectories[5] = dataclasses.replace(trajectories[5], termination="infra_error", reward=0.0)
    kept, _, informative = group_episodes(trajectories, GROUP, "grpo", dynamic_sampling=False)
    assert [t for t, _ in kept] == trajectories[:4] and informative.all()
