"""Which params version the rollout engine holds, and when it may take new ones.

On-policy, the engine takes each update's params as soon as the update is done, and the next
rollout starts after that. One step off-policy, step k+1's rollout is sampled while update k
trains, all of it with the params from before update k: the new params wait here until the
rollout that samples with the engine's current ones is in (`rollout_finished`), or until an
eval needs them (`before_eval`). So every step but the first trains on episodes exactly one
update old. A sampler that runs during the update must not hold buffers the update donates:
with `copy_params` the engine gets its own copy.
"""
from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp


def copied(params: Any) -> Any:
    """Params in new buffers (same shardings), safe to hold across a step that donates the state."""
    return jax.tree.map(jnp.copy, params)


class EngineWeights:
    """The engine's params version and the params waiting for it (one step off-policy)."""

    def __init__(self, engine, one_step_off_policy: bool, copy_params: bool, version: int = 0):
        self.engine = engine
        self.off_policy = one_step_off_policy
        self.copy_params = copy_params
        self.version = version
        self._pending: tuple[Any, int] | None = None

    def engine_params(self, params: Any) -> Any:
        """Params as the engine may hold them: a copy when the update would donate them."""
        return copied(params) if self.copy_params else params

    @property
    def pending(self) -> bool:
        return self._pending is not None

    def rollout_during_update(self) -> bool:
        """Whether the next step's rollout starts before this step's update (off-policy)."""
        return self.off_policy

    def updated(self, params: Any, version: int) -> None:
        """The learner has params `version`: the engine takes them now (on-policy) or once the
        rollout sampling with its current ones is in (off-policy)."""
        if version <= self.version:
            raise ValueError(f"params version {version} is not newer than the engine's {self.version}")
        if not self.off_policy:
            self._give(params, version)
            return
        if self._pending is not None:
            raise RuntimeError(f"params version {version} arrived while version {self._pending[1]} still waits "
                               f"for a rollout to finish: the engine would skip a version")
        self._pending = (self.engine_params(params), version)

    def rollout_finished(self) -> None:
        """The rollout sampling with the engine's params is in: waiting params may go in."""
        if self._pending is not None:
            params, version = self._pending
            self._pending = None
            self._give(params, version)

    def before_eval(self, wait_for_rollout: Callable[[], Any]) -> None:
        """An eval measures the learner's latest params: a rollout still sampling with the old
        ones finishes first (`wait_for_rollout`), then the waiting params go in."""
        if self._pending is not None:
            wait_for_rollout()
            self.rollout_finished()

    def _give(self, params: Any, version: int) -> None:
        self.engine.update_weights(params, version)
        self.version = version
