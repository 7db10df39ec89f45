#!/usr/bin/env bash
# Creates (or checks) .venv-bfcl: the separate Python 3.12 environment of the Berkeley Function
# Calling Leaderboard harness (bfcl-eval), which codegym_jax/bfcl_harness.py runs as a subprocess.
# bfcl-eval pins numpy 1.26.4, tree-sitter 0.21 and many vendor SDKs, which cannot share the
# project's .venv. Everything comes from the fully pinned requirements-bfcl.txt, installed with
# --no-deps so that nothing unpinned (torch above all, see that file's header) is pulled in.
# Takes about a minute and a half.
#   .ci/bfcl_venv.sh            create if missing, incomplete or made from another lock file
# Set PYTHON312=/path/to/python3.12 to choose the interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv-bfcl
lock=requirements-bfcl.txt
stamp="$venv/.codegym-lock-sha256"
want=$(sha256sum "$lock" | cut -d' ' -f1)

# `bfcl --help` imports bfcl_eval.constants.eval_config, which makes result/ and score/ folders
# under BFCL_PROJECT_ROOT (by default inside site-packages), so point it at a throwaway folder.
check() {
  local root
  root=$(mktemp -d)
  BFCL_PROJECT_ROOT="$root" "$venv/bin/python" -c 'import bfcl_eval' \
    && BFCL_PROJECT_ROOT="$root" "$venv/bin/bfcl" --help >/dev/null
  local rc=$?
  rm -rf "$root"
  return $rc
}

# The stamp is written only after a full check passed, so a ready venv needs no second `bfcl
# --help` (7 s of imports); an interrupted install or an edited lock file has no matching stamp.
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$venv/bin/bfcl" ] \
   && "$venv/bin/python" -c 'import bfcl_eval' 2>/dev/null; then
  echo "bfcl_venv: $venv is ready"
  exit 0
fi

. .ci/find_python312.sh  # the scripts cd to the repository root first

if ! py=$(find_py312); then
  echo "bfcl_venv: no Python 3.12 found; set PYTHON312=/path/to/python3.12" >&2
  exit 1
fi
echo "bfcl_venv: creating $venv with $py from $lock"
rm -rf "$venv"
"$py" -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps -r "$lock"
if ! check; then
  echo "bfcl_venv: $venv was installed but bfcl_eval does not import or 'bfcl --help' fails" >&2
  exit 1
fi
echo "$want" > "$stamp"
echo "bfcl_venv: $venv ready (bfcl-eval $("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("bfcl-eval"))'))"
