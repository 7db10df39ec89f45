"""The experiment configuration's schema: one frozen dataclass per concern, composed into
ExperimentConfig, and the checks that span fields (`check_config`).

A config file is a Python module exposing `get_config() -> ExperimentConfig`
(`experiments/configs/*.py`); `config_io` loads one, applies `a.b.c=value` overrides and reads
a resolved `config.json` back. Defaults are the paper's settings (docs/architecture.md, "The
paper's numbers") wherever the paper states one.
"""
from __future__ import annotations

import dataclasses
import pathlib
from typing import Literal

from codegym_jax.bfcl_harness import OFFLINE_CATEGORIES
from codegym_jax.envs.build_tasks import HELDOUT_ENVS
from codegym_jax.models.config import DecoderConfig
from codegym_jax.ood_eval import OodEvalConfig
from codegym_jax.rl.learner import OptimizerConfig
from codegym_jax.rl.losses import LossConfig
from codegym_jax.run_paths import RunPaths
from sandbox.limits import SandboxLimits


# The from-scratch decoder of tiny CPU runs: Qwen2-style, 2 layers, hidden 128, 4 query heads of
# 32 over 2 KV heads. vocab_size 0: sized to the tokenizer (`components.decoder_config`).
SCRATCH_DECODER = DecoderConfig(
    vocab_size=0, hidden_size=128, intermediate_size=384, num_layers=2, num_heads=4, num_kv_heads=2,
    head_dim=32, family="qwen2", rope_theta=10000.0, rms_norm_eps=1e-6, tie_word_embeddings=True,
    max_position_embeddings=4096)


@dataclasses.dataclass(frozen=True)
class PolicyConfig:
    """The policy: an HF checkpoint folder, or a from-scratch decoder for tiny CPU runs."""

    # HF folder with config.json + *.safetensors; empty means random init of `architecture`.
    hf_path: str = ""
    # Tokenizer folder; empty means the one inside hf_path, or for a from-scratch model the
    # project's shipped byte-level BPE (codegym_jax/rollout/bpe_tokenizer).
    tokenizer_path: str = ""
    param_dtype: Literal["float32", "bfloat16"] = "float32"
    compute_dtype: Literal["float32", "bfloat16"] = "float32"
    # Recompute each layer's activations in the backward pass (memory for compute).
    remat: bool = False
    # The from-scratch architecture (only when hf_path is empty; an HF folder brings its own).
    # vocab_size 0 sizes the vocabulary to the tokenizer's, rounded up to a multiple of 128 for
    # even shards. Its dtype and remat fields are the three above (`check_config`).
    architecture: DecoderConfig = SCRATCH_DECODER


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

    # Sandbox calls run at once by the data stage (its threads); the pool itself starts one
    # worker process per environment source (SandboxLimits.max_workers at most).
    num_workers: int = 2
    # Per-worker resource limits, call deadlines and the per-episode tool-call backstop.
    limits: SandboxLimits = SandboxLimits()
    # Remote env servers (`python -m sandbox.server`; token in $CODEGYM_SANDBOX_TOKEN);
    # empty means an in-process pool.
    server_urls: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class ReleasedDataConfig:
    """Released CodeGym data (`codegym_jax.envs.build_released`): instances come from record
    files instead of the env files' `generate()`; the env files are `data.env_dir`'s
    `{code_id}__{EnvName}.py`. Splits are by environment (held-out ones for val) and by
    instance (val_seen), seeded by `data.seed`."""

    # Record files (.jsonl or .parquet) or folders of them; empty: generate instances.
    records: tuple[str, ...] = ()
    # Share of the environments (code_id__EnvName) held out for val, at least one.
    heldout_fraction: float = 0.05
    # Instances of each training environment kept for val_seen (at least one stays for train).
    val_seen_per_env: int = 1
    # Instances of each held-out environment in val; 0: all of them.
    val_per_env: int = 0
    # Instances of each training environment in train; 0: all not in val_seen.
    train_per_env: int = 0
    # Open each episode with the record's own `prompt` messages, rendered by the chat template,
    # as the paper trained (needs rollout.tool_format="codegym", the format they ask for);
    # off: the project's prompt, as for generated instances.
    record_prompts: bool = False


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
    # Released records as the instances (the fields above that shape generation then stay unset).
    released: ReleasedDataConfig = ReleasedDataConfig()


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
    # run has (initial, sft, rl, sft_baseline) on the eval splits; "ood_eval" scores them on
    # BFCL (`OodEvalConfig`).
    stages: tuple[Literal["data", "sft", "rl", "sft_baseline", "eval", "ood_eval"], ...] = ("data",)
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
    model: PolicyConfig = PolicyConfig()
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
    ood_eval: OodEvalConfig = OodEvalConfig()
    checkpoint: CheckpointConfig = CheckpointConfig()
    logging: LoggingConfig = LoggingConfig()


class ConfigError(ValueError):
    """A config file, override or JSON document that does not fit the schema."""


# DataConfig fields that shape generated instances; released records bring their own.
_GENERATION_FIELDS = ("train_per_env", "val_per_env", "difficulties", "heldout_envs", "train_envs")


def check_released_data(config: ExperimentConfig) -> None:
    d, r = config.data, config.data.released
    if r.record_prompts and config.rollout.tool_format != "codegym":
        raise ConfigError(f"data.released.record_prompts=true opens episodes with the records' own prompts, which "
                          f"ask for codegym-format calls: set rollout.tool_format='codegym' (it is "
                          f"{config.rollout.tool_format!r})")
    if not r.records:
        if r.record_prompts:
            raise ConfigError("data.released.record_prompts=true needs released records (data.released.records)")
        return
    if not d.env_dir:
        raise ConfigError(f"data.released.records={list(r.records)} needs the records' env folder as data.env_dir")
    changed = [f"data.{name}" for name in _GENERATION_FIELDS if getattr(d, name) != getattr(DataConfig(), name)]
    if changed:
        raise ConfigError(f"{changed} shape generated instances, but data.released.records are used instead; "
                          f"released splits are set by data.released.heldout_fraction / val_seen_per_env / "
                          f"val_per_env / train_per_env")
    if not 0 <= r.heldout_fraction < 1 or min(r.val_seen_per_env, r.val_per_env, r.train_per_env) < 0:
        raise ConfigError(f"data.released: heldout_fraction={r.heldout_fraction} must be in [0, 1), and "
                          f"val_seen_per_env={r.val_seen_per_env}, val_per_env={r.val_per_env}, "
                          f"train_per_env={r.train_per_env} >= 0")


def check_config(config: ExperimentConfig) -> ExperimentConfig:
    """Checks that span fields, so no single field's type or override can make them: run on the
    whole config a run will use, after every override."""
    arch, default = config.model.architecture, SCRATCH_DECODER
    for name in ("param_dtype", "compute_dtype", "remat"):
        if getattr(arch, name) != getattr(default, name):
            raise ConfigError(f"model.architecture.{name}={getattr(arch, name)!r}: set model.{name} instead "
                              f"(it applies to HF and from-scratch models alike)")
    ev = config.eval
    bad = [k for k in ev.pass_k if not 1 <= k <= ev.samples_per_task]
    if bad:
        raise ConfigError(f"eval.pass_k={list(ev.pass_k)} holds {bad}, outside 1..eval.samples_per_task="
                          f"{ev.samples_per_task}: pass@k needs k samples of each task")
    ood = config.ood_eval
    unknown = [c for c in ood.categories if c not in OFFLINE_CATEGORIES]
    if unknown or not ood.categories:
        raise ConfigError(f"ood_eval.categories={list(ood.categories)}: {unknown or 'empty'}; the BFCL categories "
                          f"that run offline are {list(OFFLINE_CATEGORIES)}")
    if ood.concurrency < 1 or ood.entries_per_category < 0 or ood.max_new_tokens < 1:
        raise ConfigError(f"ood_eval: concurrency={ood.concurrency} and max_new_tokens={ood.max_new_tokens} must be "
                          f">= 1, entries_per_category={ood.entries_per_category} >= 0")
    check_released_data(config)
    a = config.algorithm
    if config.train.one_step_off_policy and a.old_logprobs == "recompute" and not a.loss.tis_cap:
        raise ConfigError("train.one_step_off_policy=true samples each step's episodes with params one update "
                          "old, and with algorithm.old_logprobs='recompute' and algorithm.loss.tis_cap=0 nothing "
                          "corrects for that: set algorithm.loss.tis_cap (e.g. 2.0), or algorithm.old_logprobs="
                          "'sampler' to take the clipped ratio against the sampling policy")
    return config




def run_paths(config: ExperimentConfig, root: str | pathlib.Path | None = None) -> RunPaths:
    """The run directory (`root`, by default `logging.run_dir` with "{name}" filled in) and its
    task folder (`data.task_dir` when set)."""
    if root is None:
        root = config.logging.run_dir.replace("{name}", config.name)
    return RunPaths(pathlib.Path(root), pathlib.Path(config.data.task_dir) if config.data.task_dir else None)
