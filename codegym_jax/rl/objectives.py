"""Loss functions for `learner.make_train_step`: the train step takes the loss as a function.

A `LossFn` is `loss_fn(params, micro_batch, batch_mask_BxT) -> (loss, sums)`:

- `micro_batch` is one micro-batch: a dict of [b, L] arrays in the learner's batch layout
  (`tokens_BxL`, `positions_BxL`, `segment_ids_BxL`, `loss_mask_BxL`, and whatever else the loss
  reads, e.g. `advantages_BxL`, `old_logprobs_BxL`, `sampler_logprobs_BxL`, `ref_logprobs_BxL`);
- `batch_mask_BxT` is the target mask of the WHOLE batch (`target_view(batch)[1]`, [B, L-1]),
  from which the loss takes its global denominator, so the micro-batch losses sum to the
  full-batch loss however the batch is split;
- `sums` is a dict of scalar token-sums for metrics. It must hold "tokens" (the micro-batch's
  target count); keys ending in `_max` / `_min` combine over micro-batches by max / min, the
  others add up. The train step reports each sum divided by the total token count (the
  `_max` / `_min` ones as they are).

The loss must not depend on the micro-batch size other than through this contract; the learner
tests check 1/2/4 micro-batches and 1..8 devices give one step.
"""
from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp

from codegym_jax.models.config import DecoderConfig
from codegym_jax.rl import losses, sft
from codegym_jax.rl.logprobs import Batch, target_view, token_logprobs

LossFn = Callable[[Any, Batch, jax.Array], tuple[jax.Array, dict[str, jax.Array]]]


def policy_gradient_loss(model_cfg: DecoderConfig, loss_cfg: losses.LossConfig, temperature: float = 1.0,
                         chunk_size: int | None = None) -> LossFn:
    """The RL policy loss (`losses.policy_loss`) of `model_cfg`'s model: the clipped ratio of the
    batch's `old_logprobs_BxL`, its `advantages_BxL` on every token, the KL to `ref_logprobs_BxL`
    when `loss_cfg.kl_coef` is set, truncated importance weights against `sampler_logprobs_BxL`
    when `loss_cfg.tis_cap` is. Log-probs are of softmax(logits / temperature), the rollout's
    sampling distribution. Sums: policy_loss's, plus sampler_logprob_gap (|log p - sampler|),
    ratio_max and ratio_min."""

    def loss_fn(params, micro: Batch, batch_mask_BxT: jax.Array):
        denominator = losses.loss_denominator(batch_mask_BxT, loss_cfg)
        logp, entropy = token_logprobs(params, model_cfg, micro, chunk_size, temperature)
        _, mask = target_view(micro)
        adv = micro["advantages_BxL"][:, 1:]
        old = micro["old_logprobs_BxL"][:, 1:]
        sampler = micro["sampler_logprobs_BxL"][:, 1:]
        ref = micro["ref_logprobs_BxL"][:, 1:] if "ref_logprobs_BxL" in micro else None
        loss, sums = losses.policy_loss(logp, old, adv, mask, loss_cfg, denominator,
                                        sampler_logp_BxT=sampler, ref_logp_BxT=ref, entropy_BxT=entropy)
        sums["sampler_logprob_gap"] = jnp.sum(jnp.abs(jax.lax.stop_gradient(logp) - sampler) * mask)
        ratio = jax.lax.stop_gradient(losses.importance_ratio(logp, old, mask, loss_cfg))
        sums["ratio_max"] = jnp.max(jnp.where(mask > 0, ratio, -jnp.inf))
        sums["ratio_min"] = jnp.min(jnp.where(mask > 0, ratio, jnp.inf))
        return loss, sums

    return loss_fn


def sft_cross_entropy(model_cfg: DecoderConfig, chunk_size: int | None = None) -> LossFn:
    """Masked cross-entropy (`sft.sft_loss`) of `model_cfg`'s model at temperature 1, normalised by
    the whole batch's target count max(sum of the mask, 1). Sums: tokens, entropy."""

    def loss_fn(params, micro: Batch, batch_mask_BxT: jax.Array):
        denominator = jnp.maximum(jnp.sum(batch_mask_BxT), 1.0)
        logp, entropy = token_logprobs(params, model_cfg, micro, chunk_size)
        _, mask = target_view(micro)
        loss = sft.sft_loss(logp, mask, denominator)
        return loss, {"tokens": jnp.sum(mask), "entropy": jnp.sum(entropy * mask)}

    return loss_fn
