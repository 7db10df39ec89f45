"""Someone else's jitted GRPO / GSPO training step on codegym_jax.rl's public losses: a toy policy
of its own (a bigram model over 16 tokens, not the project's Qwen) samples 4 groups of 4
completions, rewards give group-relative advantages, per-token log-probs go into the clipped
policy loss over the whole batch's denominator, and optax takes the steps.

    python docs/reusing_the_losses.py
"""
import functools
import pathlib
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # run from a checkout
from codegym_jax.rl import LossConfig, group_advantages, logprobs_from_logits, loss_denominator, policy_loss  # noqa: E402

VOCAB, DIM, GROUPS, SAMPLES, LENGTH = 16, 8, 4, 4, 8
GOOD = 3  # a completion's reward: the fraction of its tokens that are token 3
OPTIMIZER = optax.adam(0.05)


def init_params(key):
    k1, k2 = jax.random.split(key)
    return {"embed": jax.random.normal(k1, (VOCAB, DIM)), "out": 0.5 * jax.random.normal(k2, (DIM, VOCAB))}


def logits_fn(params, tokens_BxT):
    """Next-token logits [B, T, V], each from its token's embedding alone."""
    return jnp.tanh(params["embed"][tokens_BxT]) @ params["out"]


def token_logp(params, tokens_BxL):
    """log p(token t | token t-1) [B, L-1] of every token after the prompt."""
    return logprobs_from_logits(logits_fn(params, tokens_BxL[:, :-1]), tokens_BxL[:, 1:])[0]


def rollout(params, key):
    """One prompt token per group, SAMPLES completions each; a completion stops at a random length."""
    tokens = jnp.repeat(jnp.arange(GROUPS), SAMPLES)[:, None]
    for k in jax.random.split(key, LENGTH):
        tokens = jnp.concatenate([tokens, jax.random.categorical(k, logits_fn(params, tokens[:, -1:]))], 1)
    lengths = jax.random.randint(jax.random.fold_in(key, 1), (GROUPS * SAMPLES, 1), LENGTH // 2, LENGTH + 1)
    return tokens, (jnp.arange(LENGTH)[None] < lengths).astype(jnp.float32)


def loss_fn(params, batch, cfg: LossConfig):
    logp = token_logp(params, batch["tokens"])
    denominator = loss_denominator(batch["mask"], cfg)  # over the whole batch
    loss, _ = policy_loss(logp, batch["old_logp"], batch["advantages"], batch["mask"], cfg, denominator)
    return loss, logp


@functools.partial(jax.jit, static_argnames="cfg")
def train_step(params, opt_state, batch, cfg: LossConfig):
    (loss, logp), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, batch, cfg)
    updates, opt_state = OPTIMIZER.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss, logp


def main(steps: int = 3):
    params = init_params(jax.random.key(0))
    tokens, mask = rollout(params, jax.random.key(1))
    rewards = jnp.sum((tokens[:, 1:] == GOOD) * mask, 1) / jnp.sum(mask, 1)
    advantages = group_advantages(rewards.reshape(GROUPS, SAMPLES), "grpo").reshape(-1, 1)
    batch = {"tokens": tokens, "mask": mask, "advantages": jnp.broadcast_to(advantages, mask.shape),
             "old_logp": jax.jit(token_logp)(params, tokens)}  # the sampling policy's log-probs
    results = {}
    for name, cfg in (("grpo", LossConfig()), ("gspo", LossConfig(policy_loss="gspo"))):
        p, opt_state, losses, logps = params, OPTIMIZER.init(params), [], []
        for _ in range(steps):  # several updates on one rollout: the ratio moves away from 1
            p, opt_state, loss, logp = train_step(p, opt_state, batch, cfg)
            losses.append(float(loss))
            logps.append(np.asarray(logp))
        print(f"{name} loss per step: " + "  ".join(f"{v:+.5f}" for v in losses))
        results[name] = {"losses": losses, "logps": logps}
    return {"params": jax.device_get(params), "batch": jax.device_get(batch), "results": results}


if __name__ == "__main__":
    main()
