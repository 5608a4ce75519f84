#!/usr/bin/env bash
# Install, then run the test suite (CPU, offline: tiny random-weight models).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/python_env.sh
bash scripts/install.sh
# Two workers (pytest-xdist) for the two cores of a CI machine; NA_ACCEL_TEST_WORKERS=0 runs serially.
exec "$PYTHON" -m pytest -q -n "${NA_ACCEL_TEST_WORKERS:-2}" tests "$@"
