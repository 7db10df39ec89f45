"""sample_next against NumPy: greedy is argmax, log-probs are the temperature-scaled ones, and
sampled frequencies follow the top-k/top-p filtered distribution (rows with different settings
in one batch)."""

import jax
import jax.numpy as jnp
import numpy as np

from codegym_jax.rollout.sampling import sample_next
from tolerances import assert_within_rounding


def reference_distribution(logits, temperature, top_p, top_k):
    z = logits / temperature
    p = np.exp(z - z.max())
    p /= p.sum()
    order = np.argsort(-p, kind="stable")
    keep = np.zeros_like(p, bool)
    mass = 0.0
    for rank, token in enumerate(order):
        if (top_k > 0 and rank >= top_k) or (rank > 0 and mass >= top_p):
            break
        keep[token] = True
        mass += p[token]
    q = np.where(keep, p, 0.0)
    return q / q.sum(), np.log(p)


def test_sampled_frequencies_and_logprobs_match_numpy():
    rng = np.random.default_rng(0)
    V = 12
    logits = rng.normal(size=(1, V)).astype(np.float32) * 2
    settings = [(1.0, 1.0, 0), (0.7, 1.0, 0), (1.0, 0.8, 0), (1.3, 1.0, 4), (0.9, 0.6, 3)]
    B, draws = len(settings), 4000
    temperature = jnp.array([s[0] for s in settings], jnp.float32)
    top_p = jnp.array([s[1] for s in settings], jnp.float32)
    top_k = jnp.array([s[2] for s in settings], jnp.int32)
    greedy = jnp.zeros(B, bool)
    logits_B = jnp.asarray(np.repeat(logits, B, 0))

    @jax.jit
    def draw(keys_NxBx2):
        return jax.vmap(lambda k: sample_next(logits_B, k, temperature, top_p, top_k, greedy))(keys_NxBx2)

    keys = jax.random.split(jax.random.PRNGKey(1), draws * B).reshape(draws, B, 2)
    tokens, logprobs = jax.device_get(draw(keys))
    for b, (t, p, k) in enumerate(settings):
        q, logp = reference_distribution(logits[0].astype(np.float64), t, p, k)
        freq = np.bincount(tokens[:, b], minlength=V) / draws
        assert np.all(freq[q == 0] == 0), (settings[b], freq, q)
        tolerance = 4.5 * np.sqrt(q * (1 - q) / draws) + 1e-3  # ~4.5 standard errors
        assert np.all(np.abs(freq - q) <= tolerance), (settings[b], freq, q)
        # float32 against float64: a 12-way log-sum-exp of logits / T, twice (logit and sum).
        assert_within_rounding(logprobs[:, b], logp[tokens[:, b]], 2 * V, float(np.abs(logits).max() / t), str(settings[b]))


def test_greedy_is_argmax_with_untempered_logprob():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(6, 50)).astype(np.float32)
    B = logits.shape[0]
    tokens, logprobs = sample_next(jnp.asarray(logits), jax.random.split(jax.random.PRNGKey(0), B),
                                   jnp.full(B, 0.3), jnp.full(B, 0.5), jnp.full(B, 2, jnp.int32), jnp.ones(B, bool))
    np.testing.assert_array_equal(tokens, logits.argmax(-1))
    ref = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    assert_within_rounding(logprobs, ref[np.arange(B), logits.argmax(-1)], 2 * 50, float(np.abs(logits).max()),
                           "greedy log-probs")


def test_unfiltered_batches_follow_the_tempered_distribution():
    # No row filters, so the sort is skipped: the frequencies must still be the reference's.
    rng = np.random.default_rng(5)
    V, draws = 10, 6000
    logits = rng.normal(size=(2, V)).astype(np.float32) * 2
    temperature = jnp.array([1.0, 0.6], jnp.float32)
    ones, zeros = jnp.ones(2, jnp.float32), jnp.zeros(2, jnp.int32)

    @jax.jit
    def draw(keys_NxBx2):
        return jax.vmap(lambda k: sample_next(jnp.asarray(logits), k, temperature, ones, zeros,
                                              jnp.zeros(2, bool)))(keys_NxBx2)

    tokens, _ = jax.device_get(draw(jax.random.split(jax.random.PRNGKey(2), draws * 2).reshape(draws, 2, 2)))
    for b in range(2):
        q, _ = reference_distribution(logits[b].astype(np.float64), float(temperature[b]), 1.0, 0)
        freq = np.bincount(tokens[:, b], minlength=V) / draws
        assert np.all(np.abs(freq - q) <= 4.5 * np.sqrt(q * (1 - q) / draws) + 1e-3), (b, freq, q)


def test_a_rows_token_does_not_depend_on_the_other_rows_settings():
    # Row 0 samples unfiltered; whether row 1 uses top-p/top-k (so the batch takes the sorting
    # branch) must not change row 0's draw for the same key.
    rng = np.random.default_rng(7)
    logits = jnp.asarray(rng.normal(size=(2, 64)).astype(np.float32))
    temperature, greedy = jnp.ones(2), jnp.zeros(2, bool)
    plain = jax.jit(lambda k: sample_next(logits, k, temperature, jnp.ones(2), jnp.zeros(2, jnp.int32), greedy))
    mixed = jax.jit(lambda k: sample_next(logits, k, temperature, jnp.array([1.0, 0.5]), jnp.array([0, 5]), greedy))
    keys = jax.random.split(jax.random.PRNGKey(4), 200 * 2).reshape(200, 2, 2)
    same = [int(plain(k)[0][0]) == int(mixed(k)[0][0]) for k in keys]
    assert all(same)
    assert len({int(plain(k)[0][0]) for k in keys}) > 5  # row 0 really samples
