"""The learner: one TrainState pytree and `train_step(state, batch) -> (state, metrics)`.

Batch arrays are [B, L] and aligned with `tokens` (entry t describes token t); the model predicts
token t from tokens < t, so losses use targets tokens[:, 1:] with the masks, advantages and
log-probs of those target tokens. The loss is a function (`objectives.LossFn`: e.g.
`objectives.policy_gradient_loss` or `objectives.sft_cross_entropy`) given each micro-batch and the
WHOLE batch's target mask, from which it takes its denominator; micro-batch losses and gradients
are summed, so the step does not depend on how the batch is split.
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
from codegym_jax.models.config import DecoderConfig
from codegym_jax.rl.logprobs import target_view, token_logprobs
from codegym_jax.rl.objectives import LossFn
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


def state_shardings(model_cfg: DecoderConfig, optimizer: optax.GradientTransformation,
                    mesh: jax.sharding.Mesh, abstract_state: TrainState) -> TrainState:
    """Parameters and their optimizer moments in the parameters' shards; scalars replicated."""
    param_sh = tree_shardings(mesh, qwen.param_logical_axes(model_cfg))
    replicated = NamedSharding(mesh, P())
    opt_sh = optax.tree_map_params(optimizer, lambda _, s: s, abstract_state.opt_state, param_sh,
                                   transform_non_params=lambda _: replicated)
    return TrainState(step=replicated, params=param_sh, opt_state=opt_sh, rng=replicated)


def _state_init(model_cfg: DecoderConfig, optimizer: optax.GradientTransformation, params: Any = None):
    """rng -> a fresh TrainState (random params unless `params` are given)."""

    def init(rng):
        init_rng, state_rng = jax.random.split(rng)
        p = qwen.init_params(model_cfg, init_rng) if params is None else params
        return TrainState(jnp.zeros((), jnp.int32), p, optimizer.init(p), state_rng)

    return init


def init_train_state(model_cfg: DecoderConfig, optimizer: optax.GradientTransformation,
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


def abstract_train_state(model_cfg: DecoderConfig, optimizer: optax.GradientTransformation,
                         mesh: jax.sharding.Mesh) -> TrainState:
    """The state's shapes, dtypes and shardings without allocating it (a restore target)."""
    abstract = jax.eval_shape(_state_init(model_cfg, optimizer), jax.random.key(0))
    shardings = state_shardings(model_cfg, optimizer, mesh, abstract)
    return jax.tree.map(lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s), abstract, shardings)


def _split_micro(batch: Batch, num_micro: int) -> Batch:
    def split(x):
        if x.shape[0] % num_micro:
            raise ValueError(f"batch size {x.shape[0]} is not divisible by {num_micro} micro-batches")
        return x.reshape(num_micro, x.shape[0] // num_micro, *x.shape[1:])

    return jax.tree.map(split, batch)


def make_train_step(optimizer: optax.GradientTransformation, loss_fn: LossFn, num_micro_batches: int = 1):
    """train_step(state, batch) -> (state, metrics); jit it once with `jit_train_step`.

    `loss_fn(params, micro_batch, batch_mask_BxT) -> (loss, sums)` (see `objectives`) is called on
    each of `num_micro_batches` micro-batches with the whole batch's target mask; losses and
    gradients are summed. Metrics: loss, grad_norm, tokens, and every other sum divided by the
    token count (`_max` / `_min` ones as they are)."""

    def train_step(state: TrainState, batch: Batch) -> tuple[TrainState, dict[str, jax.Array]]:
        chex.assert_rank(batch["tokens_BxL"], 2)
        _, full_mask = target_view(batch)
        grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

        def combine(key, a, b):
            # Sums add up over micro-batches; extremes combine by max / min.
            if key.endswith("_max"):
                return jnp.maximum(a, b)
            if key.endswith("_min"):
                return jnp.minimum(a, b)
            return a + b

        def accumulate(carry, micro):
            grads, loss, sums = carry
            (l, s), g = grad_fn(state.params, micro, full_mask)
            sums = {k: combine(k, sums[k], s[k]) for k in sums}
            return (jax.tree.map(jnp.add, grads, g), loss + l, sums), None

        micros = _split_micro(batch, num_micro_batches)
        first = jax.tree.map(lambda x: x[0], micros)
        shapes = jax.eval_shape(lambda: loss_fn(state.params, first, full_mask)[1])
        if "tokens" not in shapes:
            raise ValueError(f"the loss function's sums must include 'tokens', got {sorted(shapes)}")
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


def make_logprob_fn(model_cfg: DecoderConfig, mesh: jax.sharding.Mesh, param_shardings, chunk_size: int | None = None,
                    temperature: float = 1.0):
    """Jitted (params, batch) -> log-probs [B, L] aligned with tokens (0 at position 0), for
    old-policy and reference log-probs."""

    def fn(params, batch):
        logp, _ = token_logprobs(params, model_cfg, batch, chunk_size, temperature)
        return jnp.pad(logp, ((0, 0), (1, 0)))

    batch_sharding = logical_sharding(mesh, ("batch", "seq"))
    return jax.jit(fn, in_shardings=(param_shardings, batch_sharding), out_shardings=batch_sharding)
