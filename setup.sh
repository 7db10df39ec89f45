#!/usr/bin/env bash
# Creates (or refreshes) the project's virtual environment in .venv.
#   ./setup.sh          runtime dependencies + the project in editable mode
#   ./setup.sh --dev    also the test extras (torch for parity tests, pytest, hypothesis),
#                       .venv-sglang-jax, the separate environment of the sglang-jax test server,
#                       and .venv-bfcl (as --bfcl; tests/test_bfcl.py runs the harness from it)
#   ./setup.sh --bfcl   also .venv-bfcl, the separate environment of the Berkeley Function Calling
#                       Leaderboard harness (bfcl-eval) that codegym_jax/bfcl_harness.py runs
#                       (.ci/bfcl_venv.sh; the flags combine)
# Set PYTHON=/path/to/python3.12 to choose the interpreter yourself.
set -euo pipefail
cd "$(dirname "$0")"

dev=0
bfcl=0
for arg in "$@"; do
  case "$arg" in
    --dev) dev=1; bfcl=1 ;;
    --bfcl) bfcl=1 ;;
    *) echo "setup.sh: unknown argument '$arg' (expected: --dev, --bfcl)" >&2; exit 2 ;;
  esac
done

# System library of the sandbox's seccomp filter (sandbox/isolation.py loads it through pyseccomp).
if ! ldconfig -p 2>/dev/null | grep -q 'libseccomp\.so\.2'; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup.sh: installing libseccomp2"
    apt-get install -y -q libseccomp2 >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q libseccomp2 >/dev/null; }
  else
    echo "setup.sh: the sandbox needs libseccomp.so.2; install it (Debian/Ubuntu: sudo apt-get install libseccomp2," >&2
    echo "          Fedora: sudo dnf install libseccomp) and rerun" >&2
    exit 1
  fi
fi

is_py312() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }

find_python() {
  local c
  for c in "${PYTHON:-}" python3.12 "$HOME"/.pyenv/versions/3.12*/bin/python3 /usr/bin/python3.12 \
           /usr/local/bin/python3.12 python3.13 "$HOME"/.pyenv/versions/3.13*/bin/python3 python3 python; do
    [ -n "$c" ] || continue
    if is_py312 "$c"; then command -v "$c" 2>/dev/null || echo "$c"; return 0; fi
  done
  return 1
}

if [ -x .venv/bin/python ] && ! is_py312 .venv/bin/python; then
  echo "setup.sh: .venv has Python < 3.12; recreating it" >&2
  rm -rf .venv
fi
if [ ! -x .venv/bin/python ]; then
  if ! py=$(find_python); then
    cat >&2 <<'MSG'
setup.sh: no Python >= 3.12 found (tried $PYTHON, python3.12, pyenv 3.12/3.13, python3.13, python3).
codegym-jax needs Python 3.12 or newer (jax >= 0.12 and current flax require it). Install one, e.g.
  Debian/Ubuntu:  apt-get install python3.12 python3.12-venv
  pyenv:          pyenv install 3.12
and rerun, or point PYTHON at it:  PYTHON=/path/to/python3.12 ./setup.sh
MSG
    exit 1
  fi
  echo "setup.sh: creating .venv with $py ($("$py" --version 2>&1))"
  "$py" -m venv .venv
fi

reqs=requirements.txt
[ "$dev" = 1 ] && reqs="requirements.txt requirements-dev.txt"
stamp=".venv/.codegym-installed-$dev"
want=$(cat $reqs pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$dev" = 1 ]; then
  .ci/sglang_jax_venv.sh
fi
if [ "$bfcl" = 1 ]; then
  .ci/bfcl_venv.sh
fi
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "setup.sh: .venv is up to date"
  exit 0
fi
.venv/bin/python -m pip install --quiet --upgrade pip
if [ "$dev" = 1 ]; then
  .venv/bin/python -m pip install --quiet -r requirements-dev.txt
else
  .venv/bin/python -m pip install --quiet -r requirements.txt
fi
.venv/bin/python -m pip install --quiet --no-deps -e .
echo "$want" > "$stamp"
echo "setup.sh: done ($(.venv/bin/python --version))"
