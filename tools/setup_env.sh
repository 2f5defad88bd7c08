#!/usr/bin/env bash
# Set up (or refresh) the mmcontrast environment in a virtualenv.
#
#   bash tools/setup_env.sh                 # CPU stack in ./.venv
#   VENV=/path/venv bash tools/setup_env.sh # another venv (created if missing)
#   MMCV_WHEEL_DIR=/dir bash tools/setup_env.sh   # install mmcv from a wheel in /dir
#   MMCV_CUDA=1 TORCH_SPEC="torch==2.1.2" TORCH_INDEX=https://download.pytorch.org/whl/cu121 \
#       bash tools/setup_env.sh             # GPU: CUDA torch, then mmcv built with CUDA ops
#   MMCONTRAST_EXTRAS=docs,tensorboard,packaging,lint bash tools/setup_env.sh
#                                           # also requirements/<extra>.txt (CI: docs,tensorboard,packaging)
#
# mmcv 2.1.0 is installed from a wheel directory when one is given (MMCV_WHEEL_DIR, default
# ../shared/wheels when it exists) and built from source otherwise. Running it twice is fast:
# every step is skipped when what it installs is already there.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3.11}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"
TORCH_INDEX="${TORCH_INDEX:-}"
MMCV_VERSION="2.1.0"
MMCV_CUDA="${MMCV_CUDA:-0}"
if [[ -z "${MMCV_WHEEL_DIR+x}" && -d "$ROOT/../shared/wheels" ]]; then
  MMCV_WHEEL_DIR="$ROOT/../shared/wheels"
fi
MMCV_WHEEL_DIR="${MMCV_WHEEL_DIR:-}"

say() { printf '[setup_env %(%H:%M:%S)T] %s\n' -1 "$*"; }
t0=$SECONDS

command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if [[ ! -x "$VENV/bin/python" ]]; then
  say "creating virtualenv $VENV with $($PYTHON --version)"
  "$PYTHON" -m venv "$VENV"
else
  say "using virtualenv $VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check -q)

"$PY" - <<'EOF' || { say "Python 3.11 is required (mmcv wheel and stack are cp311)"; exit 1; }
import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)
EOF

if ! "$PY" -c "import setuptools, wheel; assert setuptools.__version__ == '80.9.0'" >/dev/null 2>&1; then
  say "build tools: setuptools<81 (mmcv's setup.py imports pkg_resources), wheel"
  "${PIP[@]}" install "setuptools==80.9.0" wheel
fi

if "$PY" -c "import torch" >/dev/null 2>&1; then
  say "torch $("$PY" -c 'import torch; print(torch.__version__)') already installed"
else
  say "installing $TORCH_SPEC ${TORCH_INDEX:+from $TORCH_INDEX}"
  "${PIP[@]}" install "$TORCH_SPEC" ${TORCH_INDEX:+--index-url "$TORCH_INDEX"}
fi

mmcv_ok() {
  "$PY" - "$MMCV_CUDA" <<'EOF' >/dev/null 2>&1
import sys
import mmcv
from mmcv.ops import get_compiling_cuda_version  # needs mmcv._ext
assert mmcv.__version__ == '2.1.0'
if sys.argv[1] == '1':
    assert get_compiling_cuda_version() != 'not available'
EOF
}

if mmcv_ok; then
  say "mmcv $MMCV_VERSION with compiled ops already installed"
else
  wheel=""
  if [[ -n "$MMCV_WHEEL_DIR" && "$MMCV_CUDA" != 1 ]]; then
    wheel=$(ls "$MMCV_WHEEL_DIR"/mmcv-"$MMCV_VERSION"-cp311-*.whl 2>/dev/null | head -n1 || true)
  fi
  if [[ -n "$wheel" ]]; then
    say "installing mmcv from wheel $wheel"
    "${PIP[@]}" install --no-deps --force-reinstall "$wheel"
  else
    say "no mmcv wheel${MMCV_WHEEL_DIR:+ in $MMCV_WHEEL_DIR}: building mmcv $MMCV_VERSION from source"
    say "this compiles the ops and takes about 20 minutes on 2 cores (longer with CUDA)"
    "${PIP[@]}" install ninja numpy
    FORCE_CUDA=$([[ "$MMCV_CUDA" == 1 ]] && echo 1 || echo 0)
    MMCV_WITH_OPS=1 FORCE_CUDA=$FORCE_CUDA MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
      "$PY" -m pip install --disable-pip-version-check --no-build-isolation --no-binary mmcv \
      "mmcv==$MMCV_VERSION"
  fi
  "${PIP[@]}" install addict mmengine==0.10.7 packaging Pillow pyyaml yapf opencv-python
  mmcv_ok || { say "mmcv installed but its compiled ops do not load"; exit 1; }
fi

stamp="$VENV/.mmcontrast-requirements.sha256"
want=$(cat requirements.txt requirements/*.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && "$PY" -c "import mmcontrast" >/dev/null 2>&1; then
  say "requirements and mmcontrast unchanged since the last run"
else
  say "installing requirements.txt and mmcontrast (editable)"
  "${PIP[@]}" install -r requirements.txt
  "${PIP[@]}" install --no-deps --no-build-isolation -e .
  echo "$want" > "$stamp"
fi

# Optional extras, each requirements/<name>.txt: docs (Sphinx), tensorboard, packaging (build + openmim,
# installed with --no-deps: see the file), lint (ruff, yapf). Skipped when the file is unchanged.
IFS=',' read -r -a extras <<< "${MMCONTRAST_EXTRAS:-}"
for extra in "${extras[@]}"; do
  extra="${extra// /}"
  [[ -z "$extra" ]] && continue
  req="requirements/$extra.txt"
  [[ -f "$req" ]] || { say "unknown extra '$extra': no $req"; exit 1; }
  estamp="$VENV/.mmcontrast-extra-$extra.sha256"
  ewant=$(sha256sum "$req" | cut -d' ' -f1)
  if [[ -f "$estamp" && "$(cat "$estamp")" == "$ewant" ]]; then
    say "extra $extra unchanged since the last run"
    continue
  fi
  say "installing extra $extra ($req)"
  if [[ "$extra" == packaging ]]; then
    "${PIP[@]}" install --no-deps -r "$req"
  else
    "${PIP[@]}" install -r "$req"
  fi
  echo "$ewant" > "$estamp"
done

say "checking the stack"
"$PY" tools/misc/check_env.py
say "done in $((SECONDS - t0)) s; activate with: source ${VENV#$ROOT/}/bin/activate"
