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
import datetime, json, os, platform, sys
from pathlib import Path
results, record = Path(sys.argv[1]), Path(sys.argv[2])
runs = [json.loads(p.read_text()) for p in sorted(results.glob("models/**/training_record.json"))]
commits = sorted({run["git"]["commit"] for run in runs if run["git"]["commit"]})
record.write_text(json.dumps({
    "made_by": "./demo.sh, copied by scripts/copy_demo_results.sh",
    "commits": commits,
    "dirty": any(run["git"]["dirty"] for run in runs),
    "date": datetime.date.today().isoformat(),
    "machine": f"{platform.machine()}, {os.cpu_count()} cores",
    "cpu_numerics": sorted({run["cpu_numerics"] for run in runs}),
}, indent=1) + "\n")
PY
echo "copied the demo's tables and figures to $out"
