"""Trajectories -> learner batches: layout, padding buckets, and that padding changes nothing."""
import jax
import numpy as np
import optax
import pytest

from codegym_jax.buckets import bucket
from codegym_jax.models.config import DecoderConfig
from codegym_jax.rl import batches, learner
from codegym_jax.rl.losses import LossConfig
from codegym_jax.rl.objectives import policy_gradient_loss, sft_cross_entropy
from codegym_jax.rollout.trajectory import Trajectory
from codegym_jax.sharding import make_mesh
from tolerances import (F32_EPS, assert_trees_within, assert_within_rounding, capture_gradients, forward_terms,
                        gradient_terms, rounding_bound, tree_max_abs)


def traj(n, sampled_from, seed=0, reward=1.0):
    rng = np.random.default_rng(seed)
    mask = np.zeros(n, np.int32)
    mask[sampled_from:] = 1
    lp = np.where(mask > 0, -rng.random(n), 0.0).astype(np.float32)
    return Trajectory(tokens=rng.integers(1, 60, n).astype(np.int32), loss_mask=mask, sampler_logprobs=lp,
                      reward=reward, termination="done", env_str="E@{}", group_id=0, policy_version=0,
                      turn_spans=[(sampled_from, n)], prompt_len=sampled_from, num_tool_calls=1, messages=[])


def test_bucket():
    assert [bucket(n, 8) for n in (0, 1, 8, 9, 17, 33)] == [8, 8, 8, 16, 32, 64]
    assert bucket(600, 256, cap=768) == 768
    assert bucket(1000, 256, cap=768) == 1000  # never below n: the caller's cap check decides
    with pytest.raises(ValueError, match="multiple"):
        bucket(3, 0)


def test_layout_and_padding_rows():
    ts = [traj(10, 4, 0), traj(30, 20, 1), traj(7, 2, 2)]
    b = batches.rl_batch(ts, [0.5, -1.0, 2.0], row_multiple=4, length_multiple=16)
    assert b["tokens_BxL"].shape == (4, 32)
    for i, t in enumerate(ts):
        n = len(t.tokens)
        np.testing.assert_array_equal(b["tokens_BxL"][i, :n], t.tokens)
        np.testing.assert_array_equal(b["positions_BxL"][i, :n], np.arange(n))
        np.testing.assert_array_equal(b["loss_mask_BxL"][i, :n], t.loss_mask)
        np.testing.assert_array_equal(b["sampler_logprobs_BxL"][i, :n], t.sampler_logprobs)
        assert (b["segment_ids_BxL"][i, :n] == 1).all() and (b["segment_ids_BxL"][i, n:] == 0).all()
        assert (b["loss_mask_BxL"][i, n:] == 0).all()
    assert (b["advantages_BxL"][1, :30] == -1.0).all()
    assert not b["loss_mask_BxL"][3].any() and not b["segment_ids_BxL"][3].any()
    np.testing.assert_array_equal(b["old_logprobs_BxL"], b["sampler_logprobs_BxL"])


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="no trajectories"):
        batches.trajectory_batch([])
    with pytest.raises(ValueError, match="max_length=16"):
        batches.trajectory_batch([traj(20, 5)], max_length=16)
    with pytest.raises(ValueError, match="2 trajectories but 1 advantages"):
        batches.rl_batch([traj(5, 1), traj(6, 1)], [1.0])
    with pytest.raises(ValueError, match="mini_batch_size"):
        batches.split_into_mini_batches([1, 2], 0)
    assert batches.split_into_mini_batches(list(range(5)), 2) == [[0, 1], [2, 3], [4]]


@pytest.mark.parametrize("objective", ["sft", "rl"])
def test_padding_rows_and_length_do_not_change_the_update(objective):
    cfg = DecoderConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_layers=2, num_heads=4,
                      num_kv_heads=2, head_dim=8)
    mesh = make_mesh({"fsdp": 1}, jax.devices()[:1])
    # Adam's eps at the learning rate: an update moves by at most lr / eps = 1 times a change in
    # the gradient (at eps 1e-8 it would make rounding in a near-zero entry a full step).
    opt = optax.chain(capture_gradients(), learner.make_optimizer(
        learner.OptimizerConfig(learning_rate=1e-2, warmup_steps=0, eps=1e-2)))
    ts = [traj(12, 5, 0), traj(20, 9, 1, reward=0.0), traj(9, 3, 2)]
    results = []
    for rows, length in ((1, 4), (4, 64)):
        state, shardings = learner.init_train_state(cfg, opt, jax.random.key(0), mesh)
        b = batches.rl_batch(ts, [1.0, -1.0, 0.5], row_multiple=rows, length_multiple=length)
        micro = b["tokens_BxL"].shape[0] // rows if rows > 1 else 1
        loss_fn = sft_cross_entropy(cfg) if objective == "sft" else policy_gradient_loss(cfg, LossConfig())
        step = learner.jit_train_step(learner.make_train_step(opt, loss_fn, num_micro_batches=micro), shardings, mesh)
        state, metrics = step(state, b)
        results.append(jax.device_get((metrics["loss"], state.opt_state[0].gradients, state.params)))
    # Padding adds exact zeros; what differs is the order of the sums (the forward's and the
    # backward's, and over the 38 target tokens), and then one Adam step at lr / eps = 1 plus one
    # rounding of each parameter.
    (loss, grads, params), (padded_loss, padded_grads, padded_params) = results
    seq, targets = 20, sum(len(t.tokens) - 1 for t in ts)
    assert_within_rounding(padded_loss, loss, forward_terms(cfg, seq) + targets, what="loss")
    grad_bound = rounding_bound(gradient_terms(cfg, seq, targets), tree_max_abs(grads))
    assert_trees_within(padded_grads, grads, grad_bound, "gradients")
    assert_trees_within(padded_params, params, grad_bound + F32_EPS * tree_max_abs(params), "params")
