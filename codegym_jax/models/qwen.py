"""Qwen2 / Qwen2.5 / Qwen3 decoder as pure functions of a nested-dict parameter pytree.

Layer parameters are stacked on a leading "layers" axis and the forward scans over them, so a
64-layer model compiles one layer body. Every parameter has logical axis names
(`param_logical_axes`), and activations are constrained by logical names, so the same code runs
unsharded, FSDP, tensor-parallel or both under `jax.set_mesh`.
"""
from __future__ import annotations

import functools
from typing import Any

import chex
import jax
import jax.numpy as jnp
import numpy as np

from codegym_jax.models import kv_cache
from codegym_jax.models.attention import grouped_attention, self_attention
from codegym_jax.models.config import DecoderConfig, rope_frequencies
from codegym_jax.sharding import tree_shardings, with_logical_constraint

Params = dict[str, Any]


def param_shapes(cfg: DecoderConfig) -> dict[str, Any]:
    """{name: (shape, logical axes)} for every parameter, nested like the params pytree."""
    n, d, f, v = cfg.num_layers, cfg.hidden_size, cfg.intermediate_size, cfg.vocab_size
    h, kv, hd = cfg.num_heads, cfg.num_kv_heads, cfg.head_dim
    layers = {
        "attn_norm": ((n, d), ("layers", "norm")),
        "q_kernel": ((n, d, h, hd), ("layers", "embed", "heads", "head_dim")),
        "k_kernel": ((n, d, kv, hd), ("layers", "embed", "kv_heads", "head_dim")),
        "v_kernel": ((n, d, kv, hd), ("layers", "embed", "kv_heads", "head_dim")),
        "o_kernel": ((n, h, hd, d), ("layers", "heads", "head_dim", "embed")),
        "mlp_norm": ((n, d), ("layers", "norm")),
        "gate_kernel": ((n, d, f), ("layers", "embed", "mlp")),
        "up_kernel": ((n, d, f), ("layers", "embed", "mlp")),
        "down_kernel": ((n, f, d), ("layers", "mlp", "embed")),
    }
    if cfg.qkv_bias:
        layers["q_bias"] = ((n, h, hd), ("layers", "heads", "head_dim"))
        layers["k_bias"] = ((n, kv, hd), ("layers", "kv_heads", "head_dim"))
        layers["v_bias"] = ((n, kv, hd), ("layers", "kv_heads", "head_dim"))
    if cfg.qk_norm:
        layers["q_norm"] = ((n, hd), ("layers", "norm"))
        layers["k_norm"] = ((n, hd), ("layers", "norm"))
    out = {
        "embed": ((v, d), ("vocab", "embed")),
        "layers": layers,
        "final_norm": ((d,), ("norm",)),
    }
    if not cfg.tie_word_embeddings:
        out["lm_head"] = ((d, v), ("embed", "vocab"))
    return out


def _is_entry(x: Any) -> bool:
    return isinstance(x, tuple) and len(x) == 2 and isinstance(x[1], tuple)


def param_logical_axes(cfg: DecoderConfig) -> dict[str, Any]:
    return jax.tree.map(lambda e: e[1], param_shapes(cfg), is_leaf=_is_entry)


def init_params(cfg: DecoderConfig, rng: jax.Array) -> Params:
    """Random init: N(0, 0.02) matrices and embeddings, unit norms, zero biases."""
    entries, treedef = jax.tree.flatten(param_shapes(cfg), is_leaf=_is_entry)
    paths = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(
        param_shapes(cfg), is_leaf=_is_entry)[0]]
    keys = jax.random.split(rng, len(entries))
    dtype = jnp.dtype(cfg.param_dtype)
    leaves = []
    for key, path, (shape, _) in zip(keys, paths, entries):
        if "norm" in path:
            leaves.append(jnp.ones(shape, dtype))
        elif "bias" in path:
            leaves.append(jnp.zeros(shape, dtype))
        else:
            leaves.append((0.02 * jax.random.normal(key, shape, jnp.float32)).astype(dtype))
    return jax.tree.unflatten(treedef, leaves)


def init_params_sharded(cfg: DecoderConfig, rng: jax.Array, mesh: jax.sharding.Mesh) -> Params:
    """Random params created directly in their shards (no full copy on one device)."""
    shardings = tree_shardings(mesh, param_logical_axes(cfg))
    return jax.jit(functools.partial(init_params, cfg), out_shardings=shardings)(rng)


def unembed_matrix(params: Params, cfg: DecoderConfig) -> jax.Array:
    """The D x V output projection (the transposed embedding when tied)."""
    return params["embed"].T if cfg.tie_word_embeddings else params["lm_head"]


def rms_norm(x: jax.Array, weight: jax.Array, eps: float) -> jax.Array:
    x32 = x.astype(jnp.float32)
    y = x32 * jax.lax.rsqrt(jnp.mean(x32 * x32, axis=-1, keepdims=True) + eps)
    return (y * weight.astype(jnp.float32)).astype(x.dtype)


def _rope_tables(cfg: DecoderConfig, positions_BxL: jax.Array) -> tuple[jax.Array, jax.Array]:
    inv_freq, attention_factor = rope_frequencies(cfg)
    angles = positions_BxL.astype(jnp.float32)[..., None] * jnp.asarray(inv_freq)
    angles = jnp.concatenate([angles, angles], axis=-1)  # [B, L, head_dim]
    return jnp.cos(angles) * attention_factor, jnp.sin(angles) * attention_factor


def _apply_rope(x_BxLxHxD: jax.Array, cos_BxLxD: jax.Array, sin_BxLxD: jax.Array) -> jax.Array:
    half = x_BxLxHxD.shape[-1] // 2
    x32 = x_BxLxHxD.astype(jnp.float32)
    rotated = jnp.concatenate([-x32[..., half:], x32[..., :half]], axis=-1)
    out = x32 * cos_BxLxD[:, :, None, :] + rotated * sin_BxLxD[:, :, None, :]
    return out.astype(x_BxLxHxD.dtype)


# Query block of the cache-free (training) path: block i attends only to keys [0, end of block i),
# which skips the masked upper triangle (about half the work and memory at long lengths).
ATTENTION_BLOCK = 256


def _causal_block_attention(q_BxLxHxD, k_BxLxKxD, v_BxLxKxD, mask_BxLxL):
    l = q_BxLxHxD.shape[1]
    if l <= ATTENTION_BLOCK:
        return self_attention(q_BxLxHxD, k_BxLxKxD, v_BxLxKxD, mask_BxLxL)
    outs = []
    for start in range(0, l, ATTENTION_BLOCK):
        end = min(start + ATTENTION_BLOCK, l)
        outs.append(self_attention(q_BxLxHxD[:, start:end], k_BxLxKxD[:, :end], v_BxLxKxD[:, :end],
                                   mask_BxLxL[:, start:end, :end]))
    return jnp.concatenate(outs, axis=1)


def _layer(cfg: DecoderConfig, x, layer, cos, sin, mask, kv_in, slots):
    """One decoder layer; with a cache (kv_in=(k, v) in kv_cache's layouts and this layer's index) it
    writes the new k/v at `slots` and attends over this layer's cache."""
    cdt = jnp.dtype(cfg.compute_dtype)
    w = jax.tree.map(lambda p: p.astype(cdt), layer)
    hx = rms_norm(x, w["attn_norm"], cfg.rms_norm_eps)
    q = jnp.einsum("bld,dhk->blhk", hx, w["q_kernel"])
    k = jnp.einsum("bld,dhk->blhk", hx, w["k_kernel"])
    v = jnp.einsum("bld,dhk->blhk", hx, w["v_kernel"])
    if cfg.qkv_bias:
        q, k, v = q + w["q_bias"], k + w["k_bias"], v + w["v_bias"]
    if cfg.qk_norm:
        q = rms_norm(q, w["q_norm"], cfg.rms_norm_eps)
        k = rms_norm(k, w["k_norm"], cfg.rms_norm_eps)
    q = with_logical_constraint(_apply_rope(q, cos, sin), ("batch", "seq", "act_heads", None))
    k = with_logical_constraint(_apply_rope(k, cos, sin), ("batch", "seq", "act_kv_heads", None))
    v = with_logical_constraint(v, ("batch", "seq", "act_kv_heads", None))
    if kv_in is None:  # keys are this row's tokens, causal by index
        kv_out = None
        attn = _causal_block_attention(q, k, v, mask)
    else:
        # kv_in: the whole stacked cache and this layer's index; writing this layer's new
        # entries into the loop-carried buffer updates it in place (no copy of the cache).
        k_all, v_all, index = kv_in
        k_all = kv_cache.scatter_layer_keys(k_all, index, slots, k)
        v_all = kv_cache.scatter_layer_values(v_all, index, slots, v)
        kv_out = (k_all, v_all)
        # Only the slots the mask covers are read (all of them unless attend_len cut it).
        b, kvh, read, hd = k_all.shape[1], k_all.shape[2], mask.shape[-1], k_all.shape[4]
        start = (index, 0, 0, 0, 0)
        keys = jax.lax.dynamic_slice(k_all, start, (1, b, kvh, read, hd))[0].astype(cdt)
        values = jax.lax.dynamic_slice(v_all, start, (1, b, kvh, hd, read))[0].astype(cdt)
        attn = grouped_attention(q, keys, values, mask)
    x = x + jnp.einsum("blhk,hkd->bld", attn, w["o_kernel"])
    x = with_logical_constraint(x, ("batch", "seq", "act_embed"))
    hx = rms_norm(x, w["mlp_norm"], cfg.rms_norm_eps)
    if kv_in is None:
        # Training: gate and up as one matmul of twice the width (the stack keeps each one's
        # "mlp" sharding). Decoding a few tokens, the stacking copy would cost more than it saves.
        gate_up = jnp.einsum("bld,dtf->tblf", hx, jnp.stack([w["gate_kernel"], w["up_kernel"]], axis=1))
        gate, up = gate_up[0], gate_up[1]
    else:
        gate = jnp.einsum("bld,df->blf", hx, w["gate_kernel"])
        up = jnp.einsum("bld,df->blf", hx, w["up_kernel"])
    hidden = with_logical_constraint(jax.nn.silu(gate) * up, ("batch", "seq", "act_mlp"))
    x = x + jnp.einsum("blf,fd->bld", hidden, w["down_kernel"])
    return with_logical_constraint(x, ("batch", "seq", "act_embed")), kv_out


def forward_hidden(
    params: Params,
    cfg: DecoderConfig,
    tokens_BxL: jax.Array,
    positions_BxL: jax.Array,
    segment_ids_BxL: jax.Array | None = None,
    cache: kv_cache.Cache | None = None,
    attend_len: int | None = None,
) -> tuple[jax.Array, kv_cache.Cache | None]:
    """Final-norm hidden states [B, L, D] (compute dtype) and the updated cache.

    segment_ids: 0 marks padding; a token attends to earlier tokens of its own segment (packing).
    Without a cache, "earlier" is by index in the row; with a cache, by position (slot) index.
    attend_len (static, with a cache): attend over the first attend_len cache slots only, which
    must hold every position a query reads (each query's own and earlier); decoding reads far
    less than a long cache early in its sequences.
    """
    chex.assert_rank([tokens_BxL, positions_BxL], 2)
    chex.assert_equal_shape([tokens_BxL, positions_BxL])
    b, l = tokens_BxL.shape
    if segment_ids_BxL is None:
        segment_ids_BxL = jnp.ones((b, l), jnp.int32)
    chex.assert_equal_shape([tokens_BxL, segment_ids_BxL])
    cdt = jnp.dtype(cfg.compute_dtype)
    x = jnp.take(params["embed"], tokens_BxL, axis=0).astype(cdt)
    x = with_logical_constraint(x, ("batch", "seq", "act_embed"))
    cos, sin = _rope_tables(cfg, positions_BxL)
    seg_q = segment_ids_BxL

    if cache is None:
        causal = jnp.tril(jnp.ones((l, l), bool))
        mask = causal[None] & (seg_q[:, :, None] == seg_q[:, None, :]) & (seg_q[:, None, :] != 0)
        slots, new_segments = None, None
    else:
        chex.assert_shape(cache["segment_ids"], (b, None))
        max_len = cache["segment_ids"].shape[1]
        window = max_len if attend_len is None else attend_len
        if not 1 <= window <= max_len:
            raise ValueError(f"attend_len={attend_len} must be in 1..{max_len} (the cache length)")
        slots = kv_cache.write_slots(positions_BxL, seg_q, max_len)
        new_segments = kv_cache.scatter_rows(cache["segment_ids"], slots, seg_q)
        slot_idx = jnp.arange(window)
        read = new_segments[:, None, :window]
        mask = (slot_idx[None, None, :] <= positions_BxL[:, :, None]) & (read == seg_q[:, :, None]) & (read != 0)

    if cache is None:
        def body(x, layer):
            return _layer(cfg, x, layer, cos, sin, mask, None, None)[0], None

        if cfg.remat:
            body = jax.checkpoint(body)
        x, _ = jax.lax.scan(body, x, params["layers"])
        new_cache = None
    else:
        def cached_body(carry, scanned):
            x, k_all, v_all = carry
            layer, index = scanned
            x, (k_all, v_all) = _layer(cfg, x, layer, cos, sin, mask, (k_all, v_all, index), slots)
            return (x, k_all, v_all), None

        layer_index = jnp.arange(cfg.num_layers, dtype=jnp.int32)
        (x, k_all, v_all), _ = jax.lax.scan(cached_body, (x, cache["k"], cache["v"]),
                                            (params["layers"], layer_index))
        new_cache = {"k": k_all, "v": v_all, "segment_ids": new_segments}
    x = rms_norm(x, params["final_norm"].astype(cdt), cfg.rms_norm_eps)
    return x, new_cache


def forward(
    params: Params,
    cfg: DecoderConfig,
    tokens_BxL: jax.Array,
    positions_BxL: jax.Array,
    segment_ids_BxL: jax.Array | None = None,
    cache: kv_cache.Cache | None = None,
    attend_len: int | None = None,
) -> tuple[jax.Array, kv_cache.Cache | None]:
    """Logits [B, L, V] in float32 and the updated cache (attend_len: see forward_hidden)."""
    hidden, new_cache = forward_hidden(params, cfg, tokens_BxL, positions_BxL, segment_ids_BxL, cache,
                                       attend_len)
    w = unembed_matrix(params, cfg).astype(hidden.dtype)
    logits = jnp.einsum("bld,dv->blv", hidden, w, preferred_element_type=jnp.float32)
    return with_logical_constraint(logits, ("batch", "seq", "act_vocab")), new_cache
