"""Builds the parts a stage needs from the experiment config: tokenizer, model config, mesh,
initial params, episode budgets, sampling, the sandbox and the rollout engine."""
from __future__ import annotations

import contextlib
import dataclasses
import math
import pathlib
from typing import Any, Iterator

import jax
import numpy as np

from codegym_jax.envs.tasks import TaskInstance, read_tasks
from codegym_jax.models import qwen
from codegym_jax.models.config import DecoderConfig, decoder_config_from_hf
from codegym_jax.models.hf_io import load_hf_model
from codegym_jax.rollout import tokenizer as tokenizer_lib
from codegym_jax.rollout.agent_loop import EpisodeConfig
from codegym_jax.rollout.engine import SamplingParams
from codegym_jax.run_paths import RunPaths
from codegym_jax.sharding import make_mesh
from codegym_jax.train.config import ExperimentConfig
from sandbox.pool import SandboxPool

SPLITS = ("train", "val_seen", "val")


def read_split(paths: RunPaths, split: str) -> list[TaskInstance]:
    path = paths.task_file(split)
    if not path.exists():
        raise FileNotFoundError(f"no task file {path}; run the 'data' stage first (train.stages)")
    tasks = read_tasks(str(path))
    if not tasks:
        raise ValueError(f"task file {path} is empty")
    return tasks


def load_tokenizer(config: ExperimentConfig):
    m = config.model
    path = m.tokenizer_path or m.hf_path or str(tokenizer_lib.SHIPPED_DIR)
    if not pathlib.Path(path).is_dir():
        raise FileNotFoundError(f"tokenizer folder {path!r} does not exist (model.tokenizer_path / model.hf_path)")
    return tokenizer_lib.load(path)


def decoder_config(config: ExperimentConfig, tokenizer) -> DecoderConfig:
    """The model architecture: from the HF folder, or `model.architecture` (a vocab_size of 0
    sized to the tokenizer's vocabulary, rounded up to a multiple of 128 for even shards)."""
    m = config.model
    dtypes = dict(param_dtype=m.param_dtype, compute_dtype=m.compute_dtype, remat=m.remat)
    if m.hf_path:
        return decoder_config_from_hf(m.hf_path, **dtypes)
    vocab = m.architecture.vocab_size or int(math.ceil(len(tokenizer) / 128) * 128)
    if vocab < len(tokenizer):
        raise ValueError(f"model.architecture.vocab_size={vocab} is smaller than the tokenizer's "
                         f"{len(tokenizer)} tokens")
    return dataclasses.replace(m.architecture, vocab_size=vocab, **dtypes)


def build_mesh(config: ExperimentConfig) -> jax.sharding.Mesh:
    return make_mesh({"data": config.mesh.data, "fsdp": config.mesh.fsdp, "tensor": config.mesh.tensor})


def data_parallel_size(mesh: jax.sharding.Mesh) -> int:
    return int(mesh.shape["data"] * mesh.shape["fsdp"])


def initial_params(config: ExperimentConfig, arch: DecoderConfig, mesh: jax.sharding.Mesh) -> Any:
    """HF weights loaded straight into their shards, or a seeded random init."""
    if config.model.hf_path:
        m = config.model
        _, params = load_hf_model(m.hf_path, mesh, param_dtype=m.param_dtype,
                                  compute_dtype=m.compute_dtype, remat=m.remat)
        return params
    return qwen.init_params_sharded(arch, jax.random.PRNGKey(config.train.seed), mesh)


def episode_config(config: ExperimentConfig) -> EpisodeConfig:
    r = config.rollout
    return EpisodeConfig(
        chat_format=r.tool_format, tool_docs=r.tool_docs, max_tool_calls=r.max_turns,
        max_new_tokens_per_turn=r.max_new_tokens_per_turn,
        max_total_tokens=r.max_prompt_tokens + r.max_response_tokens,
        max_observation_chars=r.max_observation_chars,
    )


def rollout_sampling(config: ExperimentConfig, seed: int | None = None) -> SamplingParams:
    r = config.rollout
    return SamplingParams(temperature=r.temperature, top_p=r.top_p, top_k=r.top_k, seed=seed)


def eval_sampling(config: ExperimentConfig, seed: int | None = None) -> SamplingParams:
    return SamplingParams(temperature=config.eval.temperature, seed=seed)


@contextlib.contextmanager
def open_sandbox(config: ExperimentConfig) -> Iterator[Any]:
    """A local process pool, or a client of the configured env servers (same methods). Each
    event loop wraps it in its own `sandbox.async_sandbox.AsyncSandbox`."""
    s = config.sandbox
    if s.server_urls:
        from sandbox.client import EnvClient

        client = EnvClient(list(s.server_urls))
        try:
            yield client
        finally:
            client.close()
        return
    with SandboxPool(limits=s.limits) as pool:
        yield pool


def sandbox_parallelism(config: ExperimentConfig, sandbox) -> int:
    """How many calls `sandbox` (from `open_sandbox`) runs at once: `sandbox.num_workers` for the
    local pool, or the env servers' CPUs together."""
    urls = config.sandbox.server_urls
    if urls:
        return max(1, sum(int(sandbox.health(i)["parallelism"]) for i in range(len(urls))))
    return config.sandbox.num_workers


@contextlib.contextmanager
def open_engine(config: ExperimentConfig, arch: DecoderConfig, params: Any, paths: RunPaths) -> Iterator[Any]:
    """The rollout engine holding `params`: the in-process JaxSampler, or SGLang servers (given
    URLs, or one launched here from the run's exported weights)."""
    r = config.rollout
    if r.engine == "jax":
        from codegym_jax.rollout.jax_sampler import JaxSampler

        with JaxSampler(arch, params, max_batch=r.sampler_slots,
                        max_len=r.max_prompt_tokens + r.max_response_tokens,
                        seed=config.train.seed) as sampler:
            yield sampler
        return
    from codegym_jax.models.hf_io import save_hf_model
    from codegym_jax.rollout import sglang_launcher
    from codegym_jax.rollout.sglang_engine import SGLangEngine

    weights_dir = paths.sglang_weights_dir
    with contextlib.ExitStack() as stack:
        urls = list(r.sglang_urls) or ([r.sglang_router_url] if r.sglang_router_url else [])
        if r.sglang_launch:
            first = weights_dir / "initial"
            save_hf_model(first, arch, params)
            tokenizer_lib.save(load_tokenizer(config), first)
            server_cfg = sglang_launcher.ServerConfig(
                python=r.sglang_python or "python", model_path=str(first),
                port=sglang_launcher.free_port(), log_path=str(paths.sglang_log))
            server = stack.enter_context(sglang_launcher.SGLangServer(server_cfg).start())
            urls = [server.url]
        if not urls:
            raise ValueError("rollout.engine is 'sglang' but no rollout.sglang_urls / sglang_router_url "
                             "is set and rollout.sglang_launch is false")
        yield SGLangEngine(urls, model_cfg=arch, weights_dir=weights_dir, max_in_flight=r.sampler_slots)


def seeded_choice(n_items: int, count: int, seed: int, step: int) -> np.ndarray:
    """`count` distinct indices out of `n_items` (all of them, shuffled, when count >= n_items),
    a pure function of (seed, step) so a resumed run draws the same tasks."""
    rng = np.random.default_rng([seed, step])
    return rng.permutation(n_items)[:count]
