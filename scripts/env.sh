# Sourced by scripts/demo.sh and scripts/test.sh: makes a Python 3.11 virtual environment
# with Vigil and its dependencies, reused while pyproject.toml is unchanged.
#
# The environment lives outside the checkout (keyed by a hash of pyproject.toml) so fresh
# clones reuse it; ./.venv links to it. VIGIL_VENV_DIR moves it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
  echo "error: Vigil needs Python 3.11 ('$PYTHON' is $("$PYTHON" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
  exit 2
fi
HASH="$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)"
VENV="${VIGIL_VENV_DIR:-$HOME/.cache/vigil/venvs}/py311-$HASH"
if [ ! -f "$VENV/.complete" ]; then
  echo "== building the Python environment in $VENV (pyproject.toml changed or first run; a few minutes)"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip setuptools
  # torch and torchvision come first so the pinned pair is taken (from local wheels where present).
  "$VENV/bin/pip" install -q "torch==2.14.1" "torchvision==0.29.1"
  "$VENV/bin/pip" install -q -e "$ROOT[dev]"
  touch "$VENV/.complete"
else
  # Same requirements: only (re)point the editable install at this checkout.
  "$VENV/bin/pip" install -q --no-deps --no-build-isolation -e "$ROOT" >/dev/null
fi
if [ ! -e "$ROOT/.venv" ] || [ -L "$ROOT/.venv" ]; then
  ln -sfn "$VENV" "$ROOT/.venv"
fi
export PATH="$VENV/bin:$PATH"
export YOLO_OFFLINE=1
