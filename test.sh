#!/usr/bin/env bash
# Run the test suite (offline, CPU); extra arguments go to pytest, e.g. ./test.sh -k answers.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/ensure_venv.sh
python -m pytest "$@"
