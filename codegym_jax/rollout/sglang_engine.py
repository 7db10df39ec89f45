"""Rollout engine that samples from SGLang-protocol HTTP servers (docs/architecture.md, "Rollout
engine").

Token in, token out: every request is `POST /generate` with `input_ids` (one prompt per request;
sglang-jax rejects a batch of id lists), the sampling parameters and `return_logprob`, and the
reply's `meta_info.output_token_logprobs` ([logprob, token_id, text] per sampled token) gives both
the tokens and their log-probs. `output_ids` leaves out the stop token that ended generation; the
log-prob list keeps it, and so do we: the learner must see the token the policy emitted.

Many requests are in flight at once (a thread pool of `max_in_flight`), spread round-robin over
the servers (or sent to one router URL). A request that fails in transport, gets a 5xx/429, or is
aborted by the server (e.g. `pause_generation` in abort mode) is retried on the next server with
exponential backoff; a 4xx is a bug in the request and raises at once.

Weight sync: `update_weights(params, version)` writes an HF safetensors folder per version
(`save_hf_model`), then on every server: `/pause_generation`, `/update_weights_from_disk`
{model_path, weight_version}, and always `/continue_generation`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import json
import os
import random
import shutil
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Sequence

from codegym_jax.rollout.engine import GenerateResult, SamplingParams


class SGLangRequestError(RuntimeError):
    """A request that failed for good (after retries, or rejected by the server)."""


def sglang_sampling_params(sampling: SamplingParams) -> dict[str, Any]:
    """Our SamplingParams as SGLang's `sampling_params` object."""
    params: dict[str, Any] = {
        "max_new_tokens": int(sampling.max_new_tokens),
        # SGLang's greedy is temperature 0 (it then reports plain log_softmax log-probs, the
        # temperature-1 convention of our SamplingParams).
        "temperature": 0.0 if sampling.greedy else float(sampling.temperature),
        "top_p": float(sampling.top_p),
        "top_k": int(sampling.top_k) if sampling.top_k > 0 else -1,
        "skip_special_tokens": False,
    }
    if sampling.stop_token_ids:
        params["stop_token_ids"] = [int(t) for t in sampling.stop_token_ids]
    if sampling.seed is not None:
        params["sampling_seed"] = int(sampling.seed)
    return params


def parse_generate_response(reply: dict[str, Any]) -> tuple[list[int], list[float], str]:
    """(token_ids, logprobs, finish_reason) from one `/generate` reply.

    finish_reason is "stop", "length" or "abort". Raises SGLangRequestError when the reply does not
    hold what a `return_logprob` request must (a server too old or misconfigured)."""
    try:
        meta = reply["meta_info"]
        output_ids = [int(t) for t in reply["output_ids"]]
        finish = meta["finish_reason"]
    except (KeyError, TypeError) as e:
        raise SGLangRequestError(f"malformed /generate reply (missing {e}): {str(reply)[:500]}") from e
    finish_type = finish.get("type") if isinstance(finish, dict) else finish
    if finish_type not in ("stop", "length", "abort"):
        raise SGLangRequestError(f"unknown finish_reason {finish!r} in /generate reply")
    entries = meta.get("output_token_logprobs")
    if entries is None:
        raise SGLangRequestError(
            "/generate reply has no meta_info.output_token_logprobs; was return_logprob ignored?"
        )
    token_ids = [int(e[1]) for e in entries]
    logprobs = [float(e[0]) for e in entries]
    if token_ids[: len(output_ids)] != output_ids or len(token_ids) - len(output_ids) not in (0, 1):
        raise SGLangRequestError(
            f"output_ids {output_ids} disagree with output_token_logprobs ids {token_ids}"
        )
    if len(token_ids) == len(output_ids) + 1 and not (
        finish_type == "stop" and isinstance(finish, dict) and finish.get("matched") == token_ids[-1]
    ):
        raise SGLangRequestError(
            f"log-probs carry an extra token {token_ids[-1]} that is not the matched stop token"
            f" (finish_reason {finish!r})"
        )
    return token_ids, logprobs, finish_type


def post_json(url: str, body: dict | None, timeout_s: float) -> tuple[int, Any]:
    """POST (GET when body is None) and decode the JSON reply. HTTP errors come back as statuses."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            raw = resp.read()
            return resp.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw) if raw else None
        except json.JSONDecodeError:
            return e.code, raw.decode(errors="replace")


class SGLangEngine:
    """HTTP client engine over one or more SGLang servers (or one router URL)."""

    def __init__(
        self,
        urls: Sequence[str],
        *,
        model_cfg: Any = None,
        weights_dir: str | os.PathLike | None = None,
        sync_urls: Sequence[str] | None = None,
        max_in_flight: int = 64,
        request_timeout_s: float = 600.0,
        max_retries: int = 5,
        backoff_s: float = 0.5,
        backoff_max_s: float = 30.0,
        pause_mode: str = "retract",
        keep_versions: int = 2,
        save_weights: Callable[[str, Any, Any], None] | None = None,
    ):
        """
        urls: servers to sample from, used round-robin (a single router URL works the same way).
        model_cfg, weights_dir: needed by update_weights (what to write, and where: one
          `v{version:08d}` folder per version, the newest `keep_versions` kept).
        sync_urls: servers that receive weight updates (default: `urls`; behind a router, list
          the workers here, or the router if it forwards /update_weights_from_disk).
        pause_mode: SGLang's `pause_generation` mode: "retract" (running requests go back to the
          queue and resume on the new weights), "in_place" or "abort" (aborted requests are
          retried by this client).
        save_weights: (path, cfg, params) writer; default `codegym_jax.models.hf_io.save_hf_model`.
        """
        if not urls:
            raise ValueError("SGLangEngine needs at least one server URL")
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be >= 1, got {max_in_flight}")
        if pause_mode not in ("retract", "in_place", "abort"):
            raise ValueError(f"pause_mode must be retract/in_place/abort, got {pause_mode!r}")
        self.urls = tuple(u.rstrip("/") for u in urls)
        self.sync_urls = tuple(u.rstrip("/") for u in (sync_urls or self.urls))
        self.model_cfg = model_cfg
        self.weights_dir = Path(weights_dir) if weights_dir is not None else None
        self.max_in_flight = max_in_flight
        self.request_timeout_s = request_timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self.pause_mode = pause_mode
        self.keep_versions = keep_versions
        self._save_weights = save_weights
        self.policy_version = 0
        self._counter = itertools.count()
        self._counter_lock = threading.Lock()
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=max_in_flight, thread_name_prefix="sglang-client"
        )

    # ------------------------------------------------------------------ sampling
    def generate(
        self, prompt_token_ids_batch: Sequence[Sequence[int]], sampling: SamplingParams
    ) -> list[GenerateResult]:
        """All prompts in flight at once (up to max_in_flight); results in prompt order."""
        futures = [self._pool.submit(self._generate_one, p, sampling) for p in prompt_token_ids_batch]
        return [f.result() for f in futures]

    async def generate_async(self, prompt_token_ids: Sequence[int], sampling: SamplingParams) -> GenerateResult:
        """One prompt, awaitable: lets an asyncio orchestrator overlap sampling with env steps."""
        return await asyncio.wrap_future(self._pool.submit(self._generate_one, prompt_token_ids, sampling))

    def _next_url(self) -> str:
        with self._counter_lock:
            return self.urls[next(self._counter) % len(self.urls)]

    def _generate_one(self, prompt_token_ids: Sequence[int], sampling: SamplingParams) -> GenerateResult:
        prompt = [int(t) for t in prompt_token_ids]
        if not prompt:
            raise ValueError("empty prompt: SGLang needs at least one input token")
        body = {
            "input_ids": prompt,
            "sampling_params": sglang_sampling_params(sampling),
            # Left at its default, logprob_start_len asks for no prompt log-probs (which would cost
            # a full-vocabulary pass per prompt token).
            "return_logprob": True,
        }
        last_error: Exception | None = None
        for attempt in range(self.max_retries + 1):
            if attempt:
                delay = min(self.backoff_max_s, self.backoff_s * 2 ** (attempt - 1))
                time.sleep(delay * (0.5 + random.random() / 2))
            url = self._next_url()
            try:
                status, reply = post_json(url + "/generate", body, self.request_timeout_s)
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as e:
                last_error = e
                continue
            if status == 429 or status >= 500:
                last_error = SGLangRequestError(f"{url}/generate answered {status}: {str(reply)[:300]}")
                continue
            if status != 200:
                raise SGLangRequestError(f"{url}/generate rejected the request ({status}): {str(reply)[:500]}")
            token_ids, logprobs, finish_reason = parse_generate_response(reply)
            if finish_reason == "abort":
                last_error = SGLangRequestError(f"{url} aborted the request: {reply['meta_info']['finish_reason']}")
                continue
            return GenerateResult(token_ids=token_ids, logprobs=logprobs, finish_reason=finish_reason)
        raise SGLangRequestError(
            f"/generate failed after {self.max_retries + 1} attempts over {self.urls}: {last_error!r}"
        ) from last_error

    # ------------------------------------------------------------------ weight sync
    def update_weights(self, params: Any, version: int) -> Path:
        """Writes `params` as HF safetensors for `version` and loads them on every server."""
        if self.weights_dir is None or self.model_cfg is None:
            raise ValueError("update_weights needs SGLangEngine(model_cfg=..., weights_dir=...)")
        save = self._save_weights
        if save is None:
            from codegym_jax.models.hf_io import save_hf_model as save
        path = self.weights_dir / f"v{int(version):08d}"
        tmp = self.weights_dir / f".v{int(version):08d}.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        save(str(tmp), self.model_cfg, params)
        shutil.rmtree(path, ignore_errors=True)
        os.replace(tmp, path)  # servers never see a half-written folder
        self.update_weights_from_disk(path, version)
        self._prune_versions(keep=path)
        return path

    def update_weights_from_disk(self, model_path: str | os.PathLike, version: int) -> None:
        """pause -> update -> continue on every sync server; continue runs even if an update fails."""
        paused: list[str] = []
        errors: list[str] = []
        try:
            for url in self.sync_urls:
                self._control(url, "/pause_generation", {"mode": self.pause_mode})
                paused.append(url)
            for url in self.sync_urls:
                status, reply = post_json(
                    url + "/update_weights_from_disk",
                    {"model_path": str(model_path), "weight_version": str(version)},
                    self.request_timeout_s,
                )
                if status != 200 or not (isinstance(reply, dict) and reply.get("success")):
                    errors.append(f"{url}: {status} {str(reply)[:300]}")
        finally:
            for url in paused:
                try:
                    self._control(url, "/continue_generation", {})
                except SGLangRequestError as e:
                    errors.append(str(e))
        if errors:
            raise SGLangRequestError(f"weight update to {model_path} failed: {'; '.join(errors)}")
        self.policy_version = int(version)

    def _control(self, url: str, route: str, body: dict) -> None:
        try:
            status, reply = post_json(url + route, body, self.request_timeout_s)
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as e:
            raise SGLangRequestError(f"{url}{route} unreachable: {e!r}") from e
        if status != 200:
            raise SGLangRequestError(f"{url}{route} answered {status}: {str(reply)[:300]}")

    def _prune_versions(self, keep: Path) -> None:
        versions = sorted(p for p in self.weights_dir.glob("v*") if p.is_dir())
        for old in versions[: max(0, len(versions) - self.keep_versions)]:
            if old != keep:
                shutil.rmtree(old, ignore_errors=True)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> "SGLangEngine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
