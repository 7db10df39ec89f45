"""The same model code unsharded, FSDP, tensor-parallel and both, on 8 virtual CPU devices."""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import NamedSharding, PartitionSpec as P

from codegym_jax import sharding
from codegym_jax.models import hf_io, qwen
from codegym_jax.models.config import DecoderConfig
from tolerances import (F32_EPS, assert_trees_within, assert_within_rounding, forward_terms, gradient_terms,
                        rounding_bound, tree_max_abs)

CFG = DecoderConfig(vocab_size=128, hidden_size=64, intermediate_size=128, num_layers=2,
                  num_heads=4, num_kv_heads=4, head_dim=16)


def loss_fn(params, tokens, positions):
    logits, _ = qwen.forward(params, CFG, tokens, positions)
    logp = jax.nn.log_softmax(logits[:, :-1])
    return -jnp.mean(jnp.take_along_axis(logp, tokens[:, 1:, None], axis=-1))


def sgd_step(params, tokens, positions):
    loss, grads = jax.value_and_grad(loss_fn)(params, tokens, positions)
    return loss, jax.tree.map(lambda p, g: p - 0.1 * g, params, grads)


def batch():
    rng = np.random.default_rng(0)
    tokens = jnp.asarray(rng.integers(0, CFG.vocab_size, (8, 16)), jnp.int32)
    positions = jnp.tile(jnp.arange(16, dtype=jnp.int32), (8, 1))
    return tokens, positions


@pytest.fixture(scope="module")
def reference():
    params = qwen.init_params(CFG, jax.random.key(0))
    tokens, positions = batch()
    logits, _ = jax.jit(functools.partial(qwen.forward, cfg=CFG))(params, tokens_BxL=tokens, positions_BxL=positions)
    loss, new_params = jax.jit(sgd_step)(params, tokens, positions)
    return params, logits, loss, new_params


@pytest.mark.parametrize(
    "shape", [{"fsdp": 8}, {"tensor": 4, "fsdp": -1}, {"data": 2, "fsdp": 2, "tensor": 2}],
    ids=["fsdp", "tensor", "data+fsdp+tensor"],
)
def test_sharded_forward_and_step_equal_unsharded(reference, shape):
    params0, ref_logits, ref_loss, ref_params = reference
    mesh = sharding.make_mesh(shape)
    shardings = sharding.tree_shardings(mesh, qwen.param_logical_axes(CFG))
    params = qwen.init_params_sharded(CFG, jax.random.key(0), mesh)
    jax.tree.map(lambda a, b: np.testing.assert_array_equal(a, b), params, params0)
    # Each parameter lives in its shard: a sharded axis holds 1/n of the tensor per device.
    q = params["layers"]["q_kernel"]
    assert q.sharding.spec == sharding.logical_to_spec(("layers", "embed", "heads", "head_dim"))
    tokens, positions = batch()
    data = NamedSharding(mesh, sharding.logical_to_spec(("batch", "seq")))
    tokens, positions = jax.device_put(tokens, data), jax.device_put(positions, data)
    with jax.set_mesh(mesh):
        fwd = jax.jit(functools.partial(qwen.forward, cfg=CFG))
        logits, _ = fwd(params, tokens_BxL=tokens, positions_BxL=positions)
        step = jax.jit(sgd_step, out_shardings=(NamedSharding(mesh, P()), shardings))
        loss, new_params = step(params, tokens, positions)
    # Sharded matmuls sum in other orders: within a forward's (and a backward's) rounding.
    seq, targets = 16, 8 * 15
    assert_within_rounding(logits, ref_logits, forward_terms(CFG, seq), what="logits")
    assert_within_rounding(loss, ref_loss, forward_terms(CFG, seq) + targets, what="loss")
    grads = jax.tree.map(lambda p, q: (p - q) / 0.1, params0, ref_params)  # the SGD step's gradients
    step_bound = 0.1 * rounding_bound(gradient_terms(CFG, seq, targets), tree_max_abs(grads))
    assert_trees_within(new_params, ref_params, step_bound + F32_EPS * tree_max_abs(params0), "params after SGD")
    assert new_params["layers"]["q_kernel"].sharding.is_equivalent_to(shardings["layers"]["q_kernel"], 4)


def test_load_hf_straight_into_shards(tmp_path, reference):
    params0 = reference[0]
    hf_io.save_hf_model(tmp_path, CFG, params0)
    mesh = sharding.make_mesh({"fsdp": 2, "tensor": 4})
    cfg, params = hf_io.load_hf_model(tmp_path, mesh=mesh)
    assert cfg == CFG
    emb = params["embed"]
    assert emb.sharding.spec == P("tensor", "fsdp")
    assert {s.data.shape for s in emb.addressable_shards} == {(CFG.vocab_size // 4, CFG.hidden_size // 2)}
    jax.tree.map(lambda a, b: np.testing.assert_array_equal(a, b), params, params0)


def test_make_mesh_sizes_and_errors():
    assert sharding.make_mesh({"fsdp": -1}).shape == {"data": 1, "fsdp": 8, "tensor": 1}
    assert sharding.make_mesh({"data": 2, "tensor": -1}).shape == {"data": 2, "fsdp": 1, "tensor": 4}
    with pytest.raises(ValueError, match="at most one mesh axis may be -1"):
        sharding.make_mesh({"fsdp": -1, "tensor": -1})
    with pytest.raises(ValueError, match="needs 6 devices, have 8"):
        sharding.make_mesh({"fsdp": 3, "tensor": 2})
    with pytest.raises(ValueError, match="unknown mesh axes"):
        sharding.make_mesh({"model": 8})
    with pytest.raises(KeyError, match="logical axis 'bogus' has no rule"):
        sharding.logical_to_spec(("bogus",))


def test_a_mesh_axis_is_used_once_per_spec():
    # "batch" takes data+fsdp; a later "embed" (fsdp) must not reuse fsdp.
    assert sharding.logical_to_spec(("batch", "embed")) == P(("data", "fsdp"), None)
