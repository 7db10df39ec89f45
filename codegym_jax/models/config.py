"""Architecture of a Qwen-family decoder, and its conversion from an HF `config.json`."""
from __future__ import annotations

import dataclasses
import json
import math
import pathlib
from typing import Any

import numpy as np

DTYPES = ("float32", "bfloat16")


@dataclasses.dataclass(frozen=True)
class DecoderConfig:
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    family: str = "qwen2"  # "qwen2" (q/k/v biases) or "qwen3" (q/k RMSNorm, no biases)
    rope_theta: float = 1_000_000.0
    # HF rope_parameters beyond theta, as sorted (key, value) pairs so the config stays hashable;
    # None means plain RoPE.
    rope_scaling: tuple[tuple[str, Any], ...] | None = None
    rms_norm_eps: float = 1e-6
    tie_word_embeddings: bool = False
    max_position_embeddings: int = 32768
    param_dtype: str = "float32"
    compute_dtype: str = "float32"
    # Recompute each layer in the backward pass.
    remat: bool = False

    def __post_init__(self):
        if self.family not in ("qwen2", "qwen3"):
            raise ValueError(f"family must be 'qwen2' or 'qwen3', got {self.family!r}")
        if self.num_heads % self.num_kv_heads:
            raise ValueError(
                f"num_heads={self.num_heads} is not a multiple of num_kv_heads={self.num_kv_heads}"
            )
        if self.head_dim % 2:
            raise ValueError(f"head_dim must be even for RoPE, got {self.head_dim}")
        for name in ("param_dtype", "compute_dtype"):
            if getattr(self, name) not in DTYPES:
                raise ValueError(f"{name} must be one of {DTYPES}, got {getattr(self, name)!r}")

    @property
    def qkv_bias(self) -> bool:
        return self.family == "qwen2"

    @property
    def qk_norm(self) -> bool:
        return self.family == "qwen3"

    @property
    def rope_type(self) -> str:
        return dict(self.rope_scaling or ()).get("rope_type", "default")


def rope_frequencies(cfg: DecoderConfig) -> tuple[np.ndarray, float]:
    """(inv_freq [head_dim/2], attention_factor) for the config's RoPE variant, as HF computes them."""
    dim = cfg.head_dim
    base = cfg.rope_theta
    pos_freqs = base ** (np.arange(0, dim, 2, dtype=np.float64) / dim)
    params = dict(cfg.rope_scaling or ())
    kind = params.get("rope_type", "default")
    if kind == "default":
        return (1.0 / pos_freqs).astype(np.float32), 1.0
    if kind == "linear":
        return (1.0 / pos_freqs / float(params["factor"])).astype(np.float32), 1.0
    if kind == "yarn":
        factor = float(params["factor"])
        original_max = params.get("original_max_position_embeddings") or cfg.max_position_embeddings

        def get_mscale(scale: float, mscale: float = 1.0) -> float:
            return 1.0 if scale <= 1 else 0.1 * mscale * math.log(scale) + 1.0

        attention_factor = params.get("attention_factor")
        if attention_factor is None:
            mscale, mscale_all_dim = params.get("mscale"), params.get("mscale_all_dim")
            if mscale and mscale_all_dim:
                attention_factor = get_mscale(factor, mscale) / get_mscale(factor, mscale_all_dim)
            else:
                attention_factor = get_mscale(factor)
        beta_fast = params.get("beta_fast") or 32
        beta_slow = params.get("beta_slow") or 1

        def correction_dim(rotations: float) -> float:
            return (dim * math.log(original_max / (rotations * 2 * math.pi))) / (2 * math.log(base))

        low, high = correction_dim(beta_fast), correction_dim(beta_slow)
        if params.get("truncate", True):
            low, high = math.floor(low), math.ceil(high)
        low, high = max(low, 0), min(high, dim - 1)
        if low == high:
            high += 0.001
        ramp = np.clip((np.arange(dim // 2, dtype=np.float32) - low) / (high - low), 0, 1)
        extrapolation_weight = 1 - ramp
        inv_freq = (1.0 / (factor * pos_freqs)) * (1 - extrapolation_weight) + (
            1.0 / pos_freqs
        ) * extrapolation_weight
        return inv_freq.astype(np.float32), float(attention_factor)
    raise ValueError(f"unsupported rope_type {kind!r}; supported: default, linear, yarn")


def decoder_config_from_hf(hf_config_or_path: Any, **overrides: Any) -> DecoderConfig:
    """DecoderConfig from a transformers config object, a folder, or a config.json path."""
    if isinstance(hf_config_or_path, (str, pathlib.Path)):
        from transformers import AutoConfig

        path = pathlib.Path(hf_config_or_path)
        hf = AutoConfig.from_pretrained(str(path.parent if path.is_file() else path))
    else:
        hf = hf_config_or_path
    model_type = getattr(hf, "model_type", None)
    if model_type not in ("qwen2", "qwen3"):
        raise ValueError(f"unsupported model_type {model_type!r}; supported: qwen2, qwen3")
    rope = dict(getattr(hf, "rope_parameters", None) or {})
    theta = rope.pop("rope_theta", None) or getattr(hf, "rope_theta", None) or 10000.0
    rope = {k: v for k, v in rope.items() if v is not None}
    scaling = None if rope.get("rope_type", "default") == "default" else tuple(sorted(rope.items()))
    head_dim = getattr(hf, "head_dim", None) or hf.hidden_size // hf.num_attention_heads
    kwargs = dict(
        vocab_size=hf.vocab_size,
        hidden_size=hf.hidden_size,
        intermediate_size=hf.intermediate_size,
        num_layers=hf.num_hidden_layers,
        num_heads=hf.num_attention_heads,
        num_kv_heads=hf.num_key_value_heads,
        head_dim=head_dim,
        family=model_type,
        rope_theta=float(theta),
        rope_scaling=scaling,
        rms_norm_eps=hf.rms_norm_eps,
        tie_word_embeddings=bool(hf.tie_word_embeddings),
        max_position_embeddings=hf.max_position_embeddings,
    )
    kwargs.update(overrides)
    return DecoderConfig(**kwargs)


def hf_config_dict(cfg: DecoderConfig) -> dict:
    """config.json content readable by transformers 5 and by transformers-4 style readers."""
    rope_parameters = {"rope_type": "default", "rope_theta": cfg.rope_theta}
    rope_parameters.update(dict(cfg.rope_scaling or ()))
    arch = "Qwen2ForCausalLM" if cfg.family == "qwen2" else "Qwen3ForCausalLM"
    out = {
        "architectures": [arch],
        "model_type": cfg.family,
        "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.hidden_size,
        "intermediate_size": cfg.intermediate_size,
        "num_hidden_layers": cfg.num_layers,
        "num_attention_heads": cfg.num_heads,
        "num_key_value_heads": cfg.num_kv_heads,
        "head_dim": cfg.head_dim,
        "hidden_act": "silu",
        "max_position_embeddings": cfg.max_position_embeddings,
        "rms_norm_eps": cfg.rms_norm_eps,
        "tie_word_embeddings": cfg.tie_word_embeddings,
        "attention_dropout": 0.0,
        "use_cache": True,
        "rope_parameters": rope_parameters,
        # transformers-4 readers (e.g. sglang-jax) look for these names instead.
        "rope_theta": cfg.rope_theta,
        "rope_scaling": None if cfg.rope_scaling is None else dict(cfg.rope_scaling),
        "torch_dtype": cfg.param_dtype,
        "dtype": cfg.param_dtype,
        "use_sliding_window": False,
        "sliding_window": None,
        "max_window_layers": cfg.num_layers,
    }
    if cfg.family == "qwen2":
        out["attention_bias"] = True
    else:
        out["attention_bias"] = False
    return out


def dump_hf_config(cfg: DecoderConfig, path: pathlib.Path) -> None:
    path.write_text(json.dumps(hf_config_dict(cfg), indent=2, sort_keys=True) + "\n")
