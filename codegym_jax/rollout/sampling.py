"""Token sampling from logits: temperature, top-k, top-p and greedy, per row, with log-probs."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def sample_next(logits_BxV, keys_Bx2, temperature_B, top_p_B, top_k_B, greedy_B):
    """One token per row, with its log-prob under the temperature-scaled distribution.

    Rows are filtered by top-k (0 = off) then top-p (the smallest prefix of tokens, in order of
    probability, whose mass reaches top_p; the most likely token is always kept)."""
    logits_BxV = logits_BxV.astype(jnp.float32)
    vocab = logits_BxV.shape[-1]
    temperature_B = jnp.where(greedy_B, 1.0, temperature_B)
    logprobs_BxV = jax.nn.log_softmax(logits_BxV / temperature_B[:, None], axis=-1)
    sorted_BxV, order_BxV = jax.lax.top_k(logprobs_BxV, vocab)
    rank_V = jnp.arange(vocab)
    keep_k = (top_k_B[:, None] <= 0) | (rank_V[None, :] < top_k_B[:, None])
    mass_before_BxV = jnp.cumsum(jnp.exp(sorted_BxV), axis=-1) - jnp.exp(sorted_BxV)
    keep_p = mass_before_BxV < top_p_B[:, None]
    keep = keep_k & keep_p
    keep = keep.at[:, 0].set(True)
    filtered_BxV = jnp.where(keep, sorted_BxV, -jnp.inf)
    choice_B = jax.vmap(lambda key, row: jax.random.categorical(key, row))(keys_Bx2, filtered_BxV)
    choice_B = jnp.where(greedy_B, 0, choice_B)
    token_B = jnp.take_along_axis(order_BxV, choice_B[:, None], axis=-1)[:, 0]
    logprob_B = jnp.take_along_axis(logprobs_BxV, token_B[:, None], axis=-1)[:, 0]
    return token_B.astype(jnp.int32), logprob_B
