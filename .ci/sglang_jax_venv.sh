#!/usr/bin/env bash
# Creates (or checks) .venv-sglang-jax: the separate Python 3.12 environment that runs sglang-jax
# servers for tests/test_sglang_engine.py. sglang-jax pins jax 0.8.3 and transformers 4.55, which
# cannot share the project's .venv (jax 0.12, transformers 5). flax is pinned to 0.12.0 (with
# FLAX_PYTREE_MODULE=false, set by sglang_launcher.py), the combination that serves on CPU
# (docs/architecture.md, "Facts about dependencies"). Takes about a minute.
#   .ci/sglang_jax_venv.sh            create if missing or incomplete
# Set PYTHON312=/path/to/python3.12 to choose the interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv-sglang-jax
pins=(sglang-jax==0.0.2 flax==0.12.0)

if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import sgl_jax.launch_server, flax; assert flax.__version__ == "0.12.0"' 2>/dev/null; then
  echo "sglang_jax_venv: $venv is ready"
  exit 0
fi

. .ci/find_python312.sh  # the scripts cd to the repository root first

if ! py=$(find_py312); then
  echo "sglang_jax_venv: no Python 3.12 found (sglang-jax needs it); set PYTHON312=/path/to/python3.12" >&2
  exit 1
fi
echo "sglang_jax_venv: creating $venv with $py"
rm -rf "$venv"
"$py" -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q "${pins[@]}"
"$venv/bin/python" -c 'import sgl_jax.launch_server' 
echo "sglang_jax_venv: $venv ready"
