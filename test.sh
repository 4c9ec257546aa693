#!/usr/bin/env bash
# Run the tests (offline, CPU). `./test.sh`: the fast ones (about 2 minutes); `./test.sh --all`:
# every test, the workflow, toy-world, SLURM, fault, rehearsal, full-size and family ones too (what CI
# runs). Other arguments go to pytest, e.g. ./test.sh -k answers, ./test.sh --all -m faults.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/ensure_venv.sh
SLOW="workflow or toy or slurm or faults or rehearsal or fullsize or families"
if [ "${1:-}" = "--all" ]; then
  shift
  python -m pytest "$@"
else
  python -m pytest -m "not ($SLOW)" "$@"
fi
