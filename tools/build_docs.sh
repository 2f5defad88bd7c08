#!/usr/bin/env bash
# Build the Sphinx site from docs/ with warnings as errors (CI runs this).
#   bash tools/build_docs.sh [extra sphinx-build args]
# Needs requirements/docs.txt in the venv: MMCONTRAST_EXTRAS=docs bash tools/setup_env.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
if ! "$PY" -c "import sphinx, myst_parser" >/dev/null 2>&1; then
  echo "[build_docs] sphinx/myst-parser missing: MMCONTRAST_EXTRAS=docs bash tools/setup_env.sh" >&2
  exit 2
fi
start=$SECONDS
# -E: read every page again (a cached page would hide its warnings); -W --keep-going: report every
# warning, then fail.
OMP_NUM_THREADS=1 "$PY" -m sphinx -E -W --keep-going -q -b html -d docs/_build/doctrees docs docs/_build/html "$@"
echo "[build_docs] docs/_build/html built in $((SECONDS - start)) s"
