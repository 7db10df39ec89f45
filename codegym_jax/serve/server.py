"""Loading a checkpoint folder into a served model, and running the HTTP server (uvicorn).

`open_served_model` builds the JAX sampler on the folder's weights; `running_server` serves an
app on a background thread (what the ood_eval stage and tests use); `serve_forever` is the
command line's foreground server. Binding anything but loopback needs an API key.
"""
from __future__ import annotations

import contextlib
import os
import pathlib
import threading
import time
from typing import Any, Iterator

import uvicorn

from codegym_jax.models.hf_io import load_hf_model
from codegym_jax.rollout import tokenizer as tokenizer_lib
from codegym_jax.rollout.jax_sampler import JaxSampler
from codegym_jax.rollout.sglang_launcher import free_port
from codegym_jax.serve.app import make_app
from codegym_jax.serve.generation import ServedModel, end_token_ids
from sandbox.server import is_loopback

API_KEY_ENV = "CODEGYM_SERVE_API_KEY"


def check_bind(host: str, api_key: str | None) -> None:
    if not is_loopback(host) and not api_key:
        raise ValueError(f"binding {host!r} (not loopback) needs an API key: pass --api-key-env naming a variable "
                         f"that holds one (default ${API_KEY_ENV})")


def served_names(model_dir: pathlib.Path, name: str | None) -> tuple[str, ...]:
    """The id /v1/models lists (`name`, or the folder's name), then the folder's path as given and
    resolved: harnesses on the local-model route send the path as the model id."""
    return tuple(dict.fromkeys([name or model_dir.resolve().name, str(model_dir), str(model_dir.resolve())]))


@contextlib.contextmanager
def open_served_model(model_dir: str | pathlib.Path, *, slots: int = 16, max_model_len: int = 8192,
                      max_new_tokens: int = 4096, seed: int = 0, name: str | None = None,
                      params: Any = None) -> Iterator[ServedModel]:
    """A JaxSampler on `model_dir`'s weights (or `params` of the same architecture) with its
    tokenizer. The context is the smaller of max_model_len and the model's position limit."""
    folder = pathlib.Path(model_dir)
    if not (folder / "config.json").exists():
        raise FileNotFoundError(f"{folder} is not an HF model folder (no config.json)")
    arch, loaded = load_hf_model(folder)
    tokenizer = tokenizer_lib.load(folder)
    context = min(max_model_len, arch.max_position_embeddings)
    with JaxSampler(arch, loaded if params is None else params, max_batch=slots, max_len=context,
                    seed=seed) as sampler:
        yield ServedModel(engine=sampler, tokenizer=tokenizer, names=served_names(folder, name),
                          context_len=context, max_new_tokens=max_new_tokens,
                          stop_ids=end_token_ids(tokenizer, folder), seed=seed)


def _uvicorn_server(model: ServedModel, host: str, port: int, api_key: str | None, log_level: str) -> uvicorn.Server:
    check_bind(host, api_key)
    config = uvicorn.Config(make_app(model, api_key), host=host, port=port, log_level=log_level,
                            access_log=log_level in ("debug", "trace"), timeout_keep_alive=30)
    return uvicorn.Server(config)


@contextlib.contextmanager
def running_server(model: ServedModel, host: str = "127.0.0.1", port: int = 0, api_key: str | None = None,
                   log_level: str = "warning", start_timeout_s: float = 60.0) -> Iterator[str]:
    """Serves `model` on a background thread; yields its base URL (http://host:port)."""
    port = port or free_port()
    server = _uvicorn_server(model, host, port, api_key, log_level)
    thread = threading.Thread(target=server.run, name="openai-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the OpenAI server did not start on {host}:{port}")
        time.sleep(0.05)
    try:
        yield f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def serve_forever(model: ServedModel, host: str, port: int, api_key_env: str = API_KEY_ENV,
                  log_level: str = "info") -> None:
    _uvicorn_server(model, host, port, os.environ.get(api_key_env) or None, log_level).run()
