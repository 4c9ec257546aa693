"""Benchmark: how long Snakemake takes to plan the paper's full study (a dry run).

    .venv/bin/python bench/bench_dry_run.py [--repeats 3]

Plans bench/paper_study.yaml (11 datasets x 4 methods x 3 seeds, few-shot and base-to-new) in a
scratch folder; nothing runs. Results: bench/RESULTS.md.
"""

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    timings = []
    with tempfile.TemporaryDirectory() as scratch:
        for _ in range(args.repeats):
            started = time.perf_counter()
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "snakemake",
                    "--snakefile",
                    str(ROOT / "Snakefile"),
                    "--directory",
                    scratch,
                    "--configfile",
                    str(ROOT / "bench/paper_study.yaml"),
                    "--dry-run",
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            timings.append(time.perf_counter() - started)
    jobs = re.search(r"^total\s+(\d+)$", done.stdout, flags=re.M).group(1)
    print(
        f"{jobs} jobs planned: best {min(timings):.1f} s, worst {max(timings):.1f} s "
        f"over {args.repeats} dry runs (including Python start-up)"
    )


if __name__ == "__main__":
    main()
