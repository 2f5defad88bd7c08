#!/usr/bin/env bash
# Set up the environment (fast when it exists) and run the test suite.
#   bash tools/run_tests.sh [pytest args...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash tools/setup_env.sh
VENV="${VENV:-$ROOT/.venv}"
# Tests set their own thread counts where it matters; keep BLAS from oversubscribing the cores.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
exec "$VENV/bin/python" -m pytest tests -q -ra --durations=15 "$@"
