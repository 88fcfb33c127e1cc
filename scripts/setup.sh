#!/usr/bin/env bash
# Build .venv from nothing; a no-op when it is already complete (stamp file).
# Order matters: the local CPU torch first (so nothing pulls CUDA torch), then bpy (pins numpy<2),
# then kubric without its declared dependencies (TensorFlow, Beam, numpy 2), then this project, then the
# real-asset sources.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
STAMP="$VENV/.counterfactory-setup"
HASH=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$HASH" ]; then
  echo "setup: $VENV is up to date"; exit 0
fi

# Debian client libraries bpy loads at import, and ffmpeg for video readers; only when missing and root.
APT_PKGS="libgl1 libx11-6 libxext6 libxfixes3 libxi6 libxrender1 libxkbcommon0 libsm6 libice6 libxcb1 libegl1"
missing=""
for p in $APT_PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: apt-get install$missing"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
  else
    echo "setup: warning: missing system libraries for bpy:$missing (install them as root)" >&2
  fi
fi

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP="$VENV/bin/python -m pip install --quiet --disable-pip-version-check"
$PIP --upgrade pip setuptools wheel
$PIP "torch==2.13.0"
$PIP "bpy==4.5.*" "numpy<2"
$PIP --no-deps "kubric-nightly==2023.12.27"
$PIP -e ".[dev]"
# `import kubric` in any interpreter of this venv gets the TensorFlow stand-in (datagen/kubric_compat/tf_gfile.py)
"$VENV/bin/python" -c "from datagen.kubric_compat import tf_gfile; tf_gfile.install_startup_hook()"
# Real assets from the registries (Debian, npm, PyPI): Sweet Home 3D furniture, Poly Haven HDRIs and a
# floor texture; each source is skipped with a warning when it cannot be fetched (docs/assets.md)
VENV="$VENV" bash scripts/fetch_assets.sh
echo "$HASH" > "$STAMP"
echo "setup: done ($VENV)"
