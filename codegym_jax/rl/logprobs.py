"""Per-token log-probs and entropies of target tokens, with a vocabulary-chunked path that never
holds [B, T, V] for a large vocabulary."""
from __future__ import annotations

import chex
import jax
import jax.numpy as jnp


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
