#!/usr/bin/env bash
# Install Label Studio into its own virtualenv, apart from the platform's .venv.
#
# Label Studio (pip `label-studio`) is large and pins its own dependencies (Django, numpy, ...), so it
# lives in a separate venv. The platform talks to it only through the official client, label-studio-sdk
# (the `labelstudio` extra of the platform's own venv; see data_platform/labeling/label_studio.py,
# LabelStudioServer). Idempotent: re-running is a no-op once the pinned version is installed.
#
# Usage: bash .ci/setup_labelstudio.sh [VENV_DIR]   (default: <repo>/.venv-labelstudio)
set -euo pipefail

LS_VERSION="${LABEL_STUDIO_VERSION:-1.23.2}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV_DIR="${1:-${LABEL_STUDIO_VENV:-$REPO_ROOT/.venv-labelstudio}}"
PYTHON="${PYTHON:-python3}"

installed_version() {
  "$VENV_DIR/bin/python" - <<'PY' 2>/dev/null || true
from importlib.metadata import version
print(version("label-studio"))
PY
}

if [ -x "$VENV_DIR/bin/label-studio" ] && [ "$(installed_version)" = "$LS_VERSION" ]; then
  echo "label-studio $LS_VERSION already installed in $VENV_DIR"
  exit 0
fi

if [ ! -x "$VENV_DIR/bin/python" ]; then
  "$PYTHON" -m venv "$VENV_DIR"
fi
"$VENV_DIR/bin/python" -m pip install --quiet --upgrade pip
"$VENV_DIR/bin/python" -m pip install --quiet "label-studio==$LS_VERSION"
echo "label-studio $(installed_version) installed in $VENV_DIR"
