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
if ! "$PYTHON" -c "import triton" 2>/dev/null; then
    # na_accel's own GNA kernel (backend "triton"); torch's Linux CUDA wheels bring Triton along,
    # a CPU build does not. 3.7.1 is what torch 2.13's CUDA build pins; without a GPU the tests
    # run the kernel under Triton's interpreter.
    "$PYTHON" -m pip install -q triton==3.7.1
fi
"$PYTHON" -m pip install -q -e ".[test]"
