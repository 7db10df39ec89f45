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
    """An empty cache: k/v [layers, batch, max_len, kv_heads, head_dim], segment_ids [batch, max_len]."""
    dtype = jnp.dtype(dtype or cfg.compute_dtype)
    shape = (cfg.num_layers, batch, max_len, cfg.num_kv_heads, cfg.head_dim)
    return {
        "k": jnp.zeros(shape, dtype),
        "v": jnp.zeros(shape, dtype),
        "segment_ids": jnp.zeros((batch, max_len), jnp.int32),
    }


def cache_logical_axes(cfg: DecoderConfig) -> dict[str, tuple[str | None, ...]]:
    kv = ("layers", "cache_batch", "cache_seq", "act_kv_heads", "head_dim")
    return {"k": kv, "v": kv, "segment_ids": ("cache_batch", "cache_seq")}


def write_slots(positions_BxL: jax.Array, segment_ids_BxL: jax.Array, max_len: int) -> jax.Array:
    """Slot index per token; padding (segment 0) and positions past the end map out of range."""
    valid = (segment_ids_BxL != 0) & (positions_BxL >= 0) & (positions_BxL < max_len)
    return jnp.where(valid, positions_BxL, max_len)


def scatter_rows(buffer_BxSx: jax.Array, slots_BxL: jax.Array, values_BxLx: jax.Array) -> jax.Array:
    """buffer[b, slots[b, l]] = values[b, l]; out-of-range slots are dropped."""
    rows = jnp.arange(buffer_BxSx.shape[0])[:, None]
    return buffer_BxSx.at[rows, slots_BxL].set(values_BxLx.astype(buffer_BxSx.dtype), mode="drop")


def scatter_layer_rows(buffer_NxBxSx: jax.Array, layer: jax.Array, slots_BxL: jax.Array,
                       values_BxLx: jax.Array) -> jax.Array:
    """buffer[layer, b, slots[b, l]] = values[b, l] on a stacked [layers, B, S, ...] buffer;
    out-of-range slots are dropped."""
    rows = jnp.arange(buffer_NxBxSx.shape[1])[:, None]
    return buffer_NxBxSx.at[layer, rows, slots_BxL].set(values_BxLx.astype(buffer_NxBxSx.dtype), mode="drop")
