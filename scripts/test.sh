#!/usr/bin/env bash
# Install, then run the test suite (CPU, offline: tiny random-weight models).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec "${PYTHON:-python3}" -m pytest -q tests "$@"
