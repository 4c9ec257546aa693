"""How far a study is, from its files alone: safe to run beside a running study (it reads files and
never takes Snakemake's lock), on a laptop or a cluster's login node.

    python -m clsrl.workflow.progress [my.yaml ...]   # in the study's working directory (its
    --directory)

It plans the study as the workflow would (clsrl.workflow.study.plan_study, the same config files),
then counts each training and evaluation of each (base model, method, training view) as done (its
output is there), started (Snakemake marked its output incomplete: running, or interrupted) or to
do, and builds the few-shot table from the evaluations done so far, each cell saying how many of
its seeds it holds. It writes results/progress/{status.csv, status.md, fewshot.md} and prints
them.
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path

import pandas as pd

from clsrl.io import write_atomic
from clsrl.report.aggregate import (
    AVERAGE,
    ROW_COLUMNS,
    collect_metrics,
    fewshot_rows,
    per_seed_table,
    to_markdown,
)
from clsrl.report.intervals import SEED_NOTE, seed_cell
from clsrl.views import View
from clsrl.workflow.check import merged
from clsrl.workflow.study import DEMO_CONFIG, EVAL_TRAINED, EVAL_ZERO_SHOT, MODEL, Study, plan_study

OUTPUT = Path("results/progress")
INCOMPLETE = Path(".snakemake/incomplete")  # Snakemake's marks of outputs being written
COUNTS = ("done", "started", "to do")


def started_outputs(workdir: Path) -> set[str]:
    """The outputs Snakemake has marked incomplete in `workdir` (a job writing them now, or one
    that was interrupted): each mark's name is the output's path in urlsafe base64, split into
    folders of at most NAME_MAX characters (continued parts start with @). Read, never written."""
    root = workdir / INCOMPLETE
    if not root.is_dir():
        return set()
    started = set()
    for mark in root.rglob("*"):
        if not mark.is_file() or mark.name == "migration_underway":
            continue
        encoded = "".join(part.removeprefix("@") for part in mark.relative_to(root).parts)
        try:
            started.add(base64.urlsafe_b64decode(encoded).decode())
        except (ValueError, UnicodeDecodeError):
            continue  # not a mark of this Snakemake version's format: counted as not started
    return started


def state(output: str, workdir: Path, started: set[str]) -> str:
    if output in started:
        return "started"
    return "done" if (workdir / output).exists() else "to do"


def planned_jobs(study: Study) -> list[dict]:
    """Every training and evaluation of the study: kind, output, and the row it counts in."""
    jobs = []
    for model in study.base_models:
        for style in study.zero_shot_styles:
            for target in study.zero_shot_targets():
                output = EVAL_ZERO_SHOT.format(model=model, style=style, target=target)
                row = {"model": model, "method": "zero-shot", "style": style, "view": target}
                jobs.append({**row, "kind": "evaluations", "output": f"{output}/metrics.json"})
    for run in study.trained_runs():
        row = {
            "model": run["model"],
            "method": run["method"],
            "style": study.method_style(run["method"]),
            "view": run["view"],
        }
        jobs.append({**row, "kind": "trainings", "output": MODEL.format(**run)})
        for target in study.eval_targets(View.parse(run["view"])):
            output = EVAL_TRAINED.format(**run, target=target)
            jobs.append({**row, "kind": "evaluations", "output": f"{output}/metrics.json"})
    return jobs


def status_table(study: Study, workdir: Path) -> tuple[pd.DataFrame, list[str]]:
    """Per (base model, method, style, view): trainings and evaluations done, started and to do;
    and the metrics files of the evaluations done."""
    started = started_outputs(workdir)
    jobs = pd.DataFrame(planned_jobs(study))
    jobs["state"] = [
        # an evaluation is started when its predictions or metrics are marked
        "started"
        if {output, output.replace("metrics.json", "predictions.jsonl")} & started
        else state(output, workdir, started)
        for output in jobs["output"]
    ]
    keys = ["model", "method", "style", "view"]
    counts = jobs.groupby([*keys, "kind", "state"], sort=False).size().unstack(["kind", "state"])
    columns = [(kind, s) for kind in ("trainings", "evaluations") for s in COUNTS]
    counts = counts.reindex(columns=pd.MultiIndex.from_tuples(columns)).fillna(0).astype(int)
    counts.columns = [f"{kind} {s}" for kind, s in counts.columns]
    done = jobs[(jobs["kind"] == "evaluations") & (jobs["state"] == "done")]["output"]
    return counts.reset_index(), [str(workdir / path) for path in done]


def partial_fewshot_markdown(metrics: list[str], study: Study) -> str:
    """The few-shot table from the evaluations done so far: every row the study will have, each
    cell as clsrl.report.intervals.seed_cell shows its seeds, `(k of n seeds)` while some are
    missing, `missing` when none is there yet."""
    targets = list(study.targets)
    expected = len(study.seeds)  # per_seed_table averages over shots, as fewshot_table does
    rows = [
        (model, "zero-shot", style)
        for model in study.base_models
        for style in study.zero_shot_styles
    ] + [
        (model, method, study.method_style(method))
        for model in study.base_models
        for method in study.trained_methods
    ]
    table = pd.DataFrame(rows, columns=list(ROW_COLUMNS))
    long = collect_metrics(metrics) if metrics else None
    per_seed = (
        per_seed_table(fewshot_rows(long), targets, list(ROW_COLUMNS), "lenient_accuracy")
        if long is not None and len(fewshot_rows(long))
        else None
    )
    for column in [*targets, AVERAGE]:
        cells = []
        for key in rows:
            found = []
            if per_seed is not None and key in per_seed.index.droplevel("seed"):
                found = [v for v in per_seed.loc[key, column].tolist() if pd.notna(v)]
            wanted = 1 if key[1] == "zero-shot" else expected
            if not found:
                cells.append("missing")
            elif len(found) < wanted:
                cells.append(f"{seed_cell(found)} ({len(found)} of {wanted} seeds)")
            else:
                cells.append(seed_cell(found))
        table[column] = cells
    return (
        to_markdown(table)
        + "\nLenient accuracy in percent, from the evaluations done so far (an Average from the "
        f"datasets done). {SEED_NOTE}\n"
    )


def progress(config_files: list[str], workdir: str | Path = ".") -> str:
    """Write results/progress/ in `workdir` for the study of `config_files` (none: the embedded
    demo config.yaml); return the Markdown written."""
    workdir = Path(workdir)
    paths = [Path(path) for path in config_files] or [Path(__file__).parents[2] / DEMO_CONFIG]
    study, _ = plan_study(merged(paths), [str(path) for path in config_files], listings=False)
    status, metrics = status_table(study, workdir)
    fewshot = partial_fewshot_markdown(metrics, study)
    out = workdir / OUTPUT
    write_atomic(out / "status.csv", status.to_csv(index=False))
    status_md = to_markdown(status)
    write_atomic(out / "status.md", status_md)
    write_atomic(out / "fewshot.md", fewshot)
    totals = status.drop(columns=["model", "method", "style", "view"]).sum()
    summary = ", ".join(f"{name} {int(count)}" for name, count in totals.items())
    return f"{status_md}\nIn all: {summary}.\n\n{fewshot}"


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    print(progress(argv))
    print(f"(written to {OUTPUT}/)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
