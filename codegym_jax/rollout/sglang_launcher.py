"""Start an SGLang-protocol inference server as a child process, wait until it serves, stop it.

Three server programs speak the same HTTP protocol (`/generate` with `input_ids`, `/health`, ...):
- `sglang`: SGLang itself (`python -m sglang.launch_server`, PyTorch, GPU machines);
- `sglang-jax`: sglang-jax (`python -m sgl_jax.launch_server`, its own Python 3.12 venv, see
  `.ci/sglang_jax_venv.sh`). Its CPU path needs the import-time fixes in `sglang_jax_site/`,
  which this launcher puts on the server's PYTHONPATH (installed files are never edited);
- `compat`: our JAX sampler behind SGLang's endpoints (`sglang_compat_server.py`), the one
  implementation of `/update_weights_from_disk` that runs on CPU machines.

The server runs in its own process group so that stopping it also stops the scheduler and
detokenizer processes it spawns.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SGLANG_JAX_SITE_DIR = Path(__file__).resolve().parent / "sglang_jax_site"
DEFAULT_SGLANG_JAX_VENV = REPO_ROOT / ".venv-sglang-jax"

SERVER_MODULES = {
    "sglang": "sglang.launch_server",
    "sglang-jax": "sgl_jax.launch_server",
    "compat": "codegym_jax.rollout.sglang_compat_server",
}

# What sglang-jax 0.0.2 needs to serve a small model on CPU (docs/architecture.md, "Facts about
# dependencies"). Without the bucket
# flags it precompiles a 4096-request batch and runs out of memory on the first prefill; the
# overlap scheduler hands input log-probs to the output processor as a list where it asserts a
# tuple, so `return_logprob` requests need `--disable-overlap-schedule`.
SGLANG_JAX_CPU_ARGS = (
    "--device", "cpu",
    "--dtype", "float32",
    "--max-total-tokens", "8192",
    "--max-running-requests", "8",
    "--precompile-bs-paddings", "1", "2", "4", "8",
    "--precompile-token-paddings", "256", "1024",
    "--chunked-prefill-size", "1024",
    "--max-prefill-tokens", "1024",
    "--disable-overlap-schedule",
)
SGLANG_JAX_CPU_ENV = (("JAX_PLATFORMS", "cpu"), ("FLAX_PYTREE_MODULE", "false"))


@dataclasses.dataclass(frozen=True)
class ServerConfig:
    """How to start one server.

    python: interpreter of the environment the server runs in (for `sglang-jax`, the venv made
      by `.ci/sglang_jax_venv.sh`: `.venv-sglang-jax/bin/python`).
    model_path: HF folder (config.json, safetensors, tokenizer files).
    program: "sglang", "sglang-jax" or "compat" (see module docstring).
    extra_args: appended to the command line (e.g. SGLANG_JAX_CPU_ARGS, `--tp-size 8`).
    env: extra environment variables for the server.
    startup_timeout_s: how long to wait for the server to answer a generate request.
    log_path: file receiving the server's stdout and stderr (None: inherit ours).
    """

    python: str
    model_path: str
    program: str = "sglang"
    host: str = "127.0.0.1"
    port: int = 30000
    extra_args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    startup_timeout_s: float = 600.0
    log_path: str | None = None

    def __post_init__(self):
        if self.program not in SERVER_MODULES:
            raise ValueError(f"program must be one of {sorted(SERVER_MODULES)}, got {self.program!r}")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def sglang_jax_cpu_config(model_path: str, port: int, **overrides) -> ServerConfig:
    """sglang-jax on CPU with the flags and environment it needs (docs/architecture.md, "Facts about
    dependencies")."""
    fields = dict(
        python=str(DEFAULT_SGLANG_JAX_VENV / "bin" / "python"),
        model_path=model_path,
        program="sglang-jax",
        port=port,
        extra_args=SGLANG_JAX_CPU_ARGS,
        env=SGLANG_JAX_CPU_ENV,
    )
    fields.update(overrides)
    return ServerConfig(**fields)


def server_command(cfg: ServerConfig) -> list[str]:
    return [
        cfg.python, "-m", SERVER_MODULES[cfg.program],
        "--model-path", cfg.model_path,
        "--host", cfg.host,
        "--port", str(cfg.port),
        *cfg.extra_args,
    ]


def server_env(cfg: ServerConfig) -> dict[str, str]:
    env = dict(os.environ)
    # Our test processes fake 8 CPU devices through XLA_FLAGS; a server is a separate program.
    env.pop("XLA_FLAGS", None)
    extra_paths = []
    if cfg.program == "sglang-jax":
        extra_paths.append(str(SGLANG_JAX_SITE_DIR))
    if cfg.program == "compat":
        extra_paths.append(str(REPO_ROOT))
    if extra_paths:
        env["PYTHONPATH"] = os.pathsep.join(extra_paths + [p for p in [env.get("PYTHONPATH")] if p])
    env.update(dict(cfg.env))
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _http_json(url: str, body: dict | None = None, timeout: float = 10.0) -> tuple[int, object]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        raw = resp.read()
        return resp.status, (json.loads(raw) if raw else None)


class SGLangServer:
    """A running server process. Use as a context manager, or call start()/stop()."""

    def __init__(self, cfg: ServerConfig):
        self.cfg = cfg
        self.process: subprocess.Popen | None = None
        self._log_file = None

    @property
    def url(self) -> str:
        return self.cfg.url

    def start(self) -> "SGLangServer":
        if self.process is not None:
            raise RuntimeError(f"server at {self.url} already started (pid {self.process.pid})")
        if not Path(self.cfg.python).exists():
            raise FileNotFoundError(f"server interpreter not found: {self.cfg.python}")
        if self.cfg.log_path is not None:
            self._log_file = open(self.cfg.log_path, "ab")
        self.process = subprocess.Popen(
            server_command(self.cfg),
            env=server_env(self.cfg),
            stdout=self._log_file,
            stderr=subprocess.STDOUT if self._log_file else None,
            start_new_session=True,
        )
        try:
            self.wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def wait_until_ready(self) -> None:
        """Waits for /health, then for a one-token /generate (the server may accept HTTP before
        its scheduler has finished warming up)."""
        deadline = time.monotonic() + self.cfg.startup_timeout_s
        probe = {"input_ids": [0], "sampling_params": {"max_new_tokens": 1, "temperature": 0.0}}
        healthy = False
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"server {server_command(self.cfg)} exited with code {self.process.returncode}"
                    f" before becoming ready{self._log_hint()}"
                )
            try:
                if not healthy:
                    healthy = _http_json(self.url + "/health", timeout=5.0)[0] == 200
                if healthy and _http_json(self.url + "/generate", probe, timeout=60.0)[0] == 200:
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.5)
        raise TimeoutError(
            f"server at {self.url} not ready after {self.cfg.startup_timeout_s} s{self._log_hint()}"
        )

    def _log_hint(self) -> str:
        return f"; log: {self.cfg.log_path}" if self.cfg.log_path else ""

    def stop(self, timeout_s: float = 30.0) -> None:
        """SIGTERM to the server's process group, SIGKILL after `timeout_s`."""
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            for sig, wait_s in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 10.0)):
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    proc.wait(timeout=wait_s)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if proc is not None:
            # Children of the group (scheduler, detokenizer) may outlive the leader briefly.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> "SGLangServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """Start a server and keep it running until interrupted: `python -m
    codegym_jax.rollout.sglang_launcher --program sglang-jax --model-path DIR [--cpu] [-- ARGS]`."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--program", choices=sorted(SERVER_MODULES), default="sglang")
    parser.add_argument("--python", default=None, help="server interpreter (default: sglang-jax venv "
                        "for sglang-jax, this interpreter otherwise)")
    parser.add_argument("--model-path", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=30000)
    parser.add_argument("--cpu", action="store_true", help="sglang-jax CPU flags and environment")
    parser.add_argument("extra", nargs="*", help="arguments passed to the server after `--`")
    args = parser.parse_args(argv)
    python = args.python or (
        str(DEFAULT_SGLANG_JAX_VENV / "bin" / "python") if args.program == "sglang-jax" else sys.executable
    )
    cpu = args.cpu and args.program == "sglang-jax"
    cfg = ServerConfig(
        python=python, model_path=args.model_path, program=args.program, host=args.host,
        port=args.port, extra_args=(SGLANG_JAX_CPU_ARGS if cpu else ()) + tuple(args.extra),
        env=SGLANG_JAX_CPU_ENV if cpu else (),
    )
    # SIGTERM unwinds like Ctrl-C, so the server's process group is stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with SGLangServer(cfg) as server:
        print(f"serving {args.model_path} at {server.url}", flush=True)
        try:
            server.process.wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
