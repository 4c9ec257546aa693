#!/usr/bin/env bash
# Copy the demo's tables and figures (from a finished `./demo.sh`) into docs/demo/, where the
# README shows them. Usage: scripts/copy_demo_results.sh [WORKDIR]   (default: the repository)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
results="${1:-$repo}/results"
out="$repo/docs/demo"
if [[ ! -f "$results/tables/fewshot.md" ]]; then
    echo "no finished demo under $results (run ./demo.sh first)" >&2
    exit 1
fi
mkdir -p "$out"
rm -f "$out"/*.md "$out"/*.png "$out"/*.json  # files of an older layout must not linger
cp "$results"/tables/{fewshot,fewshot_strict,zero_shot,seed_agreement}.md "$out/"
# the demo has one base model: its cross-dataset folder's files go to docs/demo/ as they are
cp "$results"/tables/crossdataset/*/{accuracy,delta,difference}_*.md "$out/"
cp "$results"/tables/crossdataset/*/{delta,difference}_*.png "$out/"
cp "$results"/figures/{fewshot_accuracy,reward_curves}.png "$out/"
# what produced them: the commit of a training job's record, the date, the machine
python - "$results" "$out/record.json" <<'PY'
import json, sys
from clsrl.training.publish import published_runs
record = {"made_by": "./demo.sh, copied by scripts/copy_demo_results.sh", **published_runs(sys.argv[1])}
open(sys.argv[2], "w").write(json.dumps(record, indent=1) + "\n")
PY
echo "copied the demo's tables and figures to $out"
