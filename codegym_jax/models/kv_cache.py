"""KV cache for prefill + decode: one slot per position, per layer, per batch row.

A row's token at position p is written to slot p; `segment_ids` records which slots hold a
token (0 = empty), so attention over the cache masks empty slots and padding.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from codegym_jax.models.config import DecoderConfig

Cache = dict[str, jax.Array]


def init_cache(cfg: DecoderConfig, batch: int, max_len: int, dtype: str | None = None) -> Cache:
    """An empty cache: k [layers, batch, kv_heads, max_len, head_dim], v [layers, batch, kv_heads,
    head_dim, max_len], segment_ids [batch, max_len].

    The layouts the attention matmuls read (both contract their operands' last axes: scores over
    head_dim, values over slots), so a decode step reads one layer's window of slots in place
    instead of copying it transposed (on XLA:CPU those copies were a quarter of a decode step)."""
    dtype = jnp.dtype(dtype or cfg.compute_dtype)
    layers, kv, hd = cfg.num_layers, cfg.num_kv_heads, cfg.head_dim
    return {
        "k": jnp.zeros((layers, batch, kv, max_len, hd), dtype),
        "v": jnp.zeros((layers, batch, kv, hd, max_len), dtype),
        "segment_ids": jnp.zeros((batch, max_len), jnp.int32),
    }


def cache_logical_axes(cfg: DecoderConfig) -> dict[str, tuple[str | None, ...]]:
    return {"k": ("layers", "cache_batch", "act_kv_heads", "cache_seq", "head_dim"),
            "v": ("layers", "cache_batch", "act_kv_heads", "head_dim", "cache_seq"),
            "segment_ids": ("cache_batch", "cache_seq")}


def write_slots(positions_BxL: jax.Array, segment_ids_BxL: jax.Array, max_len: int) -> jax.Array:
    """Slot index per token; padding (segment 0) and positions past the end map out of range."""
    valid = (segment_ids_BxL != 0) & (positions_BxL >= 0) & (positions_BxL < max_len)
    return jnp.where(valid, positions_BxL, max_len)


def scatter_rows(buffer_BxSx: jax.Array, slots_BxL: jax.Array, values_BxLx: jax.Array) -> jax.Array:
    """buffer[b, slots[b, l]] = values[b, l]; out-of-range slots are dropped."""
    rows = jnp.arange(buffer_BxSx.shape[0])[:, None]
    return buffer_BxSx.at[rows, slots_BxL].set(values_BxLx.astype(buffer_BxSx.dtype), mode="drop")


def scatter_layer_keys(buffer_NxBxKxSxD: jax.Array, layer: jax.Array, slots_BxL: jax.Array,
                       keys_BxLxKxD: jax.Array) -> jax.Array:
    """buffer[layer, b, h, slots[b, l]] = keys[b, l, h]; out-of-range slots are dropped."""
    b, _, k, _ = keys_BxLxKxD.shape
    rows, heads = jnp.arange(b)[:, None, None], jnp.arange(k)[None, :, None]
    values = keys_BxLxKxD.transpose(0, 2, 1, 3).astype(buffer_NxBxKxSxD.dtype)
    return buffer_NxBxKxSxD.at[layer, rows, heads, slots_BxL[:, None, :]].set(values, mode="drop")


def scatter_layer_values(buffer_NxBxKxDxS: jax.Array, layer: jax.Array, slots_BxL: jax.Array,
                         values_BxLxKxD: jax.Array) -> jax.Array:
    """buffer[layer, b, h, :, slots[b, l]] = values[b, l, h]; out-of-range slots are dropped."""
    b, _, k, d = values_BxLxKxD.shape
    rows, heads = jnp.arange(b)[:, None, None, None], jnp.arange(k)[None, :, None, None]
    dims = jnp.arange(d)[None, None, :, None]
    values = values_BxLxKxD.transpose(0, 2, 3, 1).astype(buffer_NxBxKxDxS.dtype)
    return buffer_NxBxKxDxS.at[layer, rows, heads, dims, slots_BxL[:, None, None, :]].set(values, mode="drop")
