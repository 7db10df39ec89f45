"""RL losses, advantages, log-probs, SFT and the learner step, as pieces another training loop can reuse.

Pure, jittable functions of arrays (no model, no batch layout; every per-token array is [B, T]):

- losses: `LossConfig` (PPO/GRPO clipped ratio, DAPO clip-higher, dual clip, GSPO's sequence
  ratio via `LossConfig(policy_loss="gspo")`, KL to a reference, entropy bonus, truncated
  importance weights, four aggregations); `policy_loss(logp, old_logp, advantages, mask, cfg,
  denominator) -> (loss, token-sums)`; `loss_denominator(mask, cfg)`, the global normaliser (take
  it over the WHOLE batch, so micro-batch losses add up to the full-batch loss); `aggregate`,
  `importance_ratio`, `kl_penalty` (k1/k2/k3).
- advantages: `group_advantages(rewards [groups, samples], mode)` (grpo, grpo_no_std, rloo,
  drgrpo) and `informative_groups` (the dynamic-sampling filter).
- logprobs: `logprobs_from_logits(logits [B, T, V], targets [B, T]) -> (logp, entropy)`, and
  `chunked_logprobs(hidden, unembed, targets)`, the same without holding [B, T, V].
- sft: `sft_loss(logp, mask, denominator)`, masked cross-entropy.

The learner (`codegym_jax.models`' decoder, the [B, L] batch layout of `rl.batches`):

- objectives: `LossFn`, the loss a train step takes, `loss_fn(params, micro_batch,
  batch_mask_BxT) -> (loss, sums)`; `policy_gradient_loss(model_cfg, loss_cfg)` and
  `sft_cross_entropy(model_cfg)` build the two this project trains with.
- learner: `TrainState`, `OptimizerConfig` / `make_optimizer` (AdamW, clipping, warm-up),
  `make_train_step(optimizer, loss_fn, num_micro_batches)` and `jit_train_step`.

`docs/reusing_the_losses.py` runs the pure pieces in a training step of its own, with its own
model. Import the submodules (`codegym_jax.rl.losses`, ...) for everything else.
"""
from codegym_jax.rl.advantages import group_advantages, informative_groups
from codegym_jax.rl.learner import OptimizerConfig, TrainState, jit_train_step, make_optimizer, make_train_step
from codegym_jax.rl.logprobs import chunked_logprobs, logprobs_from_logits
from codegym_jax.rl.losses import LossConfig, aggregate, importance_ratio, kl_penalty, loss_denominator, policy_loss
from codegym_jax.rl.objectives import LossFn, policy_gradient_loss, sft_cross_entropy
from codegym_jax.rl.sft import sft_loss

__all__ = [
    # losses
    "LossConfig", "policy_loss", "loss_denominator", "aggregate", "importance_ratio", "kl_penalty",
    # advantages
    "group_advantages", "informative_groups",
    # logprobs
    "logprobs_from_logits", "chunked_logprobs",
    # sft
    "sft_loss",
    # objectives
    "LossFn", "policy_gradient_loss", "sft_cross_entropy",
    # learner
    "TrainState", "OptimizerConfig", "make_optimizer", "make_train_step", "jit_train_step",
]
