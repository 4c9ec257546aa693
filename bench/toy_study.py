"""The toy study: the toy world's methods over enough seeds to say what holds, with 95% intervals.

    python bench/toy_study.py --workdir /tmp/toy-study     # runs the workflow, then the table
    python bench/toy_study.py --workdir /tmp/toy-study --summarize-only

Runs the real workflow on the demo's config.yaml with `bench/toy_study.yaml`'s keys changed
(demo-colours, the shipped toy model, zero-shot, SFT, CLS-RL and No-Thinking, the demo's training
settings, seeds 1-5) with pinned CPU numerics (clsrl.cpu_numerics: the same bits on every
x86-64 CPU, so the table does not depend on the machine), then reads
`results/tables/accuracy_long.csv` and every GRPO run's `log_history.csv` and writes
`toy_study.md` in the working folder: per method the test accuracy, and for the GRPO methods two
steadier measures of learning than the end accuracy (clsrl.learning_curves): the gain of the
training accuracy reward (mean of the last epoch minus the first) and the optimizer steps until
its running mean reaches the threshold. Each as mean and 95% interval over seeds (Student's t).
README "The toy world"
quotes the table with the machine and date it ran on.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

from clsrl.cpu_numerics import PINNED_ENV
from clsrl.intervals import finite, t95_half_width
from clsrl.learning_curves import (
    ACCURACY_REWARD_COLUMNS,
    THRESHOLD,
    WINDOW,
    reward_gain,
    steps_to_reach,
)
from clsrl.study import MODEL
from clsrl.train import LOG_HISTORY_FILE

ROOT = Path(__file__).resolve().parents[1]
CHANGES = ROOT / "bench" / "toy_study.yaml"
DATASET = "demo-colours"


def interval(values: list[float]) -> str:
    """`mean ± half-width` of the 95% interval (just the mean for one or two values)."""
    values = finite(values)
    if not values:
        return "n/a"
    half = t95_half_width(values)
    mean = statistics.mean(values)
    return f"{mean:.2f}" if half is None else f"{mean:.2f} ± {half:.2f}"


def summarize(workdir: Path) -> str:
    """The Markdown table of the study in `workdir`."""
    long = pd.read_csv(workdir / "results/tables/accuracy_long.csv")
    own = long[(long["target"] == DATASET)]
    lines = [
        f"| method | style | seeds | test accuracy (%) | per seed | accuracy reward gain | steps "
        f"to a running reward of {THRESHOLD} ({WINDOW} steps) |",
        "|---|---|---|---|---|---|---|",
    ]
    for (model, method, style), rows in own.groupby(["model", "method", "style"], sort=False):
        accuracy = interval(rows["lenient_accuracy"].tolist())
        per_seed = ", ".join(
            f"{value:.1f}" for value in rows.sort_values("seed")["lenient_accuracy"]
        )
        gains, steps = [], []
        for seed in sorted(rows["seed"].dropna().astype(int)):
            run = workdir / MODEL.format(
                model=model, method=method, view=DATASET, shots=4, seed=seed
            )
            run = run / LOG_HISTORY_FILE
            if method in ACCURACY_REWARD_COLUMNS and run.is_file():
                history, column = pd.read_csv(run), ACCURACY_REWARD_COLUMNS[method]
                gains.append(reward_gain(history, column))
                reached = steps_to_reach(history, column)
                steps.append(reached if reached is not None else math.nan)
        never = sum(1 for s in steps if math.isnan(s))
        step_cell = interval(steps) + (f" ({never} never)" if never else "") if steps else ""
        lines.append(
            f"| {method} | {style} | {len(rows)} | {accuracy} | {per_seed} | "
            f"{interval(gains) if gains else ''} | {step_cell} |"
        )
    return "\n".join(lines) + "\n"


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
    parser.add_argument("--workdir", type=Path, required=True, help="where the study runs")
    parser.add_argument("--cores", default="all", help="snakemake --cores")
    parser.add_argument("--summarize-only", action="store_true", help="only read a finished run")
    args = parser.parse_args(argv)
    if not args.summarize_only:
        args.workdir.mkdir(parents=True, exist_ok=True)
        config = args.workdir / "toy_study_config.yaml"
        config.write_text(yaml.safe_dump(study_config()))
        command = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile")]
        command += ["--directory", str(args.workdir), "--configfile", str(config)]
        env = {**os.environ, **PINNED_ENV}
        subprocess.run([*command, "--cores", args.cores], check=True, env=env)
    table = summarize(args.workdir)
    (args.workdir / "toy_study.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
