#!/usr/bin/env bash
# The main job: install, then run `na-accel demo` (embedded tiny FLUX pipeline) with any arguments given.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/python_env.sh
bash scripts/install.sh
echo "==> na-accel demo${*:+ $*}: builds a tiny FLUX pipeline offline, runs it dense, then with GNA"
exec "$PYTHON" -m na_accel.cli demo "$@"
