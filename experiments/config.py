"""Typed experiment configuration: one frozen dataclass per concern, composed into ExperimentConfig.

A config file is a Python module exposing `get_config() -> ExperimentConfig`; a resolved config
saved as JSON (`config.json` in every run directory) can be loaded back with `load_config`.
`apply_overrides` takes `a.b.c=value` strings and parses each value to the declared field type.
Defaults are the paper's settings (docs/architecture.md, "The paper's numbers") wherever the paper
states one.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import json
import pathlib
import types
import typing
from typing import Any, Literal

from codegym_jax.envs.build_tasks import HELDOUT_ENVS
from codegym_jax.rl.learner import OptimizerConfig
from codegym_jax.rl.losses import LossConfig
from sandbox.limits import SandboxLimits


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """The policy: an HF checkpoint folder, or a from-scratch architecture for tiny CPU runs."""

    # HF folder with config.json + *.safetensors; empty means random init from the fields below.
    hf_path: str = ""
    # Tokenizer folder; empty means the one inside hf_path, or for a from-scratch model the
    # project's shipped byte-level BPE (codegym_jax/rollout/bpe_tokenizer).
    tokenizer_path: str = ""
    param_dtype: Literal["float32", "bfloat16"] = "float32"
    compute_dtype: Literal["float32", "bfloat16"] = "float32"
    # Recompute each layer's activations in the backward pass (memory for compute).
    remat: bool = False
    # From-scratch architecture (ignored when hf_path is set). Qwen2-style by default.
    family: Literal["qwen2", "qwen3"] = "qwen2"
    hidden_size: int = 128
    intermediate_size: int = 384
    num_layers: int = 2
    num_heads: int = 4
    num_kv_heads: int = 2
    head_dim: int = 32
    rope_theta: float = 10000.0
    rms_norm_eps: float = 1e-6
    max_position_embeddings: int = 4096
    tie_word_embeddings: bool = True


@dataclasses.dataclass(frozen=True)
class MeshConfig:
    """Device mesh sizes; exactly one axis may be -1, meaning "all remaining devices"."""

    data: int = 1
    fsdp: int = -1
    tensor: int = 1


@dataclasses.dataclass(frozen=True)
class RolloutConfig:
    """How episodes are generated: engine, tool-call format, sampling and budgets."""

    # "jax": the in-process sampler sharing the learner's params; "sglang": HTTP SGLang servers.
    engine: Literal["jax", "sglang"] = "jax"
    tool_format: Literal["codegym", "native"] = "codegym"
    # codegym prompt: each tool's "full" docstring (the paper's layout) or "compact" one-liners.
    tool_docs: Literal["full", "compact"] = "full"
    # Episodes per task (GRPO group size G).
    group_size: int = 8
    temperature: float = 1.0
    top_p: float = 1.0
    # 0 disables top-k filtering.
    top_k: int = 0
    # T_max: tool calls per episode.
    max_turns: int = 256
    max_new_tokens_per_turn: int = 1024
    max_prompt_tokens: int = 5120
    max_response_tokens: int = 24576
    # Observations longer than this are cut (with a marker) before tokenisation.
    max_observation_chars: int = 4096
    # Concurrent sequences in the JAX sampler's decode batch.
    sampler_slots: int = 64
    # SGLang: server URLs (round-robin) or a router URL; optionally launched by us.
    sglang_urls: tuple[str, ...] = ()
    sglang_router_url: str = ""
    sglang_python: str = ""
    sglang_launch: bool = False


@dataclasses.dataclass(frozen=True)
class SandboxConfig:
    """The process pool that runs untrusted environment code."""

    num_workers: int = 2
    # Per-worker resource limits, call deadlines and the per-episode tool-call backstop.
    limits: SandboxLimits = SandboxLimits()
    # Remote env servers (`python -m sandbox.server`; token in $CODEGYM_SANDBOX_TOKEN);
    # empty means an in-process pool.
    server_urls: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Task instances: train.jsonl, val_seen.jsonl (new instances of training envs) and val.jsonl
    (held-out envs), built from the environments' generators on first use."""

    # Folder of the task files; empty means "<run dir>/tasks".
    task_dir: str = ""
    # Instances per (environment, difficulty): train, and each validation split.
    train_per_env: int = 20
    val_per_env: int = 10
    difficulties: tuple[Literal["easy", "medium", "hard"], ...] = ("easy", "medium", "hard")
    seed: int = 0
    # The paper's task filter on oracle length.
    min_oracle_steps: int = 10
    max_oracle_steps: int = 256
    # Environments never seen in training (evaluated on val.jsonl).
    heldout_envs: tuple[str, ...] = HELDOUT_ENVS
    # Training environments (class names); empty means every library env not held out.
    train_envs: tuple[str, ...] = ()
    # Folder of environment files (upstream CodeGym or synthesised); empty: the built-in library.
    env_dir: str = ""


@dataclasses.dataclass(frozen=True)
class AlgorithmConfig:
    """Policy-gradient loss (rl.losses.LossConfig: GRPO/PPO clip, clip-higher, dual clip, GSPO,
    aggregation, KL, entropy, TIS) and the advantage estimator around it."""

    advantage: Literal["grpo", "grpo_no_std", "rloo", "drgrpo"] = "grpo"
    loss: LossConfig = LossConfig()
    # Drop groups whose rewards are all equal (no learning signal) before the update.
    dynamic_sampling: bool = True
    # Old-policy log-probs of the clipped ratio: "recompute" runs the learner over the rollout
    # batch before its first update (exact, one extra forward); "sampler" reuses the engine's
    # (the same params for the in-process sampler, so only numerics differ).
    old_logprobs: Literal["recompute", "sampler"] = "recompute"


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """The training loop: which stages run and how large each step is."""

    # In order. "sft_baseline" continues SFT from the SFT stage for the RL stage's wall time
    # (the oracle-SFT comparison the RL stage has to beat); "eval" evaluates every policy the
    # run has (initial, sft, rl, sft_baseline) on the eval splits.
    stages: tuple[Literal["data", "sft", "rl", "sft_baseline", "eval"], ...] = ("data",)
    seed: int = 0
    rl_steps: int = 100
    # Tasks per RL step (each rolled out rollout.group_size times).
    tasks_per_step: int = 512
    # Episodes per optimizer update; tasks_per_step * group_size / mini_batch_size updates a step.
    mini_batch_size: int = 512
    # Sequences per forward/backward pass; gradients accumulate across micro-batches.
    micro_batch_size: int = 8
    sft_steps: int = 0
    # Oracle transcripts per SFT step (they cycle through the train split's oracle runs).
    sft_batch_size: int = 32
    # Sample step k+1's rollouts (with the params before update k) while update k trains; the
    # stale sampler log-probs are corrected by recomputed old log-probs and algorithm.loss.tis_cap.
    one_step_off_policy: bool = False


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """Evaluation on val_seen (new instances of training envs) and val (held-out envs)."""

    splits: tuple[Literal["train", "val_seen", "val"], ...] = ("val_seen", "val")
    # RL steps between evaluations of the current policy (0: only the "eval" stage evaluates).
    every_steps: int = 10
    # Tasks per split (a fixed, seeded subset; 0 = all).
    num_tasks: int = 64
    samples_per_task: int = 1
    # pass@k reported for each k (unbiased estimator); every k must be <= samples_per_task
    # (`check_config`).
    pass_k: tuple[int, ...] = (1,)
    # 0 = greedy decoding.
    temperature: float = 0.0


@dataclasses.dataclass(frozen=True)
class CheckpointConfig:
    """Orbax checkpoints inside the run directory."""

    every_steps: int = 10
    keep: int = 3
    async_save: bool = True
    # Also write HF safetensors of the final params.
    export_hf: bool = True


@dataclasses.dataclass(frozen=True)
class LoggingConfig:
    """Where results land and what is recorded."""

    # Run directory; "{name}" is replaced by ExperimentConfig.name.
    run_dir: str = "runs/{name}"
    tensorboard: bool = True
    log_every_steps: int = 1
    # Episodes written in readable form per step.
    samples_per_step: int = 4
    progress_bars: bool = True


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    name: str = "experiment"
    model: ModelConfig = ModelConfig()
    mesh: MeshConfig = MeshConfig()
    rollout: RolloutConfig = RolloutConfig()
    sandbox: SandboxConfig = SandboxConfig()
    data: DataConfig = DataConfig()
    algorithm: AlgorithmConfig = AlgorithmConfig()
    # The RL optimizer (paper: lr 1e-6, 5 warm-up steps) and the SFT one.
    optimizer: OptimizerConfig = OptimizerConfig()
    sft_optimizer: OptimizerConfig = OptimizerConfig(learning_rate=1e-5, warmup_steps=10)
    train: TrainConfig = TrainConfig()
    eval: EvalConfig = EvalConfig()
    checkpoint: CheckpointConfig = CheckpointConfig()
    logging: LoggingConfig = LoggingConfig()


class ConfigError(ValueError):
    """A config file, override or JSON document that does not fit the schema."""


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin is tuple:
        return f"tuple of {_type_name(typing.get_args(tp)[0])}"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    return getattr(tp, "__name__", str(tp))


def _parse_scalar(text: str, tp: Any, key: str) -> Any:
    """Parses one override string to `tp` (bool/int/float/str/Literal/Optional)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if type(None) in args and text.strip().lower() in ("none", "null"):
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _parse_scalar(text, arg, key)
            except ConfigError:
                pass
        raise ConfigError(f"{key}: cannot parse {text!r} as {_type_name(tp)}")
    if origin is Literal:
        allowed = typing.get_args(tp)
        for a in allowed:
            if str(a) == text:
                return a
        raise ConfigError(f"{key}: {text!r} is not allowed; expected {_type_name(tp)}")
    if tp is bool:
        low = text.strip().lower()
        if low in ("true", "1", "yes", "on"):
            return True
        if low in ("false", "0", "no", "off"):
            return False
        raise ConfigError(f"{key}: {text!r} is not a bool (use true/false)")
    if tp is int:
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"{key}: {text!r} is not an int") from None
    if tp is float:
        try:
            return float(text)
        except ValueError:
            raise ConfigError(f"{key}: {text!r} is not a float") from None
    if tp is str:
        return text
    raise ConfigError(f"{key}: fields of type {_type_name(tp)} cannot be overridden from text")


def _parse_override_value(text: str, tp: Any, key: str) -> Any:
    if typing.get_origin(tp) is tuple:
        (elem_tp, *_rest) = typing.get_args(tp)
        stripped = text.strip()
        if stripped.startswith("["):
            try:
                items = json.loads(stripped)
            except json.JSONDecodeError as e:
                raise ConfigError(f"{key}: {text!r} is not a JSON list ({e})") from None
            return _coerce(items, tp, key)
        if not stripped:
            return ()
        return tuple(_parse_scalar(part.strip(), elem_tp, key) for part in stripped.split(","))
    if dataclasses.is_dataclass(tp):
        raise ConfigError(
            f"{key} is a group of fields, not a value; set one of: "
            + ", ".join(f"{key}.{f}" for f in _field_types(tp))
        )
    return _parse_scalar(text, tp, key)


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Checks a JSON value against `tp`, converting lists to tuples and dicts to dataclasses."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected an object for {tp.__name__}, got {value!r}")
        return _from_dict(tp, value, key)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in typing.get_args(tp):
            return None
        for arg in typing.get_args(tp):
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except ConfigError:
                pass
        raise ConfigError(f"{key}: {value!r} is not {_type_name(tp)}")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list ({_type_name(tp)}), got {value!r}")
        (elem_tp, *_rest) = typing.get_args(tp)
        return tuple(_coerce(v, elem_tp, f"{key}[{i}]") for i, v in enumerate(value))
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise ConfigError(f"{key}: {value!r} is not allowed; expected {_type_name(tp)}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected a bool, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an int, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a float, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported field type {_type_name(tp)}")


def _from_dict(cls: type, data: dict, prefix: str = "") -> Any:
    types_by_name = _field_types(cls)
    unknown = sorted(set(data) - set(types_by_name))
    if unknown:
        where = prefix or cls.__name__
        raise ConfigError(
            f"unknown field(s) {unknown} in {where}; allowed: {sorted(types_by_name)}"
        )
    kwargs = {
        name: _coerce(value, types_by_name[name], f"{prefix}.{name}" if prefix else name)
        for name, value in data.items()
    }
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{prefix or cls.__name__}: {e}") from None


def config_from_dict(data: dict) -> ExperimentConfig:
    """Builds an ExperimentConfig from a (possibly partial) nested dict, strictly checked."""
    return _from_dict(ExperimentConfig, data)


def config_to_dict(config: ExperimentConfig) -> dict:
    """A JSON-ready nested dict (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def apply_overrides(config: ExperimentConfig, overrides: list[str]) -> ExperimentConfig:
    """Applies `a.b.c=value` overrides in order; each value is parsed to its field's type."""
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"override {item!r} is not of the form a.b.c=value")
        config = _replace_path(config, key.split("."), text, key)
    return config


def _replace_path(node: Any, path: list[str], text: str, full_key: str) -> Any:
    types_by_name = _field_types(type(node))
    name = path[0]
    if name not in types_by_name:
        where = ".".join(full_key.split(".")[: -len(path)]) or type(node).__name__
        raise ConfigError(
            f"unknown config key {full_key!r}: {where} has no field {name!r}; "
            f"allowed: {sorted(types_by_name)}"
        )
    tp = types_by_name[name]
    if len(path) == 1:
        value = _parse_override_value(text, tp, full_key)
    else:
        child = getattr(node, name)
        if not dataclasses.is_dataclass(child):
            raise ConfigError(
                f"unknown config key {full_key!r}: {name!r} is a value ({_type_name(tp)}), not a group"
            )
        value = _replace_path(child, path[1:], text, full_key)
    try:
        return dataclasses.replace(node, **{name: value})
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{full_key}: {e}") from None


def check_config(config: ExperimentConfig) -> ExperimentConfig:
    """Checks that span fields, so no single field's type or override can make them: run on the
    whole config a run will use, after every override."""
    ev = config.eval
    bad = [k for k in ev.pass_k if not 1 <= k <= ev.samples_per_task]
    if bad:
        raise ConfigError(f"eval.pass_k={list(ev.pass_k)} holds {bad}, outside 1..eval.samples_per_task="
                          f"{ev.samples_per_task}: pass@k needs k samples of each task")
    a = config.algorithm
    if config.train.one_step_off_policy and a.old_logprobs == "recompute" and not a.loss.tis_cap:
        raise ConfigError("train.one_step_off_policy=true samples each step's episodes with params one update "
                          "old, and with algorithm.old_logprobs='recompute' and algorithm.loss.tis_cap=0 nothing "
                          "corrects for that: set algorithm.loss.tis_cap (e.g. 2.0), or algorithm.old_logprobs="
                          "'sampler' to take the clipped ratio against the sampling policy")
    return config


def load_config(path: str | pathlib.Path) -> ExperimentConfig:
    """Loads a config module (`get_config()`) or a resolved `config.json`."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    if path.suffix == ".json":
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise ConfigError(f"config file {str(path)!r} is not valid JSON: {e}") from None
        return config_from_dict(data)
    if path.suffix != ".py":
        raise ConfigError(f"config file {str(path)!r} must be a .py module or a .json file")
    spec = importlib.util.spec_from_file_location(f"_experiment_config_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    get_config = getattr(module, "get_config", None)
    if get_config is None:
        raise ConfigError(f"config module {str(path)!r} has no get_config() function")
    config = get_config()
    if not isinstance(config, ExperimentConfig):
        raise ConfigError(
            f"{str(path)!r}: get_config() returned {type(config).__name__}, not ExperimentConfig"
        )
    return config


def save_config(config: ExperimentConfig, path: str | pathlib.Path) -> None:
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config_to_dict(config), indent=2, sort_keys=True) + "\n")


def run_dir(config: ExperimentConfig) -> pathlib.Path:
    return pathlib.Path(config.logging.run_dir.replace("{name}", config.name))
