"""Where a workflow run's time went, by rule, from Snakemake's `benchmarks/` files.

    .venv/bin/python bench/demo_breakdown.py [WORKDIR] [--wall SECONDS]

Each rule writes one TSV per job under WORKDIR/benchmarks/<rule>/... (or benchmarks/<rule>.tsv);
this prints a Markdown table of jobs, total, mean and longest seconds per rule. The total is CPU-
job time summed over jobs: with N cores running jobs side by side it exceeds the wall time, which
`--wall` (e.g. from `time snakemake ...`) adds to the table's caption.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from clsrl.report.aggregate import to_markdown


def rule_of(path: Path, root: Path) -> str:
    """The rule a benchmark file belongs to: its first folder under root, or its own name."""
    parts = path.relative_to(root).parts
    return parts[0] if len(parts) > 1 else path.stem


def breakdown(workdir: Path) -> pd.DataFrame:
    """Per rule: jobs, total, mean and max seconds, longest first."""
    root = workdir / "benchmarks"
    rows = [
        {"rule": rule_of(path, root), "s": pd.read_csv(path, sep="\t")["s"].iloc[0]}
        for path in sorted(root.rglob("*.tsv"))
    ]
    if not rows:
        raise SystemExit(f"no benchmark files under {root}; run the workflow there first")
    table = pd.DataFrame(rows).groupby("rule")["s"].agg(["count", "sum", "mean", "max"])
    table.columns = ["jobs", "total s", "mean s", "max s"]
    return table.sort_values("total s", ascending=False).round(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workdir", nargs="?", default=".", type=Path)
    parser.add_argument("--wall", type=float, help="the run's wall time in seconds")
    args = parser.parse_args()
    table = breakdown(args.workdir)
    total = table["total s"].sum()
    print(to_markdown(table.reset_index(), decimals=1))
    caption = f"\n{int(table['jobs'].sum())} jobs, {total:.0f} s of job time summed"
    if args.wall:
        caption += f", {args.wall:.0f} s wall ({total / args.wall:.2f} jobs running on average)"
    print(caption)


if __name__ == "__main__":
    main()
