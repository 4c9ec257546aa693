#!/usr/bin/env bash
# Run the workflow on config.yaml (the offline demo) with every core; extra arguments go to
# snakemake, e.g. ./demo.sh -n (dry run) or ./demo.sh --configfile my.yaml.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/ensure_venv.sh
snakemake --cores all "$@"
echo "Results: results/tables/ and results/figures/; an HTML report: snakemake --report report.html"
