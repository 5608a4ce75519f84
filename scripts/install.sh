#!/usr/bin/env bash
# Installs na_accel and its dependencies into the current Python environment.
# torch goes first (natten's setup imports it); an existing torch (e.g. a CUDA build) is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c "import torch" 2>/dev/null; then
    "$PYTHON" -m pip install -q torch==2.13.0
fi
if ! "$PYTHON" -c "import natten" 2>/dev/null; then
    # Without a visible GPU this builds NATTEN without its CUDA library: pure Python, flex-fna only.
    "$PYTHON" -m pip install -q --no-build-isolation natten==0.21.7
fi
"$PYTHON" -m pip install -q -e ".[test]"
