"""Our rollout engine served behind SGLang's documented HTTP endpoints, on loopback.

No SGLang that implements `/update_weights_from_disk` runs on CPU machines (docs/architecture.md,
"Facts about dependencies"), so the
weight-sync cycle is exercised against this server instead: the same requests and replies as
SGLang's native API, backed by any engine with the rollout-engine protocol (by default our
JaxSampler loaded from an HF folder).

Endpoints (request and reply shapes follow SGLang's):
  GET  /health                  200 once serving
  GET  /get_model_info          {model_path, tokenizer_path, is_generation, weight_version}
  GET  /get_weight_version      {weight_version}
  POST /generate                {input_ids: [int,...], sampling_params, return_logprob}
       -> {output_ids, meta_info: {id, finish_reason: {type: stop|length, matched|length},
           prompt_tokens, completion_tokens, output_token_logprobs: [[logprob, id, null], ...],
           weight_version}}; like SGLang, output_ids leaves out the matched stop token while
           output_token_logprobs keeps it. A list of id lists is a batch and gets a list back.
  POST /pause_generation        {mode}: requests already batched finish; new ones wait
  POST /continue_generation
  POST /update_weights_from_disk {model_path, weight_version} -> {success, message, num_paused_requests}

Concurrent /generate requests with equal sampling parameters are batched into one engine call.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import http.server
import json
import os
import queue
import sys
import threading
import uuid
from concurrent.futures import Future
from typing import Any, Callable

from codegym_jax.rollout.engine import GenerateResult, SamplingParams


class BadRequest(ValueError):
    pass


def sampling_from_sglang(params: dict[str, Any] | None) -> SamplingParams:
    """SGLang's `sampling_params` object as our SamplingParams (unknown keys are rejected)."""
    params = dict(params or {})
    supported = {"max_new_tokens", "temperature", "top_p", "top_k", "stop_token_ids",
                 "sampling_seed", "skip_special_tokens", "no_stop_trim", "ignore_eos"}
    unknown = set(params) - supported
    if unknown:
        raise BadRequest(f"unsupported sampling_params {sorted(unknown)}")
    top_k = int(params.get("top_k", -1))
    try:
        # temperature 0 makes SamplingParams greedy, as in SGLang.
        return SamplingParams(
            max_new_tokens=int(params.get("max_new_tokens", 128)),
            temperature=float(params.get("temperature", 1.0)),
            top_p=float(params.get("top_p", 1.0)),
            top_k=top_k if top_k > 0 else 0,
            stop_token_ids=tuple(int(t) for t in params.get("stop_token_ids") or ()),
            seed=params.get("sampling_seed"),
        )
    except (TypeError, ValueError) as e:
        raise BadRequest(f"invalid sampling_params {params}: {e}") from e


def sglang_reply(result: GenerateResult, stop_token_ids: tuple[int, ...], prompt_len: int,
                 weight_version: str) -> dict[str, Any]:
    tokens = list(result.token_ids)
    if result.finish_reason == "stop" and tokens and tokens[-1] in stop_token_ids:
        finish = {"type": "stop", "matched": tokens[-1]}
        output_ids = tokens[:-1]
    elif result.finish_reason == "stop":
        finish = {"type": "stop", "matched": None}
        output_ids = tokens
    else:
        finish = {"type": result.finish_reason, "length": len(tokens)}
        output_ids = tokens
    return {
        "output_ids": output_ids,
        "meta_info": {
            "id": uuid.uuid4().hex,
            "finish_reason": finish,
            "prompt_tokens": prompt_len,
            "completion_tokens": len(tokens),
            "output_token_logprobs": [[float(lp), int(t), None] for lp, t in zip(result.logprobs, tokens)],
            "weight_version": weight_version,
        },
    }


@dataclasses.dataclass
class _Pending:
    prompt: list[int]
    sampling: SamplingParams
    future: Future


class CompatService:
    """The serving state: a batching worker thread in front of the engine, pause and weights."""

    def __init__(self, engine: Any, load_params: Callable[[str], Any], model_path: str,
                 tokenizer_path: str | None = None, max_batch: int = 16):
        self.engine = engine
        self.load_params = load_params
        self.model_path = model_path
        self.tokenizer_path = tokenizer_path or model_path
        self.weight_version = "0"
        self.max_batch = max_batch
        self.requests_served = 0
        self._queue: queue.Queue[_Pending | None] = queue.Queue()
        self._running = threading.Event()
        self._running.set()
        self._engine_lock = threading.Lock()  # one engine call or weight swap at a time
        self._worker = threading.Thread(target=self._serve_batches, name="compat-batcher", daemon=True)
        self._worker.start()

    def submit(self, prompt: list[int], sampling: SamplingParams) -> Future:
        future: Future = Future()
        self._queue.put(_Pending(prompt, sampling, future))
        return future

    def _serve_batches(self) -> None:
        waiting: collections.deque[_Pending] = collections.deque()
        while True:
            if not waiting:
                waiting.append(self._queue.get())
            while True:
                try:
                    waiting.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if any(p is None for p in waiting):
                for p in waiting:
                    if p is not None:
                        p.future.set_exception(RuntimeError("server shutting down"))
                return
            self._running.wait()  # paused: everything not yet batched waits here
            with self._engine_lock:
                if not self._running.is_set():  # paused between the wait and the lock
                    continue
                sampling = waiting[0].sampling
                batch = [p for p in waiting if p.sampling == sampling][: self.max_batch]
                for p in batch:
                    waiting.remove(p)
                try:
                    results = self.engine.generate([p.prompt for p in batch], sampling)
                except Exception as e:  # each HTTP thread reports it as a 500
                    for p in batch:
                        p.future.set_exception(e)
                    continue
                self.requests_served += len(batch)
            for p, r in zip(batch, results):
                p.future.set_result(r)

    def pause(self) -> None:
        """Returns once the batch in flight (if any) has finished; no new batch starts."""
        self._running.clear()
        with self._engine_lock:
            pass

    def resume(self) -> None:
        self._running.set()

    def update_weights_from_disk(self, model_path: str, weight_version: str | None) -> None:
        params = self.load_params(model_path)
        version = weight_version if weight_version is not None else str(int(self.weight_version) + 1)
        with self._engine_lock:
            self.engine.update_weights(params, int(version) if version.isdigit() else version)
            self.model_path = model_path
            self.weight_version = version

    def close(self) -> None:
        self._queue.put(None)
        close_engine = getattr(self.engine, "close", None)
        if close_engine is not None:
            close_engine()


def _handler_for(service: CompatService):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # quiet: one line per request is noise in tests
            pass

        def _reply(self, status: int, body: Any = None) -> None:
            raw = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _body(self) -> dict[str, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else {}
            except json.JSONDecodeError as e:
                raise BadRequest(f"request body is not JSON: {e}") from e
            if not isinstance(body, dict):
                raise BadRequest(f"request body must be a JSON object, got {type(body).__name__}")
            return body

        def do_GET(self):
            if self.path == "/health":
                self._reply(200)
            elif self.path == "/get_model_info":
                self._reply(200, {"model_path": service.model_path, "tokenizer_path": service.tokenizer_path,
                                  "is_generation": True, "weight_version": service.weight_version})
            elif self.path == "/get_weight_version":
                self._reply(200, {"weight_version": service.weight_version})
            else:
                self._reply(404, {"detail": "Not Found"})

        def do_POST(self):
            try:
                body = self._body()
                if self.path == "/generate":
                    self._reply(200, self._generate(body))
                elif self.path == "/pause_generation":
                    service.pause()
                    self._reply(200, {"message": "Generation paused successfully.", "status": "ok"})
                elif self.path == "/continue_generation":
                    service.resume()
                    self._reply(200, {"message": "Generation continued successfully.", "status": "ok"})
                elif self.path == "/update_weights_from_disk":
                    self._update_weights(body)
                else:
                    self._reply(404, {"detail": "Not Found"})
            except BadRequest as e:
                self._reply(400, {"object": "error", "message": str(e), "code": 400})
            except Exception as e:  # a server error, reported like SGLang's
                self._reply(500, {"object": "error", "message": f"{type(e).__name__}: {e}", "code": 500})

        def _generate(self, body: dict[str, Any]) -> Any:
            ids = body.get("input_ids")
            if body.get("text") is not None or ids is None:
                raise BadRequest("this server takes input_ids only (no text)")
            sampling = sampling_from_sglang(body.get("sampling_params"))
            batch = ids if ids and isinstance(ids[0], list) else None
            prompts = batch if batch is not None else [ids]
            for p in prompts:
                if not p or not all(isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in p):
                    raise BadRequest(f"input_ids must be non-empty lists of token ids, got {str(p)[:200]}")
            # Each prompt joins the batcher on its own; the worker groups equal sampling params.
            futures = [service.submit(list(p), sampling) for p in prompts]
            replies = [
                sglang_reply(f.result(), sampling.stop_token_ids, len(p), service.weight_version)
                for f, p in zip(futures, prompts)
            ]
            return replies if batch is not None else replies[0]

        def _update_weights(self, body: dict[str, Any]) -> None:
            model_path = body.get("model_path")
            if not isinstance(model_path, str) or not model_path:
                raise BadRequest(f"model_path must be a non-empty string, got {model_path!r}")
            version = body.get("weight_version")
            try:
                service.update_weights_from_disk(model_path, None if version is None else str(version))
            except Exception as e:  # SGLang reports a failed load as success=false, 400
                self._reply(400, {"success": False, "message": f"{type(e).__name__}: {e}",
                                  "num_paused_requests": 0})
                return
            self._reply(200, {"success": True, "message": f"Loaded weights from {model_path}.",
                              "num_paused_requests": 0})

    return Handler


class CompatServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, service: CompatService, host: str = "127.0.0.1", port: int = 0):
        self.service = service
        super().__init__((host, port), _handler_for(service))

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start_in_thread(self) -> "CompatServer":
        threading.Thread(target=self.serve_forever, name="compat-http", daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self.service.close()


def build_jax_service(model_path: str, max_batch: int, max_len: int) -> CompatService:
    """A CompatService backed by our JaxSampler on the HF model in `model_path`."""
    from codegym_jax.models.hf_io import load_hf_model
    from codegym_jax.rollout.jax_sampler import JaxSampler

    cfg, params = load_hf_model(model_path)

    def load_params(path: str):
        new_cfg, new_params = load_hf_model(path)
        if new_cfg != cfg:
            raise ValueError(f"model at {path} has a different architecture: {new_cfg} vs {cfg}")
        return new_params

    engine = JaxSampler(cfg, params, max_batch=max_batch, max_len=max_len)
    return CompatService(engine, load_params, model_path, max_batch=max_batch)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="JaxSampler behind SGLang's HTTP endpoints")
    parser.add_argument("--model-path", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=30000)
    parser.add_argument("--max-batch", type=int, default=16)
    parser.add_argument("--max-len", type=int, default=2048)
    args = parser.parse_args(argv)
    if not os.path.isdir(args.model_path):
        parser.error(f"--model-path {args.model_path} is not a directory")
    service = build_jax_service(args.model_path, args.max_batch, args.max_len)
    server = CompatServer(service, args.host, args.port)
    print(f"serving {args.model_path} at {server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        service.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
