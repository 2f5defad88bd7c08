#!/usr/bin/env bash
# The main job on the embedded toy UDA benchmark: set up, generate the data if missing,
# train the config end to end, evaluate on the target domain and print the result.
#   bash tools/demo.sh [extra tools/train.py args]
#   CONFIG=configs/... WORK_DIR=work_dirs/... bash tools/demo.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CONFIG="${CONFIG:-configs/toy_uda/deeplabv3_r18-narrow_2k_toy-source.py}"
WORK_DIR="${WORK_DIR:-work_dirs/demo/$(basename "$CONFIG" .py)}"

bash tools/setup_env.sh
PY="${VENV:-$ROOT/.venv}/bin/python"
"$PY" tools/dataset_converters/make_toy_uda.py --out data/toy_uda
echo "[demo] training $CONFIG (work dir $WORK_DIR)"
start=$SECONDS
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK_DIR" "$@"
echo "[demo] trained and evaluated in $((SECONDS - start)) s"
"$PY" tools/misc/summarize_run.py "$WORK_DIR"
