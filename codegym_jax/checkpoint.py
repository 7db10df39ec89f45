"""Orbax checkpoints of the whole training state: params, optimizer state, step, RNG, and the
host-side progress (data position and anything JSON-able), so a resumed run continues exactly.

Saves are asynchronous (training continues while the arrays are written), the newest `keep` are
kept, and restore places every array straight into the shardings of the live state.
"""
from __future__ import annotations

import pathlib
from typing import Any

import jax
import orbax.checkpoint as ocp

from codegym_jax.models.config import DecoderConfig
from codegym_jax.models.hf_io import save_hf_model
from codegym_jax.rl.learner import TrainState


def _storable(state: TrainState) -> TrainState:
    # Typed PRNG keys are stored as their raw key data (also for an abstract restore target).
    if isinstance(state.rng, jax.ShapeDtypeStruct):
        raw = jax.eval_shape(jax.random.key_data, state.rng)
        return state._replace(rng=jax.ShapeDtypeStruct(raw.shape, raw.dtype, sharding=state.rng.sharding))
    return state._replace(rng=jax.random.key_data(state.rng))


class Checkpointer:
    """A CheckpointManager over `directory` for TrainState + JSON progress."""

    def __init__(self, directory: str | pathlib.Path, keep: int = 3, async_save: bool = True):
        self.directory = pathlib.Path(directory).resolve()
        options = ocp.CheckpointManagerOptions(max_to_keep=keep, enable_async_checkpointing=async_save,
                                               create=True)
        self._manager = ocp.CheckpointManager(self.directory, options=options)

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def all_steps(self) -> list[int]:
        return list(self._manager.all_steps())

    def save(self, step: int, state: TrainState, progress: dict[str, Any]) -> None:
        """Starts saving `state` and `progress` (e.g. {"data_position": 1234}) as checkpoint `step`."""
        self._manager.save(step, args=ocp.args.Composite(
            state=ocp.args.StandardSave(_storable(state)),
            progress=ocp.args.JsonSave(progress),
        ))

    def restore(self, like: TrainState, step: int | None = None) -> tuple[TrainState, dict[str, Any]]:
        """(state, progress) of `step` (default: the latest), arrays in `like`'s shardings.
        `like` may be a live state or `learner.abstract_train_state(...)`."""
        step = self.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"no checkpoint in {self.directory}")
        like = _storable(like)
        abstract = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), like)
        out = self._manager.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract),
            progress=ocp.args.JsonRestore(),
        ))
        state = out["state"]
        state = TrainState(*state) if not isinstance(state, TrainState) else state
        return state._replace(rng=jax.random.wrap_key_data(state.rng)), dict(out["progress"])

    def wait(self) -> None:
        """Blocks until pending asynchronous saves are on disk."""
        self._manager.wait_until_finished()

    def close(self) -> None:
        self._manager.wait_until_finished()
        self._manager.close()

    def __enter__(self) -> "Checkpointer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def export_hf(path: str | pathlib.Path, cfg: DecoderConfig, state: TrainState) -> pathlib.Path:
    """The state's params as an HF folder (config.json + safetensors) for transformers / SGLang."""
    return save_hf_model(path, cfg, state.params)
