"""Padding sizes in power-of-two buckets, so jitted code compiles for a handful of shapes.

Shared by the learner's batch layout (`codegym_jax.rl.batches`: rows and length of a batch), the
in-process sampler (`codegym_jax.rollout.jax_sampler`: admitted rows, prompt and attention
lengths) and the SFT stage. A module of its own so that the rollout package needs nothing from
`codegym_jax.rl`.
"""


def bucket(n: int, multiple: int, cap: int | None = None) -> int:
    """The smallest multiple * 2^k >= n (at least `multiple`), capped at `cap`."""
    if n < 0 or multiple < 1:
        raise ValueError(f"bucket needs n >= 0 and multiple >= 1, got n={n}, multiple={multiple}")
    size = multiple
    while size < n:
        size *= 2
    return size if cap is None else min(size, max(cap, n))
