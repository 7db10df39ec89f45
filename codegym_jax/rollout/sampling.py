"""Token sampling from logits: temperature, top-k, top-p and greedy, per row, with log-probs."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def sample_next(logits_BxV, keys_Bx2, temperature_B, top_p_B, top_k_B, greedy_B):
    """One token per row, with its log-prob under the temperature-scaled distribution.

    Rows are filtered by top-k (0 = off) then top-p (the smallest prefix of tokens, in order of
    probability, whose mass reaches top_p; the most likely token is always kept). The draw is
    made in vocabulary order with the row's key, so a row's token does not depend on what the
    other rows of the batch ask for; the sort that filtering needs runs only when a row filters
    (on a CPU it costs more than the rest of a small model's decode step)."""
    logits_BxV = logits_BxV.astype(jnp.float32)
    temperature_B = jnp.where(greedy_B, 1.0, temperature_B)
    logprobs_BxV = jax.nn.log_softmax(logits_BxV / temperature_B[:, None], axis=-1)
    filters = jnp.any((top_k_B > 0) | (top_p_B < 1.0))
    allowed_BxV = jax.lax.cond(filters, _filtered, lambda lp, p, k: lp, logprobs_BxV, top_p_B, top_k_B)
    choice_B = jax.vmap(jax.random.categorical)(keys_Bx2, allowed_BxV)
    token_B = jnp.where(greedy_B, jnp.argmax(logprobs_BxV, axis=-1), choice_B).astype(jnp.int32)
    logprob_B = jnp.take_along_axis(logprobs_BxV, token_B[:, None], axis=-1)[:, 0]
    return token_B, logprob_B


def _filtered(logprobs_BxV, top_p_B, top_k_B):
    """The log-probs with the tokens top-k / top-p drop set to -inf (vocabulary order)."""
    batch, vocab = logprobs_BxV.shape
    sorted_BxV, order_BxV = jax.lax.top_k(logprobs_BxV, vocab)
    rank_V = jnp.arange(vocab)
    keep_k = (top_k_B[:, None] <= 0) | (rank_V[None, :] < top_k_B[:, None])
    mass_before_BxV = jnp.cumsum(jnp.exp(sorted_BxV), axis=-1) - jnp.exp(sorted_BxV)
    keep_sorted = (keep_k & (mass_before_BxV < top_p_B[:, None])).at[:, 0].set(True)
    keep_BxV = jnp.zeros_like(keep_sorted).at[jnp.arange(batch)[:, None], order_BxV].set(keep_sorted)
    return jnp.where(keep_BxV, logprobs_BxV, -jnp.inf)
