"""The learner: one TrainState pytree and `train_step(state, batch) -> (state, metrics)`.

Batch arrays are [B, L] and aligned with `tokens` (entry t describes token t); the model predicts
token t from tokens < t, so losses use targets tokens[:, 1:] with the masks, advantages and
log-probs of those target tokens. Losses are normalised by denominators of the WHOLE batch, and
micro-batches are summed, so the step does not depend on how the batch is split.
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Any, Literal, NamedTuple

import chex
import jax
import jax.numpy as jnp
import optax
from jax.sharding import NamedSharding, PartitionSpec as P

from codegym_jax.models import qwen
from codegym_jax.models.config import ModelConfig
from codegym_jax.rl import losses, sft
from codegym_jax.rl.logprobs import chunked_logprobs
from codegym_jax.sharding import logical_sharding, tree_shardings

Batch = dict[str, jax.Array]


class TrainState(NamedTuple):
    step: jax.Array
    params: Any
    opt_state: Any
    rng: jax.Array


@dataclasses.dataclass(frozen=True)
class OptimizerConfig:
    """AdamW with global-norm clipping and linear warm-up (paper: lr 1e-6, 5 warm-up steps,
    Adam (0.9, 0.95), weight decay 0.1, clip 1.0)."""

    learning_rate: float = 1e-6
    warmup_steps: int = 5
    schedule: Literal["constant", "cosine"] = "constant"
    # Cosine decays to zero at this step.
    total_steps: int = 100
    b1: float = 0.9
    b2: float = 0.95
    eps: float = 1e-8
    weight_decay: float = 0.1
    grad_clip_norm: float = 1.0


def learning_rate_schedule(cfg: OptimizerConfig) -> optax.Schedule:
    warmup = optax.linear_schedule(0.0, cfg.learning_rate, max(cfg.warmup_steps, 1))
    if cfg.schedule == "constant":
        after = optax.constant_schedule(cfg.learning_rate)
    elif cfg.schedule == "cosine":
        after = optax.cosine_decay_schedule(cfg.learning_rate, max(cfg.total_steps - cfg.warmup_steps, 1))
    else:
        raise ValueError(f"unknown schedule {cfg.schedule!r}; expected constant or cosine")
    return optax.join_schedules([warmup, after], [cfg.warmup_steps])


def make_optimizer(cfg: OptimizerConfig) -> optax.GradientTransformation:
    return optax.chain(
        optax.clip_by_global_norm(cfg.grad_clip_norm),
        optax.adamw(learning_rate_schedule(cfg), b1=cfg.b1, b2=cfg.b2, eps=cfg.eps,
                    weight_decay=cfg.weight_decay),
    )


def state_shardings(model_cfg: ModelConfig, optimizer: optax.GradientTransformation,
                    mesh: jax.sharding.Mesh, abstract_state: TrainState) -> TrainState:
    """Parameters and their optimizer moments in the parameters' shards; scalars replicated."""
    param_sh = tree_shardings(mesh, qwen.param_logical_axes(model_cfg))
    replicated = NamedSharding(mesh, P())
    opt_sh = optax.tree_map_params(optimizer, lambda _, s: s, abstract_state.opt_state, param_sh,
                                   transform_non_params=lambda _: replicated)
    return TrainState(step=replicated, params=param_sh, opt_state=opt_sh, rng=replicated)


def _state_init(model_cfg: ModelConfig, optimizer: optax.GradientTransformation, params: Any = None):
    """rng -> a fresh TrainState (random params unless `params` are given)."""

    def init(rng):
        init_rng, state_rng = jax.random.split(rng)
        p = qwen.init_params(model_cfg, init_rng) if params is None else params
        return TrainState(jnp.zeros((), jnp.int32), p, optimizer.init(p), state_rng)

    return init


def init_train_state(model_cfg: ModelConfig, optimizer: optax.GradientTransformation,
                     rng: jax.Array, mesh: jax.sharding.Mesh, params: Any = None) -> tuple[TrainState, TrainState]:
    """(state, its shardings); every array is created directly in its shard. Given `params`
    (e.g. loaded from HF) they are used instead of a random init."""
    init = _state_init(model_cfg, optimizer, params)
    abstract = jax.eval_shape(init, rng)
    shardings = state_shardings(model_cfg, optimizer, mesh, abstract)
    if params is None:
        return jax.jit(init, out_shardings=shardings)(rng), shardings
    params = jax.device_put(params, shardings.params)
    state = jax.jit(lambda p, r: TrainState(jnp.zeros((), jnp.int32), p, optimizer.init(p), r),
                    out_shardings=shardings)(params, jax.random.split(rng)[1])
    return state, shardings


def abstract_train_state(model_cfg: ModelConfig, optimizer: optax.GradientTransformation,
                         mesh: jax.sharding.Mesh) -> TrainState:
    """The state's shapes, dtypes and shardings without allocating it (a restore target)."""
    abstract = jax.eval_shape(_state_init(model_cfg, optimizer), jax.random.key(0))
    shardings = state_shardings(model_cfg, optimizer, mesh, abstract)
    return jax.tree.map(lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s), abstract, shardings)


def target_view(batch: Batch) -> tuple[Batch, jax.Array]:
    """Model inputs (tokens < last) and the per-target arrays; a target counts only inside its
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


def token_logprobs(params, model_cfg: ModelConfig, batch: Batch, chunk_size: int = 128,
                   temperature: float = 1.0):
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


def _split_micro(batch: Batch, num_micro: int) -> Batch:
    def split(x):
        if x.shape[0] % num_micro:
            raise ValueError(f"batch size {x.shape[0]} is not divisible by {num_micro} micro-batches")
        return x.reshape(num_micro, x.shape[0] // num_micro, *x.shape[1:])

    return jax.tree.map(split, batch)


def rl_objective(params, model_cfg: ModelConfig, batch: Batch, loss_cfg: losses.LossConfig,
                 denominator: jax.Array, chunk_size: int = 128, temperature: float = 1.0):
    """(loss, token-sums for metrics) of the RL policy loss on `batch`: the clipped ratio against
    its old log-probs, and the KL to its reference log-probs when loss_cfg sets a coefficient."""
    logp, entropy = token_logprobs(params, model_cfg, batch, chunk_size, temperature)
    _, mask = target_view(batch)
    adv = batch["advantages_BxL"][:, 1:]
    old = batch["old_logprobs_BxL"][:, 1:]
    sampler = batch["sampler_logprobs_BxL"][:, 1:]
    ref = batch["ref_logprobs_BxL"][:, 1:] if "ref_logprobs_BxL" in batch else None
    loss, sums = losses.policy_loss(logp, old, adv, mask, loss_cfg, denominator,
                                    sampler_logp_BxT=sampler, ref_logp_BxT=ref, entropy_BxT=entropy)
    sums["sampler_logprob_gap"] = jnp.sum(jnp.abs(jax.lax.stop_gradient(logp) - sampler) * mask)
    ratio = jax.lax.stop_gradient(losses.importance_ratio(logp, old, mask, loss_cfg))
    sums["ratio_max"] = jnp.max(jnp.where(mask > 0, ratio, -jnp.inf))
    sums["ratio_min"] = jnp.min(jnp.where(mask > 0, ratio, jnp.inf))
    return loss, sums


def make_train_step(model_cfg: ModelConfig, optimizer: optax.GradientTransformation,
                    loss_cfg: losses.LossConfig | None = None, num_micro_batches: int = 1,
                    objective: Literal["rl", "sft"] = "rl", chunk_size: int = 128, temperature: float = 1.0):
    """train_step(state, batch) -> (state, metrics); jit it once with `jit_train_step`.
    temperature: the rollout sampling temperature (RL log-probs and ratios are of that
    distribution); SFT always uses 1."""
    loss_cfg = loss_cfg or losses.LossConfig()

    def micro_loss(params, micro: Batch, denominator):
        if objective == "rl":
            return rl_objective(params, model_cfg, micro, loss_cfg, denominator, chunk_size, temperature)
        logp, entropy = token_logprobs(params, model_cfg, micro, chunk_size)
        _, mask = target_view(micro)
        loss = sft.sft_loss(logp, mask, denominator)
        return loss, {"tokens": jnp.sum(mask), "entropy": jnp.sum(entropy * mask)}

    def train_step(state: TrainState, batch: Batch) -> tuple[TrainState, dict[str, jax.Array]]:
        chex.assert_rank(batch["tokens_BxL"], 2)
        _, full_mask = target_view(batch)
        denominator = (jnp.maximum(jnp.sum(full_mask), 1.0) if objective == "sft"
                       else losses.loss_denominator(full_mask, loss_cfg))
        grad_fn = jax.value_and_grad(micro_loss, has_aux=True)

        def combine(key, a, b):
            # Sums add up over micro-batches; extremes combine by max / min.
            if key.endswith("_max"):
                return jnp.maximum(a, b)
            if key.endswith("_min"):
                return jnp.minimum(a, b)
            return a + b

        def accumulate(carry, micro):
            grads, loss, sums = carry
            (l, s), g = grad_fn(state.params, micro, denominator)
            sums = {k: combine(k, sums[k], s[k]) for k in sums}
            return (jax.tree.map(jnp.add, grads, g), loss + l, sums), None

        micros = _split_micro(batch, num_micro_batches)
        first = jax.tree.map(lambda x: x[0], micros)
        shapes = jax.eval_shape(lambda: micro_loss(state.params, first, denominator)[1])
        start = {"_max": -jnp.inf, "_min": jnp.inf}
        zero_sums = {k: jnp.full(v.shape, start.get(k[-4:], 0.0), v.dtype) for k, v in shapes.items()}
        zero_grads = jax.tree.map(jnp.zeros_like, state.params)
        (grads, loss, sums), _ = jax.lax.scan(accumulate, (zero_grads, jnp.zeros(()), zero_sums), micros)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        tokens = jnp.maximum(sums.pop("tokens"), 1.0)
        metrics = {"loss": loss, "grad_norm": optax.tree.norm(grads), "tokens": tokens}
        metrics.update({k: v if k.endswith(("_max", "_min")) else v / tokens for k, v in sums.items()})
        return TrainState(state.step + 1, params, opt_state, state.rng), metrics

    return train_step


def jit_train_step(train_step, shardings: TrainState, mesh: jax.sharding.Mesh):
    """Jitted once, state donated, state in/out in its shards, the batch split over data axes."""
    batch_sharding = logical_sharding(mesh, ("batch", "seq"))
    replicated = NamedSharding(mesh, P())
    return jax.jit(train_step, donate_argnums=(0,), in_shardings=(shardings, batch_sharding),
                   out_shardings=(shardings, replicated))


def make_logprob_fn(model_cfg: ModelConfig, mesh: jax.sharding.Mesh, param_shardings, chunk_size: int = 128,
                    temperature: float = 1.0):
    """Jitted (params, batch) -> log-probs [B, L] aligned with tokens (0 at position 0), for
    old-policy and reference log-probs."""

    def fn(params, batch):
        logp, _ = token_logprobs(params, model_cfg, batch, chunk_size, temperature)
        return jnp.pad(logp, ((0, 0), (1, 0)))

    batch_sharding = logical_sharding(mesh, ("batch", "seq"))
    return jax.jit(fn, in_shardings=(param_shardings, batch_sharding), out_shardings=batch_sharding)
