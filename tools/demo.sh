#!/usr/bin/env bash
# The main job on the embedded toy UDA benchmark: set up, generate the data if missing, train
# self-training + PCL (source -> foggy target) end to end, evaluate the EMA teacher and the
# student on the target domain, and print the result.
#   bash tools/demo.sh [extra tools/train.py args]
#   DEMO_ITERS=0 bash tools/demo.sh          # the config's full 2k-iteration toy schedule
#   CONFIG=configs/... WORK_DIR=work_dirs/... bash tools/demo.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CONFIG="${CONFIG:-configs/uda_seg/dacs-pcl_deeplabv3-r18-narrow_2k_toy-src2tgt.py}"
WORK_DIR="${WORK_DIR:-work_dirs/demo/$(basename "$CONFIG" .py)}"
# A few minutes on 2 CPU cores by default; 0 keeps the config's schedule.
DEMO_ITERS="${DEMO_ITERS:-300}"

bash tools/setup_env.sh
PY="${VENV:-$ROOT/.venv}/bin/python"
"$PY" tools/dataset_converters/make_toy_uda.py --out data/toy_uda
schedule=()
if [[ "$DEMO_ITERS" != 0 ]]; then
  schedule=(--cfg-options "train_cfg.max_iters=$DEMO_ITERS" "train_cfg.val_interval=$DEMO_ITERS")
fi
echo "[demo] training $CONFIG ${schedule[*]:+(${schedule[*]:1})} in $WORK_DIR"
start=$SECONDS
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK_DIR" "${schedule[@]}" "$@"
echo "[demo] trained and evaluated in $((SECONDS - start)) s"
"$PY" tools/misc/summarize_run.py "$WORK_DIR"
