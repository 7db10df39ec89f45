"""The learner step: invariant to micro-batching and device count, params stay in their shards,
SFT and RL objectives both reduce their loss on a fixed batch."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from codegym_jax import sharding
from codegym_jax.models import qwen
from codegym_jax.models.config import DecoderConfig
from codegym_jax.rl import learner
from codegym_jax.rl.losses import LossConfig
from codegym_jax.rl.objectives import policy_gradient_loss, sft_cross_entropy
from tolerances import (F32_EPS, assert_trees_within, assert_within, assert_within_rounding, capture_gradients, forward_terms,
                        gradient_terms, rounding_bound, tree_max_abs)

CFG = DecoderConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_layers=2,
                  num_heads=4, num_kv_heads=2, head_dim=8)


def make_batch(seed=0, B=8, L=12):
    rng = np.random.default_rng(seed)
    seg = np.ones((B, L), np.int32)
    seg[1, 9:] = 0  # right padding
    seg[2, 6:] = 2  # two packed sequences in one row
    return {
        "tokens_BxL": rng.integers(0, CFG.vocab_size, (B, L)).astype(np.int32),
        "positions_BxL": np.tile(np.arange(L, dtype=np.int32), (B, 1)),
        "segment_ids_BxL": seg,
        "loss_mask_BxL": ((rng.random((B, L)) > 0.3) & (seg > 0)).astype(np.int32),
        "advantages_BxL": np.repeat(rng.normal(size=(B, 1)), L, 1).astype(np.float32),
        "sampler_logprobs_BxL": (rng.normal(size=(B, L)) * 0.1 - 4).astype(np.float32),
        "old_logprobs_BxL": (rng.normal(size=(B, L)) * 0.1 - 4).astype(np.float32),
    }


LR = 1e-3


def run(shape, micro, loss_cfg=LossConfig(aggregation="seq-mean-token-mean"), steps=2, objective="rl"):
    """(state, metrics per step, gradients per step) of `steps` train steps on one batch.
    Adam's eps is the learning rate: an update then moves a parameter by at most lr / eps = 1
    times a change in its gradient, so the rounding of a near-zero gradient entry stays rounding
    (at eps 1e-8 Adam divides it by its own size and makes it a full lr-sized step)."""
    n = int(np.prod(list(shape.values())))
    mesh = sharding.make_mesh(shape, jax.devices()[:n])
    opt = optax.chain(capture_gradients(), learner.make_optimizer(
        learner.OptimizerConfig(learning_rate=LR, warmup_steps=0, eps=LR)))
    state, shardings = learner.init_train_state(CFG, opt, jax.random.key(0), mesh)
    loss_fn = sft_cross_entropy(CFG) if objective == "sft" else policy_gradient_loss(CFG, loss_cfg)
    step = learner.jit_train_step(learner.make_train_step(opt, loss_fn, micro), shardings, mesh)
    history, gradients = [], []
    with jax.set_mesh(mesh):
        for _ in range(steps):
            state, metrics = step(state, make_batch())
            history.append(jax.device_get(metrics))
            gradients.append(jax.device_get(state.opt_state[0].gradients))
    return state, history, gradients


@pytest.fixture(scope="module")
def reference():
    return run({"fsdp": 1}, 1)


@pytest.mark.parametrize("shape, micro", [
    ({"fsdp": 1}, 2), ({"fsdp": 1}, 4), ({"fsdp": 2}, 1), ({"fsdp": 4}, 2),
    ({"fsdp": 8}, 1), ({"data": 2, "fsdp": 2, "tensor": 2}, 2),
], ids=lambda x: str(x))
def test_step_is_invariant_to_micro_batches_and_devices(reference, shape, micro):
    # Other splits and shardings sum in another order. Metrics (sums over the 88 target tokens
    # of forward values) are within forward + 88 terms of rounding of their value; gradients
    # within the backward's terms of the largest entry. Two Adam steps at lr / eps = 1 move each
    # parameter by at most 1 + 2.5 times its gradients' differences (the second step's
    # bias-corrected moments weigh both gradients), plus one rounding of it per step.
    ref_state, ref_hist, ref_grads = reference
    state, hist, grads = run(shape, micro)
    seq, targets = 11, 8 * 11
    for step, (a, b) in enumerate(zip(hist, ref_hist)):
        for key in b:
            assert_within_rounding(a[key], b[key], forward_terms(CFG, seq) + targets, what=f"step {step} {key}")
    grad_bound = rounding_bound(gradient_terms(CFG, seq, targets), tree_max_abs(ref_grads[0]))
    assert_trees_within(grads[0], ref_grads[0], grad_bound, "first step's gradients")
    param_bound = 3.5 * grad_bound + 2 * F32_EPS * tree_max_abs(ref_state.params)
    assert_trees_within(state.params, ref_state.params, param_bound, "params after 2 steps")
    want = sharding.tree_shardings(state.params["embed"].sharding.mesh, qwen.param_logical_axes(CFG))
    assert state.params["layers"]["q_kernel"].sharding.spec == want["layers"]["q_kernel"].spec
    assert int(state.step) == 2


@pytest.mark.parametrize("objective, loss_cfg", [
    ("sft", None), ("rl", LossConfig()), ("rl", LossConfig(policy_loss="gspo", aggregation="seq-mean-token-mean")),
])
def test_repeated_steps_reduce_the_loss(objective, loss_cfg):
    _, hist, _ = run({"fsdp": 2}, 2, loss_cfg=loss_cfg, steps=8, objective=objective)
    assert hist[-1]["loss"] < hist[0]["loss"]
    for key in ("loss", "grad_norm", "entropy"):
        assert np.isfinite(hist[-1][key])
    if objective == "rl":
        last = hist[-1]
        assert last["ratio_min"] <= last["ratio"] <= last["ratio_max"]
        assert 0 <= last["clip_fraction"] <= 1 and last["approx_kl"] >= 0


@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_logprob_fn_matches_train_step_view(temperature):
    mesh = sharding.make_mesh({"fsdp": 2}, jax.devices()[:2])
    params = qwen.init_params(CFG, jax.random.key(0))
    shardings = sharding.tree_shardings(mesh, qwen.param_logical_axes(CFG))
    fn = learner.make_logprob_fn(CFG, mesh, shardings, temperature=temperature)
    batch = make_batch()
    lp = np.asarray(fn(jax.device_put(params, shardings), {k: batch[k] for k in
                                                            ("tokens_BxL", "positions_BxL", "segment_ids_BxL", "loss_mask_BxL")}))
    logits, _ = qwen.forward(params, CFG, batch["tokens_BxL"], batch["positions_BxL"], batch["segment_ids_BxL"])
    # the sampler's log-probs: log_softmax(logits / temperature)
    ref = jax.nn.log_softmax(logits[:, :-1] / temperature)
    ref = np.take_along_axis(np.asarray(ref), batch["tokens_BxL"][:, 1:, None], -1)[..., 0]
    assert lp.shape == batch["tokens_BxL"].shape and np.all(lp[:, 0] == 0)
    row = 0  # a plain row: every target is inside its segment
    # A sharded, chunked program against the plain forward: within two logits' rounding.
    scale = float(jnp.max(jnp.abs(logits[row]))) / temperature
    assert_within(lp[row, 1:], ref[row], 2 * rounding_bound(forward_terms(CFG, 12), scale), "log-probs")


def test_indivisible_micro_batches_are_an_error():
    # Raised while the step is traced: shapes alone show it, nothing is compiled.
    mesh = sharding.make_mesh({"fsdp": 1}, jax.devices()[:1])
    opt = learner.make_optimizer(learner.OptimizerConfig())
    step = learner.make_train_step(opt, policy_gradient_loss(CFG, LossConfig()), 3)
    with pytest.raises(ValueError, match="batch size 8 is not divisible by 3 micro-batches"):
        jax.eval_shape(step, learner.abstract_train_state(CFG, opt, mesh), make_batch())


def test_warmup_then_cosine_schedule():
    sched = learner.learning_rate_schedule(learner.OptimizerConfig(learning_rate=1.0, warmup_steps=4,
                                                                   schedule="cosine", total_steps=12))
    values = [float(sched(i)) for i in range(13)]
    assert values[0] == 0.0 and values[2] == pytest.approx(0.5) and values[4] == pytest.approx(1.0)
    assert values[8] == pytest.approx(0.5, abs=1e-6) and values[12] == pytest.approx(0.0, abs=1e-6)
