#!/usr/bin/env bash
# Installs na_accel and its dependencies into $PYTHON or the active virtualenv / conda environment,
# else into a project-local .venv over the base Python (--system-site-packages): scripts/python_env.sh.
# torch goes first (natten's setup imports it); an existing torch (e.g. a CUDA build) is kept.
# Each step says what it does before it starts; the downloads show pip's own progress.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/python_env.sh

say() { echo "==> install $*"; }

# install_once STEP MODULE SPEC WHY [PIP OPTIONS...]: pip-installs SPEC unless MODULE imports.
install_once() {
    local step=$1 module=$2 spec=$3 why=$4
    shift 4
    local version
    if version=$("$PYTHON" -c "import $module; print($module.__version__)" 2>/dev/null); then
        say "[$step/4] $module $version already installed, kept"
    else
        say "[$step/4] $spec: $why"
        "$PYTHON" -m pip install "$@" "$spec"
    fi
}

install_once 1 torch torch==2.13.0 "the largest download (hundreds of MB), progress below"
# Without a visible GPU this builds NATTEN without its CUDA library: pure Python, flex-fna only.
install_once 2 natten natten==0.21.7 "NATTEN's kernels (builds against the installed torch)" --no-build-isolation
# na_accel's own GNA kernel (backend "triton"); torch's Linux CUDA wheels bring Triton along,
# a CPU build does not. 3.7.1 is what torch 2.13's CUDA build pins; without a GPU the tests
# run the kernel under Triton's interpreter.
install_once 3 triton triton==3.7.1 "na_accel's Triton kernel (about 150 MB)"

say "[4/4] na_accel (editable) with diffusers, transformers, torchmetrics, pytest, peft: what is missing is downloaded"
# pip lists every requirement it already has; only what it fetches or builds is shown.
PYTHONUNBUFFERED=1 "$PYTHON" -m pip install -e ".[test]" | sed '/^Requirement already satisfied/d'
say "done"
