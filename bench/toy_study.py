"""The toy study: the toy world's methods over enough seeds to say what holds, with 95% intervals.

    python bench/toy_study.py --workdir /tmp/toy-study     # runs the workflow, records, renders
    python bench/toy_study.py --workdir /tmp/toy-study --summarize-only   # a finished run's
    python bench/toy_study.py --render-only                 # README's table from the record

Runs the real workflow on the demo's config.yaml with `bench/toy_study.yaml`'s keys changed
(demo-colours, the shipped toy model, zero-shot, SFT, CLS-RL and No-Thinking, the demo's training
settings, seeds 1-5) with pinned CPU numerics (clsrl.cpu_numerics: the same bits on every
x86-64 CPU, so the table does not depend on the machine), then reads
`results/tables/accuracy_long.csv` and every GRPO run's `log_history.csv` and records, per method
and seed, the test accuracy and, for the GRPO methods, two steadier measures of learning than the
end accuracy (clsrl.report.learning_curves): the gain of the training accuracy reward (mean of the
last epoch minus the first) and the optimizer steps until its running mean reaches the
threshold.

The record, `bench/results/toy_study.json`, holds the commit of the code that ran, the date and
the machine; docs/toy-world.md "The toy world" shows the table rendered from it (mean and 95%
interval over seeds, Student's t) between its `toy-study` markers, rewritten by this script;
tests/test_docs.py checks that the README's table is the record's, and the pinned learning
tests (tests/toy/test_toy_world.py) that their seeds reproduce the recorded accuracies.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

from clsrl.cpu_numerics import PINNED_ENV
from clsrl.report.intervals import finite, t95_half_width
from clsrl.report.learning_curves import (
    ACCURACY_REWARD_COLUMNS,
    THRESHOLD,
    WINDOW,
    reward_gain,
    steps_to_reach,
)
from clsrl.training.publish import published_runs
from clsrl.training.train import LOG_HISTORY_FILE
from clsrl.workflow.study import MODEL

ROOT = Path(__file__).resolve().parents[1]
CHANGES = ROOT / "bench" / "toy_study.yaml"
RECORD = ROOT / "bench" / "results" / "toy_study.json"
README = ROOT / "README.md"
BEGIN, END = (
    "<!-- toy-study: rendered from the record by bench/toy_study.py -->",
    "<!-- /toy-study -->",
)
DATASET = "demo-colours"


def interval(values: list[float]) -> str:
    """`mean ± half-width` of the 95% interval (just the mean for one or two values)."""
    values = finite(values)
    if not values:
        return "n/a"
    half = t95_half_width(values)
    mean = statistics.mean(values)
    return f"{mean:.2f}" if half is None else f"{mean:.2f} ± {half:.2f}"


def measured_rows(workdir: Path) -> list[dict]:
    """Per (method, style): the seeds and each seed's test accuracy (lenient, %), and for GRPO
    the accuracy reward's gain and the steps to the threshold (None: never reached)."""
    long = pd.read_csv(workdir / "results/tables/accuracy_long.csv")
    own = long[(long["target"] == DATASET)]
    rows = []
    for (model, method, style), runs in own.groupby(["model", "method", "style"], sort=False):
        runs = runs.sort_values("seed")
        seeds = [None if math.isnan(seed) else int(seed) for seed in runs["seed"]]
        row = {"method": method, "style": style, "seeds": seeds}
        row["accuracy"] = [float(value) for value in runs["lenient_accuracy"]]
        if method in ACCURACY_REWARD_COLUMNS:
            row["reward_gain"], row["steps_to_threshold"] = [], []
            for seed in seeds:
                run = workdir / MODEL.format(
                    model=model, method=method, view=DATASET, shots=4, seed=seed
                )
                history = pd.read_csv(run / LOG_HISTORY_FILE)
                column = ACCURACY_REWARD_COLUMNS[method]
                row["reward_gain"].append(float(reward_gain(history, column)))
                row["steps_to_threshold"].append(steps_to_reach(history, column))
        rows.append(row)
    return rows


def record_of(workdir: Path) -> dict:
    """The record of a finished study in `workdir`: its rows, with the commit that ran it and
    the CPU numerics (from the training jobs' records), the date and the machine."""
    runs = published_runs(workdir / "results")
    if len(runs["commits"]) != 1 or runs["dirty"]:
        raise SystemExit(f"{workdir}: the runs do not come from one clean commit: {runs}")
    return {
        "bench": "bench/toy_study.py",
        "commit": runs["commits"][0],
        "date": runs["date"],
        "machine": runs["machine"],
        "cpu_numerics": ", ".join(runs["cpu_numerics"]),
        "threshold": THRESHOLD,
        "window": WINDOW,
        "rows": measured_rows(workdir),
    }


def render(record: dict) -> str:
    """The Markdown table of a record: mean and 95% interval over seeds per method."""
    lines = [
        f"| method | style | seeds | test accuracy (%) | per seed | accuracy reward gain | steps "
        f"to a running reward of {record['threshold']} ({record['window']} steps) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in record["rows"]:
        per_seed = ", ".join(f"{value:.1f}" for value in row["accuracy"])
        gains, step_cell = row.get("reward_gain", []), ""
        steps = row.get("steps_to_threshold", [])
        if steps:
            never = sum(1 for value in steps if value is None)
            reached = [math.nan if value is None else value for value in steps]
            step_cell = interval(reached) + (f" ({never} never)" if never else "")
        lines.append(
            f"| {row['method']} | {row['style']} | {len(row['accuracy'])} | "
            f"{interval(row['accuracy'])} | {per_seed} | {interval(gains) if gains else ''} | "
            f"{step_cell} |"
        )
    return "\n".join(lines) + "\n"


def rendered_readme(readme: str, record: dict) -> str:
    """`readme` with the text between its toy-study markers replaced by the record's table and
    where it comes from."""
    start, end = readme.index(BEGIN) + len(BEGIN), readme.index(END)
    source = (
        f"\nRecorded in `{RECORD.relative_to(ROOT)}`: commit {record['commit'][:7]}, "
        f"{record['date']}, {record['machine']}, CPU numerics {record['cpu_numerics']}.\n\n"
    )
    return readme[:start] + source + render(record) + "\n" + readme[end:]


def merged(base: dict, changes: dict) -> dict:
    """`base` with `changes` applied, section by section.

    >>> merged({"training": {"seeds": [1], "shots": [4]}}, {"training": {"seeds": [1, 2]}})
    {'training': {'seeds': [1, 2], 'shots': [4]}}
    """
    result = dict(base)
    for key, value in changes.items():
        both_sections = isinstance(value, dict) and isinstance(base.get(key), dict)
        result[key] = merged(base[key], value) if both_sections else value
    return result


def study_config() -> dict:
    """The demo's config.yaml with bench/toy_study.yaml's keys changed."""
    demo = yaml.safe_load((ROOT / "config.yaml").read_text())
    return merged(demo, yaml.safe_load(CHANGES.read_text()))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="where the study runs")
    parser.add_argument("--cores", default="all", help="snakemake --cores")
    parser.add_argument("--summarize-only", action="store_true", help="only read a finished run")
    parser.add_argument(
        "--render-only", action="store_true", help="only render README's table from the record"
    )
    args = parser.parse_args(argv)
    if not args.render_only:
        if args.workdir is None:
            parser.error("give --workdir (or --render-only)")
        if not args.summarize_only:
            args.workdir.mkdir(parents=True, exist_ok=True)
            config = args.workdir / "toy_study_config.yaml"
            config.write_text(yaml.safe_dump(study_config()))
            command = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile")]
            command += ["--directory", str(args.workdir), "--configfile", str(config)]
            env = {**os.environ, **PINNED_ENV}
            subprocess.run([*command, "--cores", args.cores], check=True, env=env)
        RECORD.parent.mkdir(exist_ok=True)
        RECORD.write_text(json.dumps(record_of(args.workdir), indent=1) + "\n")
    record = json.loads(RECORD.read_text())
    README.write_text(rendered_readme(README.read_text(), record))
    print(render(record))


if __name__ == "__main__":
    main()
