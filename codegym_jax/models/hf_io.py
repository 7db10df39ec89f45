"""HF checkpoints in and out: config.json + *.safetensors (single file or sharded with an index).

Loading builds each parameter with `jax.make_array_from_callback`, so every device reads only
the slices of its own shard (one HF tensor at a time on the host; never the whole model).
Saving writes transformers-loadable shards plus the transformers-4 config fields SGLang needs.
"""
from __future__ import annotations

import dataclasses
import json
import pathlib
from typing import Any, Callable

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file

from codegym_jax.models.config import DecoderConfig, dump_hf_config, decoder_config_from_hf
from codegym_jax.models.qwen import Params, param_shapes
from codegym_jax.sharding import logical_sharding

INDEX_FILE = "model.safetensors.index.json"
SINGLE_FILE = "model.safetensors"

# our layer leaf -> (HF suffix under model.layers.{i}., kind); kind says how to convert.
_LAYER_MAP = {
    "attn_norm": ("input_layernorm.weight", "vector"),
    "mlp_norm": ("post_attention_layernorm.weight", "vector"),
    "q_kernel": ("self_attn.q_proj.weight", "in_heads"),
    "k_kernel": ("self_attn.k_proj.weight", "in_heads"),
    "v_kernel": ("self_attn.v_proj.weight", "in_heads"),
    "o_kernel": ("self_attn.o_proj.weight", "heads_out"),
    "q_bias": ("self_attn.q_proj.bias", "bias_heads"),
    "k_bias": ("self_attn.k_proj.bias", "bias_heads"),
    "v_bias": ("self_attn.v_proj.bias", "bias_heads"),
    "q_norm": ("self_attn.q_norm.weight", "vector"),
    "k_norm": ("self_attn.k_norm.weight", "vector"),
    "gate_kernel": ("mlp.gate_proj.weight", "transpose"),
    "up_kernel": ("mlp.up_proj.weight", "transpose"),
    "down_kernel": ("mlp.down_proj.weight", "transpose"),
}
_TOP_MAP = {
    "embed": ("model.embed_tokens.weight", "vector"),
    "final_norm": ("model.norm.weight", "vector"),
    "lm_head": ("lm_head.weight", "transpose"),
}


def _from_hf(arr: np.ndarray, kind: str, shape: tuple[int, ...]) -> np.ndarray:
    """HF tensor ([out, in] for linears) -> our layout of `shape` (one layer)."""
    if kind in ("vector", "bias_heads"):
        return arr.reshape(shape)
    if kind == "transpose":
        return arr.T
    if kind == "in_heads":  # [H*hd, D] -> [D, H, hd]
        return arr.T.reshape(shape)
    if kind == "heads_out":  # [D, H*hd] -> [H, hd, D]
        return arr.T.reshape(shape)
    raise ValueError(kind)


def _to_hf(arr: np.ndarray, kind: str) -> np.ndarray:
    if kind == "vector":
        return arr
    if kind == "bias_heads":
        return arr.reshape(-1)
    if kind == "transpose":
        return np.ascontiguousarray(arr.T)
    if kind == "in_heads":  # [D, H, hd] -> [H*hd, D]
        return np.ascontiguousarray(arr.reshape(arr.shape[0], -1).T)
    if kind == "heads_out":  # [H, hd, D] -> [D, H*hd]
        return np.ascontiguousarray(arr.reshape(-1, arr.shape[-1]).T)
    raise ValueError(kind)


class _TensorReader:
    """Reads named tensors from a folder's safetensors file(s), opening each file once."""

    def __init__(self, folder: pathlib.Path):
        index = folder / INDEX_FILE
        if index.exists():
            weight_map = json.loads(index.read_text())["weight_map"]
        elif (folder / SINGLE_FILE).exists():
            with safe_open(str(folder / SINGLE_FILE), framework="numpy") as f:
                weight_map = {k: SINGLE_FILE for k in f.keys()}
        else:
            raise FileNotFoundError(f"no {SINGLE_FILE} or {INDEX_FILE} in {folder}")
        self.folder = folder
        self.weight_map = weight_map
        self._handles: dict[str, Any] = {}

    def get(self, name: str) -> np.ndarray:
        if name not in self.weight_map:
            raise KeyError(f"tensor {name!r} not found in checkpoint {self.folder}")
        file = self.weight_map[name]
        if file not in self._handles:
            self._handles[file] = safe_open(str(self.folder / file), framework="numpy")
        return self._handles[file].get_tensor(name)


def _leaf_builder(
    reader: _TensorReader, key: tuple[str, ...], shape: tuple[int, ...], num_layers: int
) -> Callable[[tuple[slice, ...]], np.ndarray]:
    """A function returning the global slice `index` of one of our parameters, read from HF."""
    if key[0] == "layers":
        suffix, kind = _LAYER_MAP[key[1]]

        def read(index: tuple[slice, ...]) -> np.ndarray:
            layer_ids = range(num_layers)[index[0]]
            parts = [
                _from_hf(reader.get(f"model.layers.{i}.{suffix}"), kind, shape[1:])[index[1:]]
                for i in layer_ids
            ]
            return np.stack(parts)

        return read
    name, kind = _TOP_MAP[key[0]]
    return lambda index: _from_hf(reader.get(name), kind, shape)[index]


def load_hf_model(
    path: str | pathlib.Path,
    mesh: jax.sharding.Mesh | None = None,
    **config_overrides: Any,
) -> tuple[DecoderConfig, Params]:
    """(config, params) from an HF folder; with a mesh, each device gets only its shard."""
    folder = pathlib.Path(path)
    cfg = decoder_config_from_hf(folder, **config_overrides)
    reader = _TensorReader(folder)
    dtype = jnp.dtype(cfg.param_dtype)
    shapes = param_shapes(cfg)

    def build(key_path, entry):
        key = tuple(k.key for k in key_path)
        shape, axes = entry
        read = _leaf_builder(reader, key, shape, cfg.num_layers)
        if mesh is None:
            full = tuple(slice(None) for _ in shape)
            return jnp.asarray(read(full).astype(dtype))
        sharding = logical_sharding(mesh, axes)
        return jax.make_array_from_callback(
            shape, sharding, lambda index: read(index).astype(dtype)
        )

    is_entry = lambda x: isinstance(x, tuple) and len(x) == 2 and isinstance(x[1], tuple)  # noqa: E731
    params = jax.tree_util.tree_map_with_path(build, shapes, is_leaf=is_entry)
    return cfg, params


def _host_array(x: jax.Array) -> np.ndarray:
    if jax.process_count() > 1 and not x.is_fully_addressable:
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(x, tiled=True))
    return np.asarray(jax.device_get(x))


def hf_state_dict(cfg: DecoderConfig, params: Params, dtype: str | None = None):
    """Yields (HF name, host array) one tensor at a time, in HF's dtype `dtype`."""
    np_dtype = ml_dtypes.bfloat16 if (dtype or cfg.param_dtype) == "bfloat16" else np.float32
    for name, (hf_name, kind) in _TOP_MAP.items():
        if name in params:
            yield hf_name, _to_hf(_host_array(params[name]), kind).astype(np_dtype)
    for leaf, (suffix, kind) in _LAYER_MAP.items():
        if leaf not in params["layers"]:
            continue
        stacked = _host_array(params["layers"][leaf])
        for i in range(cfg.num_layers):
            yield f"model.layers.{i}.{suffix}", _to_hf(stacked[i], kind).astype(np_dtype)


def save_hf_model(
    path: str | pathlib.Path,
    cfg: DecoderConfig,
    params: Params,
    max_shard_bytes: int = 4 << 30,
    dtype: str | None = None,
) -> pathlib.Path:
    """Writes config.json and safetensors shards (+ index when more than one) to `path`."""
    folder = pathlib.Path(path)
    tensors = list(hf_state_dict(cfg, params, dtype))
    if jax.process_index() != 0:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    shards: list[dict[str, np.ndarray]] = [{}]
    size = 0
    for name, arr in tensors:
        if shards[-1] and size + arr.nbytes > max_shard_bytes:
            shards.append({})
            size = 0
        shards[-1][name] = arr
        size += arr.nbytes
    metadata = {"format": "pt"}
    if len(shards) == 1:
        save_file(shards[0], str(folder / SINGLE_FILE), metadata=metadata)
    else:
        weight_map = {}
        for i, shard in enumerate(shards):
            file = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
            save_file(shard, str(folder / file), metadata=metadata)
            weight_map.update({name: file for name in shard})
        index = {
            "metadata": {"total_size": int(sum(a.nbytes for _, a in tensors))},
            "weight_map": weight_map,
        }
        (folder / INDEX_FILE).write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    saved_cfg = cfg if dtype is None else dataclasses.replace(cfg, param_dtype=dtype)
    dump_hf_config(saved_cfg, folder / "config.json")
    return folder
