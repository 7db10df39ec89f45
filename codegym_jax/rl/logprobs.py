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
    return _logprob_entropy(logits_BxTxV.astype(jnp.float32), targets_BxT)


def _softmax_stats(logits_BxTxV, targets_BxT):
    """Per-token logsumexp, mean logit under the softmax and the target's logit, each [B, T, 1]."""
    top = jnp.max(logits_BxTxV, axis=-1, keepdims=True)
    exp = jnp.exp(logits_BxTxV - top)
    total = jnp.sum(exp, axis=-1, keepdims=True)
    lse = top + jnp.log(total)
    mean_logit = jnp.sum(exp * logits_BxTxV, axis=-1, keepdims=True) / total
    target_logit = jnp.take_along_axis(logits_BxTxV, targets_BxT[..., None], axis=-1)
    return lse, mean_logit, target_logit


# Hand-written backward: autodiff of log_softmax + take_along_axis keeps the [B, T, V] log-probs
# and scatters into a zero [B, T, V] array; this one is one elementwise pass over the logits
# (about 3x less time around the unembedding matmuls on XLA:CPU, benchmarks/model_bench.py).
@jax.custom_vjp
def _logprob_entropy(logits_BxTxV, targets_BxT):
    return _logprob_entropy_fwd(logits_BxTxV, targets_BxT)[0]


def _logprob_entropy_fwd(logits_BxTxV, targets_BxT):
    lse, mean_logit, target_logit = _softmax_stats(logits_BxTxV, targets_BxT)
    out = ((target_logit - lse)[..., 0], (lse - mean_logit)[..., 0])
    return out, (logits_BxTxV, targets_BxT, lse, mean_logit)


def _logprob_entropy_bwd(saved, cotangents):
    """d logp / dz = onehot(target) - p; d entropy / dz = -p * (z - E_p[z])."""
    logits, targets, lse, mean_logit = saved
    d_logp, d_entropy = (c[..., None] for c in cotangents)
    probs = jnp.exp(logits - lse)
    is_target = jnp.arange(logits.shape[-1]) == targets[..., None]
    d_logits = jnp.where(is_target, d_logp, 0.0) - probs * (d_logp + d_entropy * (logits - mean_logit))
    # Materialised before the unembedding's weight gradient reads it transposed: fused into that
    # transposing copy, the exponentials ran in its cache-unfriendly order (~6x slower on XLA:CPU).
    return jax.lax.optimization_barrier(d_logits), None


_logprob_entropy.defvjp(_logprob_entropy_fwd, _logprob_entropy_bwd)


def _unembedded_logprobs(hidden_BxTxD, unembed_DxV, targets_BxT):
    logits = jnp.einsum("btd,dv->btv", hidden_BxTxD, unembed_DxV.astype(hidden_BxTxD.dtype),
                        preferred_element_type=jnp.float32)
    return logprobs_from_logits(logits, targets_BxT)


# When the chunk size is left to `chunked_logprobs`: a batch whose float32 [B, T, V] logits fit
# in UNCHUNKED_LOGITS_BYTES is not chunked, so its logits are not recomputed in the backward (a
# small vocabulary); any other gets DEFAULT_CHUNK tokens a chunk.
UNCHUNKED_LOGITS_BYTES = 2**26
DEFAULT_CHUNK = 128


def chunked_logprobs(hidden_BxTxD: jax.Array, unembed_DxV: jax.Array, targets_BxT: jax.Array,
                     chunk_size: int | None = None) -> tuple[jax.Array, jax.Array]:
    """Same as logprobs_from_logits(hidden @ unembed, targets), one sequence chunk at a time.

    Each chunk's [B, chunk, V] logits live only inside a rematerialised scan step, so forward and
    backward peak memory is O(B * chunk * V) instead of O(B * T * V). chunk_size None: the
    whole sequence if its logits fit in UNCHUNKED_LOGITS_BYTES, else DEFAULT_CHUNK; one chunk
    is computed without a scan.
    """
    b, t, d = hidden_BxTxD.shape
    chex.assert_shape(targets_BxT, (b, t))
    if chunk_size is None:
        chunk_size = t if 4 * b * t * unembed_DxV.shape[1] <= UNCHUNKED_LOGITS_BYTES else DEFAULT_CHUNK
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    if chunk_size >= t:
        return _unembedded_logprobs(hidden_BxTxD, unembed_DxV, targets_BxT)
    pad = (-t) % chunk_size
    h = jnp.pad(hidden_BxTxD, ((0, 0), (0, pad), (0, 0)))
    y = jnp.pad(targets_BxT, ((0, 0), (0, pad)))
    n = (t + pad) // chunk_size
    h_chunks = h.reshape(b, n, chunk_size, d).swapaxes(0, 1)
    y_chunks = y.reshape(b, n, chunk_size).swapaxes(0, 1)

    one = jax.checkpoint(lambda h_BxCxD, y_BxC: _unembedded_logprobs(h_BxCxD, unembed_DxV, y_BxC))
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


def token_logprobs(params, model_cfg: DecoderConfig, batch: Batch, chunk_size: int | None = None,
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
