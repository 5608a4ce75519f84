#!/usr/bin/env bash
# The main job: install, then run `na-accel demo` (embedded tiny FLUX pipeline) with any arguments given.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec "${PYTHON:-python3}" -m na_accel.cli demo "$@"
