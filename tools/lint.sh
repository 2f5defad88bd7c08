#!/usr/bin/env bash
# Lint without changing any file: ruff (OpenMMLab's flake8 + isort rules, pyproject.toml
# [tool.ruff]) and yapf (the formatter, [tool.yapf]) in check mode.
#
#   bash tools/lint.sh            # per-rule counts, then exit 1 if anything is found
#   bash tools/lint.sh --full     # every ruff finding and yapf's diff
#   bash tools/lint.sh --fix      # apply ruff's safe fixes and yapf in place (the clean-up)
#   LINT_PATHS="mmcontrast tests" bash tools/lint.sh
#
# Installs requirements/lint.txt into the venv when ruff is missing. Not part of CI yet:
# the tree has findings today (CONTRIBUTING.md).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
[[ -x "$PY" ]] || PY=python3
read -r -a PATHS <<< "${LINT_PATHS:-mmcontrast tools tests configs docs setup.py}"
mode="${1:-}"

if ! "$PY" -m ruff --version >/dev/null 2>&1 || ! "$PY" -m yapf --version >/dev/null 2>&1; then
  echo "[lint] installing requirements/lint.txt into $VENV"
  "$PY" -m pip install --disable-pip-version-check -q -r requirements/lint.txt || exit 2
fi

rc=0
if [[ "$mode" == "--fix" ]]; then
  "$PY" -m ruff check --fix "${PATHS[@]}" || rc=1
  "$PY" -m yapf -i -r -p "${PATHS[@]}" || rc=1
  exit $rc
fi

echo "== ruff $("$PY" -m ruff --version | cut -d' ' -f2): findings per rule"
if [[ "$mode" == "--full" ]]; then
  "$PY" -m ruff check --no-fix "${PATHS[@]}" || rc=1
else
  "$PY" -m ruff check --no-fix --statistics "${PATHS[@]}" || rc=1
fi

echo "== yapf $("$PY" -m yapf --version | cut -d' ' -f2): files it would reformat"
diff_file=$(mktemp)
"$PY" -m yapf --diff -r -p "${PATHS[@]}" > "$diff_file" 2> "$diff_file.err"
yrc=$?
# yapf exits 1 when it has a diff, >1 when it could not parse a file.
n=$(grep -c '^+++ ' "$diff_file" || true)
total=$(find "${PATHS[@]}" -name '*.py' -not -path '*/.mim/*' -not -path 'docs/_build/*' 2>/dev/null | wc -l)
echo "$n of $total files"
if [[ -s "$diff_file.err" ]]; then
  echo "yapf could not read:"; sed 's/^/  /' "$diff_file.err"
fi
[[ "$mode" == "--full" ]] && cat "$diff_file"
[[ $yrc -ne 0 || $n -gt 0 ]] && rc=1
rm -f "$diff_file" "$diff_file.err"
exit $rc
