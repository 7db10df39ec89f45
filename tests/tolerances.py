"""Tolerances that follow from what is compared, not from one machine's rounding.

Two results of the same program on the same shapes are compared exactly. Two results of
different programs (other shapes, shardings, micro-batches, another library or CPU) that compute
the same float32 value differ by rounding: a float32 value built by summing n terms of magnitude
at most `scale` is within n * eps * scale of the exact sum (recursive summation, any order), and a
composition of such steps adds their bounds. `within_rounding` checks that bound, with n the
number of rounded terms along the longest chain of reductions that produced the value, and says
how many eps * scale the difference was, so a failure shows how far past the bound it went.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import jax
import numpy as np
import optax

F32_EPS = float(np.finfo(np.float32).eps)  # 2**-23


def rounding_bound(terms: int, scale: float) -> float:
    """The bound n * eps * scale on the float32 error of a value made of `terms` rounded terms of
    magnitude at most `scale`."""
    if terms < 1 or scale < 0:
        raise ValueError(f"terms must be >= 1 and scale >= 0, got terms={terms}, scale={scale}")
    return terms * F32_EPS * scale


def forward_terms(cfg, seq_len: int) -> int:
    """The rounded terms along the longest chain of reductions in a forward of the decoder to
    log-probs: per layer the attention norm and q/k/v projections (hidden each), the scores
    (head_dim), the weighted values (seq_len), the output projection (heads x head_dim), the MLP
    norm and gate/up projections (hidden each) and the down projection (intermediate); then the
    final norm and unembedding (hidden each) and the log-softmax (vocabulary)."""
    layer = (4 * cfg.hidden_size + cfg.head_dim + seq_len + cfg.num_heads * cfg.head_dim
             + cfg.intermediate_size)
    return cfg.num_layers * layer + 2 * cfg.hidden_size + cfg.vocab_size


def gradient_terms(cfg, seq_len: int, targets: int) -> int:
    """A parameter gradient retraces the forward's chain backwards (twice its terms) and sums the
    contributions of every target token."""
    return 2 * forward_terms(cfg, seq_len) + targets


def logprob_bound(cfg, seq_len: int, logit_scale: float) -> float:
    """Two forwards' log-probs of one token differ by at most two logits' rounding: the token's
    logit and the log-sum-exp (as large as the largest logit)."""
    return 2 * rounding_bound(forward_terms(cfg, seq_len), logit_scale)


def assert_greedy_tokens(tokens, logprob_rows, bound: float, what: str = "", logprobs=None):
    """Every token is the argmax of its row of reference log-probs, up to twice `bound`: where
    two forwards' log-probs differ by up to `bound` each, a near-tie may go either way. Given
    `logprobs`, the tokens' own log-probs are within `bound` of the rows' too."""
    rows = np.asarray(logprob_rows, np.float64)
    assert rows.shape[0] == len(tokens), f"{what}: {len(tokens)} tokens against {rows.shape[0]} rows"
    for i, tok in enumerate(tokens):
        best = int(np.argmax(rows[i]))
        assert rows[i, tok] >= rows[i, best] - 2 * bound, (
            f"{what}: token {i} is {tok} (log-prob {rows[i, tok]:.6g}), the reference's argmax is {best} "
            f"({rows[i, best]:.6g}), apart by more than 2 x {bound:.3g}")
    if logprobs is not None:
        assert_within(logprobs, rows[np.arange(len(tokens)), list(tokens)], bound, f"{what} log-probs")


def assert_within(actual, desired, bound: float, what: str = ""):
    """|actual - desired| <= bound elementwise."""
    actual = np.asarray(actual, np.float64)
    desired = np.asarray(desired, np.float64)
    assert actual.shape == desired.shape, f"{what}: shapes {actual.shape} and {desired.shape} differ"
    err = float(np.max(np.abs(actual - desired), initial=0.0))
    assert err <= bound, f"{what}: max |difference| {err:.3g} is past the bound {bound:.3g} ({err / bound:.2f}x)"


def assert_within_rounding(actual, desired, terms: int, scale: float | None = None, what: str = ""):
    """|actual - desired| <= terms * eps * scale elementwise; scale defaults to max |desired|."""
    if scale is None:
        scale = float(np.max(np.abs(np.asarray(desired, np.float64)), initial=0.0))
    assert_within(actual, desired, rounding_bound(terms, scale), f"{what} ({terms} terms of <= {scale:.3g})")


def tree_max_abs(tree) -> float:
    return max(float(np.max(np.abs(np.asarray(x)), initial=0.0)) for x in jax.tree.leaves(jax.device_get(tree)))


def assert_trees_within(actual, desired, bound: float, what: str = ""):
    """`assert_within` on every leaf, named by its path."""
    paths = jax.tree_util.tree_flatten_with_path(jax.device_get(actual))[0]
    leaves = jax.tree.leaves(jax.device_get(desired))
    assert len(paths) == len(leaves), f"{what}: {len(paths)} leaves against {len(leaves)}"
    for (path, a), d in zip(paths, leaves):
        assert_within(a, d, bound, f"{what}{jax.tree_util.keystr(path)}")


class CapturedGradients(NamedTuple):
    gradients: Any


def capture_gradients() -> optax.GradientTransformation:
    """An optax transformation that passes gradients on unchanged and keeps them in its state:
    chained in front of an optimizer, the train step's gradients can be read off its state."""
    return optax.GradientTransformation(lambda params: CapturedGradients(optax.tree.zeros_like(params)),
                                        lambda updates, state, params=None: (updates, CapturedGradients(updates)))
