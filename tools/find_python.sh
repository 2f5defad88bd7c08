#!/usr/bin/env bash
# Sourced by the tools/*.sh launchers: sets PY to a Python that has mmcontrast's stack.
#   1. $PYTHON, if set;
#   2. the active interpreter (`python` on PATH, e.g. an activated venv or conda env), if it has
#      torch, mmengine and mmcv;
#   3. the project's virtualenv, $VENV or <repo>/.venv (what tools/setup_env.sh creates).
# Otherwise it says how to get one and exits.
_MMC_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_mmc_has_stack() {
  "$1" -c 'import importlib.util as u, sys; sys.exit(any(u.find_spec(m) is None for m in ("torch", "mmengine", "mmcv")))' \
    >/dev/null 2>&1
}
if [[ -n "${PYTHON:-}" ]]; then
  PY="$PYTHON"
elif command -v python >/dev/null 2>&1 && _mmc_has_stack python; then
  PY="$(command -v python)"
elif [[ -x "${VENV:-$_MMC_ROOT/.venv}/bin/python" ]] && _mmc_has_stack "${VENV:-$_MMC_ROOT/.venv}/bin/python"; then
  PY="${VENV:-$_MMC_ROOT/.venv}/bin/python"
else
  echo "No Python with torch, mmengine and mmcv found (PATH python: $(command -v python || echo none);" \
       "virtualenv: ${VENV:-$_MMC_ROOT/.venv})." >&2
  echo "Set it up with 'bash tools/setup_env.sh', then 'source ${VENV:-.venv}/bin/activate'," \
       "or point PYTHON=/path/to/python at one." >&2
  exit 1
fi
