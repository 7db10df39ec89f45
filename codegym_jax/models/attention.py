"""Grouped-query attention: over a KV cache's window (in the cache's layouts), and the training
form (keys are the queries' own tokens) with a hand-written backward.

Layouts. Activations arrive as q [B, L, H, D] and k, v [B, S, K, D] with H = K * G query heads
sharing each key head. The training form works in the "folded" layout q [B, K, G*L, D], k, v
[B, K, S, D]: the G query heads of a key head become rows of one matrix, so every product is one
batched matmul over B*K with M = G*L rows, and the sum over the G heads in dK and dV is part of the
matmul's contraction instead of a separate reduction. Its backward is the standard one, with the
probabilities P recomputed from the saved log-sum-exp (dV = P^T dO, dP = dO V^T,
dS = P * (dP - rowsum(dO * O)), dQ = dS K, dK = dS^T Q); autodiff of the grouped form keeps extra
[.., L, S] intermediates and runs its einsums through transposes, which on XLA:CPU made one
layer's attention forward+backward 1.6x slower (62 against 39 ms at batch 8 x 256, 8 heads over
2; the whole step: benchmarks/model_bench.py, docstring).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

# Score of a masked key: the most negative float32, not -inf, so that a row with no visible key
# (padding) gives a uniform softmax instead of NaN.
MASKED_SCORE = float(np.finfo(np.float32).min)


def grouped_attention(q_BxLxHxD, k_BxKxSxD, v_BxKxDxS, mask_BxLxS):
    """softmax(q k^T / sqrt(D) masked) v over a KV cache's window, in the cache's layouts."""
    b, l, h, hd = q_BxLxHxD.shape
    kvh = k_BxKxSxD.shape[1]
    q = q_BxLxHxD.reshape(b, l, kvh, h // kvh, hd)
    scores = jnp.einsum("blkgd,bksd->bkgls", q, k_BxKxSxD, preferred_element_type=jnp.float32)
    scores = scores / np.sqrt(hd).astype(np.float32)
    scores = jnp.where(mask_BxLxS[:, None, None], scores, MASKED_SCORE)
    probs = jax.nn.softmax(scores, axis=-1).astype(v_BxKxDxS.dtype)
    out = jnp.einsum("bkgls,bkds->blkgd", probs, v_BxKxDxS)
    return out.reshape(b, l, h, hd)


def _fold_heads(x_BxLxHxD, kv_heads: int):
    """[B, L, K*G, D] -> [B, K, G*L, D] (row g*L + l is query head g of key head k at token l)."""
    b, l, h, d = x_BxLxHxD.shape
    g = h // kv_heads
    return x_BxLxHxD.reshape(b, l, kv_heads, g, d).transpose(0, 2, 3, 1, 4).reshape(b, kv_heads, g * l, d)


def _unfold_heads(x_BxKxMxD, seq: int):
    b, kvh, m, d = x_BxKxMxD.shape
    g = m // seq
    return x_BxKxMxD.reshape(b, kvh, g, seq, d).transpose(0, 3, 1, 2, 4).reshape(b, seq, kvh * g, d)


def _scores(qf_BxKxMxD, kt_BxKxSxD, mask_BxLxS):
    """Masked scaled scores [B, K, G, L, S] in float32."""
    b, kvh, m, hd = qf_BxKxMxD.shape
    l, s = mask_BxLxS.shape[1:]
    scale = np.asarray(1.0 / np.sqrt(hd), qf_BxKxMxD.dtype)
    scores = jnp.einsum("bkmd,bksd->bkms", qf_BxKxMxD * scale, kt_BxKxSxD,
                        preferred_element_type=jnp.float32)
    # An additive bias broadcast inside the fusion (a select against a constant made XLA
    # materialise the constant at the full score shape).
    bias = jnp.where(mask_BxLxS, 0.0, MASKED_SCORE)[:, None, None]
    return scores.reshape(b, kvh, m // l, l, s) + bias


def _forward(q_BxLxHxD, k_BxSxKxD, v_BxSxKxD, mask_BxLxS):
    kvh = k_BxSxKxD.shape[2]
    qf = _fold_heads(q_BxLxHxD, kvh)
    kt, vt = k_BxSxKxD.transpose(0, 2, 1, 3), v_BxSxKxD.transpose(0, 2, 1, 3)
    scores = _scores(qf, kt, mask_BxLxS)
    lse = jax.nn.logsumexp(scores, axis=-1, keepdims=True)
    probs = jnp.exp(scores - lse).reshape(qf.shape[:3] + (kt.shape[2],))
    out = jnp.einsum("bkms,bksd->bkmd", probs.astype(vt.dtype), vt)
    return _unfold_heads(out, q_BxLxHxD.shape[1]), (qf, kt, vt, lse, out)


@jax.custom_vjp
def self_attention(q_BxLxHxD, k_BxSxKxD, v_BxSxKxD, mask_BxLxS):
    """Each token attends to the earlier ones of its row (k, v as projected, [B, S, K, D]); the
    values of grouped_attention on the same keys, with a faster backward (module docstring).
    mask is not differentiated."""
    return _forward(q_BxLxHxD, k_BxSxKxD, v_BxSxKxD, mask_BxLxS)[0]


def _self_attention_fwd(q_BxLxHxD, k_BxSxKxD, v_BxSxKxD, mask_BxLxS):
    out, saved = _forward(q_BxLxHxD, k_BxSxKxD, v_BxSxKxD, mask_BxLxS)
    return out, saved + (mask_BxLxS,)


def _self_attention_bwd(saved, dout_BxLxHxD):
    """The probabilities are recomputed from the saved log-sum-exp (one matmul and one exp)
    rather than saved: keeping [B, K, G, L, S] per layer for the backward cost more in memory
    traffic than recomputing it."""
    qf, kt, vt, lse, out, mask_BxLxS = saved
    b, kvh, m, hd = qf.shape
    s = kt.shape[2]
    probs = jnp.exp(_scores(qf, kt, mask_BxLxS) - lse).reshape(b, kvh, m, s)
    dout = _fold_heads(dout_BxLxHxD, kvh)
    dv = jnp.einsum("bkms,bkmd->bksd", probs.astype(dout.dtype), dout)
    dprobs = jnp.einsum("bkmd,bksd->bkms", dout, vt, preferred_element_type=jnp.float32)
    row_dot = jnp.sum(dout.astype(jnp.float32) * out.astype(jnp.float32), axis=-1, keepdims=True)
    # Masked scores get no gradient (a fully masked row has uniform probs), as under autodiff.
    visible = jnp.broadcast_to(mask_BxLxS[:, None, None], lse.shape[:-1] + (s,)).reshape(b, kvh, m, s)
    dscores = jnp.where(visible, probs * (dprobs - row_dot), 0.0)
    dscores = (dscores * (1.0 / np.sqrt(hd))).astype(qf.dtype)
    dq = jnp.einsum("bkms,bksd->bkmd", dscores, kt)
    dk = jnp.einsum("bkms,bkmd->bksd", dscores, qf)
    return (_unfold_heads(dq, mask_BxLxS.shape[1]), dk.transpose(0, 2, 1, 3).astype(kt.dtype),
            dv.transpose(0, 2, 1, 3).astype(vt.dtype), None)


self_attention.defvjp(_self_attention_fwd, _self_attention_bwd)
