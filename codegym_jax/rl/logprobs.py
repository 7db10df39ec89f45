"""Per-token log-probs and entropies of target tokens, with a vocabulary-chunked path that never
holds [B, T, V] for a large vocabulary.

`logprobs_from_logits` and `chunked_logprobs` are model-free; `target_view` and `token_logprobs`
read the learner's [B, L] batch layout (entry t describes token t; the targets are tokens[:, 1:])
and run the policy model.
"""
from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

from codegym_jax.models import qwen
from codegym_jax.models.config import DecoderConfig

Batch = dict[str, jax.Array]


def logprobs_from_logits(logits_BxTxV: jax.Array, targets_BxT: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(log p(target), entropy) per token, in float32."""
    chex.assert_rank(logits_BxTxV, 3)
    chex.assert_equal_shape_prefix([logits_BxTxV, targets_BxT], 2)
    logp_all = jax.nn.log_softmax(logits_BxTxV.astype(jnp.float32), axis=-1)
    logp = jnp.take_along_axis(logp_all, targets_BxT[..., None], axis=-1)[..., 0]
    entropy = -jnp.sum(jnp.exp(logp_all) * logp_all, axis=-1)
    return logp, entropy


def chunked_logprobs(hidden_BxTxD: jax.Array, unembed_DxV: jax.Array, targets_BxT: jax.Array,
                     chunk_size: int = 128) -> tuple[jax.Array, jax.Array]:
    """Same as logprobs_from_logits(hidden @ unembed, targets), one sequence chunk at a time.

    Each chunk's [B, chunk, V] logits live only inside a rematerialised scan step, so forward and
    backward peak memory is O(B * chunk * V) instead of O(B * T * V).
    """
    b, t, d = hidden_BxTxD.shape
    chex.assert_shape(targets_BxT, (b, t))
    pad = (-t) % chunk_size
    h = jnp.pad(hidden_BxTxD, ((0, 0), (0, pad), (0, 0)))
    y = jnp.pad(targets_BxT, ((0, 0), (0, pad)))
    n = (t + pad) // chunk_size
    h_chunks = h.reshape(b, n, chunk_size, d).swapaxes(0, 1)
    y_chunks = y.reshape(b, n, chunk_size).swapaxes(0, 1)

    @jax.checkpoint
    def one(h_BxCxD, y_BxC):
        logits = jnp.einsum("bcd,dv->bcv", h_BxCxD, unembed_DxV.astype(h_BxCxD.dtype),
                            preferred_element_type=jnp.float32)
        return logprobs_from_logits(logits, y_BxC)

    _, (logp, entropy) = jax.lax.scan(lambda c, xs: (c, one(*xs)), None, (h_chunks, y_chunks))
    logp = logp.swapaxes(0, 1).reshape(b, n * chunk_size)[:, :t]
    entropy = entropy.swapaxes(0, 1).reshape(b, n * chunk_size)[:, :t]
    return logp, entropy


def target_view(batch: Batch) -> tuple[Batch, jax.Array]:
    """Model inputs (tokens < last) and the target mask [B, L-1]; a target counts only inside its
    own segment."""
    seg = batch["segment_ids_BxL"]
    inputs = {
        "tokens": batch["tokens_BxL"][:, :-1],
        "positions": batch["positions_BxL"][:, :-1],
        "segment_ids": seg[:, :-1],
    }
    same_segment = (seg[:, 1:] == seg[:, :-1]) & (seg[:, 1:] != 0)
    mask = batch["loss_mask_BxL"][:, 1:].astype(jnp.float32) * same_segment
    return inputs, mask


def token_logprobs(params, model_cfg: DecoderConfig, batch: Batch, chunk_size: int = 128,
                   temperature: float = 1.0) -> tuple[jax.Array, jax.Array]:
    """(log-prob, entropy) [B, L-1] of every target token under `params`, of the distribution
    softmax(logits / temperature) the sampler drew from (the unembedding is linear, so the
    hidden states are scaled instead of the logits)."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0 for log-probs, got {temperature}")
    inputs, _ = target_view(batch)
    hidden, _ = qwen.forward_hidden(params, model_cfg, inputs["tokens"], inputs["positions"],
                                    inputs["segment_ids"])
    if temperature != 1.0:
        hidden = hidden / jnp.asarray(temperature, hidden.dtype)
    return chunked_logprobs(hidden, qwen.unembed_matrix(params, model_cfg),
                            batch["tokens_BxL"][:, 1:], chunk_size)
