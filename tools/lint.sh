#!/usr/bin/env bash
# Lint without changing any file: ruff with OpenMMLab's flake8 + isort rules and single quotes
# (pyproject.toml [tool.ruff]). CI runs it (.ci/run); the code passes it.
#
#   bash tools/lint.sh            # per-rule counts, exit 1 if anything is found
#   bash tools/lint.sh --full     # every finding
#   bash tools/lint.sh --fix      # apply ruff's safe fixes in place
#   LINT_PATHS="mmcontrast tests" bash tools/lint.sh
#
# yapf (requirements/lint.txt, OpenMMLab's formatter at 120 columns) is optional: `yapf -i FILE`
# formats a file you touch; it is not enforced, as most of the tree predates it.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
[[ -x "$PY" ]] || PY=python3
read -r -a PATHS <<< "${LINT_PATHS:-mmcontrast tools tests configs docs setup.py}"
mode="${1:-}"

if ! "$PY" -m ruff --version >/dev/null 2>&1; then
  echo "[lint] installing requirements/lint.txt into $VENV"
  "$PY" -m pip install --disable-pip-version-check -q -r requirements/lint.txt || exit 2
fi

echo "== ruff $("$PY" -m ruff --version | cut -d' ' -f2)"
case "$mode" in
  --fix) exec "$PY" -m ruff check --fix "${PATHS[@]}" ;;
  --full) exec "$PY" -m ruff check --no-fix "${PATHS[@]}" ;;
  *) exec "$PY" -m ruff check --no-fix --statistics "${PATHS[@]}" ;;
esac
