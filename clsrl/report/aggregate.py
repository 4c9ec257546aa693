"""Gather evaluation metrics into tables (pandas): one long table, and wide method x dataset tables.

Accuracies are percentages; an average column is the unweighted mean over datasets (protocol
section 7). The long table holds, per evaluation, how the model answered (clsrl.report.answer_stats:
degenerate outputs, the most frequent answer, collapse). Over several seeds, a CSV cell is the
mean with `_min`, `_max` and `_t95` (half-width of the 95% t-interval, 3 seeds or more) columns;
a Markdown cell shows what clsrl.report.intervals.seed_cell says (both values of 2 seeds), and a
cell of a collapsed model is marked.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from clsrl.io import read_json, read_jsonl, write_atomic
from clsrl.report.answer_stats import COLLAPSE_SHARE, STAT_COLUMNS, answer_stats, seed_agreement
from clsrl.report.intervals import SEED_NOTE, interval_kind, seed_cell, t95_half_width

METRICS = ("lenient_accuracy", "strict_accuracy")
# A run's identity, as clsrl.workflow.study.Study.eval_record stores it in metrics.json (views as
# fields).
RUN_COLUMNS = (
    "model",  # the base model's label (clsrl.models.base_models)
    "base_model",  # the base model itself: hub id, folder or builtin:NAME
    "method",
    "train_dataset",
    "train_base",
    "train_half",
    "shots",
    "seed",
    "style",
    "target",
    "target_dataset",
    "target_half",
)
AVERAGE = "Average"
ROW_COLUMNS = ("model", "method", "style")  # what a row of the few-shot and zero-shot tables is
PREDICTIONS_FILE = "predictions.jsonl"  # beside each metrics.json (rules/evaluate.smk)
COLLAPSED_MARK = "‡"
LONG_COLUMNS = [*RUN_COLUMNS, "n", *METRICS, *STAT_COLUMNS, "images_per_second", "source"]


def predictions_of(metrics_path: str | Path) -> Path:
    """The predictions file an evaluation wrote beside its metrics."""
    return Path(metrics_path).with_name(PREDICTIONS_FILE)


def collect_metrics(paths: list[str | Path]) -> pd.DataFrame:
    """One row per metrics file: the run's identity, both accuracies, how it answered (from its
    predictions, when they lie beside it), size and throughput. Seeds are integers (empty for
    zero-shot)."""
    rows = []
    for path in paths:
        metrics = read_json(path)
        predictions = predictions_of(path)
        stats = (
            answer_stats(read_jsonl(predictions), metrics["style"]) if predictions.is_file() else {}
        )
        rows.append(
            {
                **{column: metrics.get(column) for column in RUN_COLUMNS},
                "n": metrics["n"],
                **{metric: metrics[metric] for metric in METRICS},
                **stats,
                "images_per_second": metrics.get("images_per_second"),
                "source": str(path),
            }
        )
    long = pd.DataFrame(rows, columns=LONG_COLUMNS)
    long["seed"] = long["seed"].astype("Int64")
    long["shots"] = long["shots"].astype("Int64")
    return long


def accuracy_table(
    long: pd.DataFrame, targets: list[str], rows: list[str], metric: str
) -> pd.DataFrame:
    """A wide table: one row per `rows` combination, one column per target, plus the average;
    a cell is the mean over seeds.

    >>> long = pd.DataFrame({"method": ["a", "a"], "target": ["x", "y"], "acc": [50.0, 70.0]})
    >>> accuracy_table(long, ["x", "y"], ["method"], "acc").to_dict("records")
    [{'method': 'a', 'x': 50.0, 'y': 70.0, 'Average': 60.0}]
    """
    grouped = long.groupby([*rows, "target"], dropna=False)[metric].mean()
    table = grouped.unstack("target").reindex(columns=targets)
    table[AVERAGE] = table[targets].mean(axis=1)
    table.columns.name = None
    return table.reset_index()


def per_seed_table(
    long: pd.DataFrame, targets: list[str], rows: list[str], metric: str
) -> pd.DataFrame:
    """One row per (`rows`, seed): the accuracy on each target and their average (zero-shot
    runs, which have no seed, are one row). Index: `rows` and seed."""
    seeded = long.assign(seed=long["seed"].fillna(0))
    table = seeded.pivot_table(index=[*rows, "seed"], columns="target", values=metric)
    table = table.reindex(columns=targets)
    table[AVERAGE] = table[targets].mean(axis=1)
    table.columns.name = None
    return table


def to_markdown(table: pd.DataFrame, decimals: int = 2) -> str:
    """A Markdown table (no extra dependency), numbers rounded to `decimals`."""

    def cell(value) -> str:
        if isinstance(value, float):
            return "" if pd.isna(value) else f"{value:.{decimals}f}"
        return str(value)

    header = "| " + " | ".join(map(str, table.columns)) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([header, rule, *body]) + "\n"


def write_table(table: pd.DataFrame, csv_path: str | Path, markdown_path: str | Path) -> None:
    """Write a table as CSV and as Markdown, atomically."""
    write_atomic(csv_path, table.to_csv(index=False))
    write_atomic(markdown_path, to_markdown(table))


def zero_shot_table(long: pd.DataFrame, targets: list[str]) -> pd.DataFrame:
    """Zero-shot accuracy per base model, prompt style and metric (rows) and target dataset
    (columns)."""
    zero_shot = long[(long["method"] == "zero-shot") & long["target_half"].isna()]
    tables = []
    for metric in METRICS:
        table = accuracy_table(zero_shot, targets, list(ROW_COLUMNS), metric)
        table.insert(len(ROW_COLUMNS), "metric", metric.removesuffix("_accuracy"))
        tables.append(table)
    return in_study_order(pd.concat(tables, ignore_index=True), long)


def in_study_order(table: pd.DataFrame, long: pd.DataFrame) -> pd.DataFrame:
    """`table` with its rows in the order the long table first names their model and method
    (the study's order), otherwise as they are."""
    order = {
        column: {name: i for i, name in enumerate(dict.fromkeys(long[column]))}
        for column in ("model", "method")
    }
    return table.sort_values(
        ["model", "method"], key=lambda s: s.map(order[s.name]), kind="stable"
    ).reset_index(drop=True)


def fewshot_rows(long: pd.DataFrame) -> pd.DataFrame:
    """The evaluations of the few-shot table: zero-shot and each model trained on all classes of a
    dataset, evaluated on all classes of that dataset."""
    all_classes = long["target_half"].isna()
    zero_shot = long["method"] == "zero-shot"
    own_dataset = (long["train_dataset"] == long["target"]) & long["train_half"].isna()
    return long[all_classes & (zero_shot | own_dataset)]


def fewshot_table(long: pd.DataFrame, targets: list[str], metric: str) -> pd.DataFrame:
    """(Base model, method, prompt style) x dataset accuracy: the mean over seeds, with `_min`,
    `_max`, `_t95` (95% t half-width, 3 seeds or more) and `_collapsed` (a seed's model gave one
    answer for most items) columns and the number of seeds (`seeds`).

    Rows keep the study's order of base models and methods; each trained model counts on the
    dataset it was trained on (protocol section 7's few-shot table).
    """
    rows = fewshot_rows(long)
    per_seed = per_seed_table(rows, targets, list(ROW_COLUMNS), metric)
    grouped = per_seed.groupby(level=list(ROW_COLUMNS), dropna=False, sort=False)
    table = grouped.mean()
    for column in [*targets, AVERAGE]:
        table[f"{column}_min"] = grouped[column].min()
        table[f"{column}_max"] = grouped[column].max()
        table[f"{column}_t95"] = grouped[column].agg(t95_half_width)
    flags = rows.assign(collapsed=rows.get("collapsed", False)).fillna({"collapsed": False})
    collapsed = flags.groupby([*ROW_COLUMNS, "target"], dropna=False)["collapsed"].agg(
        lambda column: bool(column.astype(bool).any())
    )
    for column in targets:
        table[f"{column}_collapsed"] = [collapsed.get((*key, column), False) for key in table.index]
    table["seeds"] = grouped.size()
    return in_study_order(table.reset_index(), long)


def seed_markdown(long: pd.DataFrame, targets: list[str], metric: str) -> str:
    """The few-shot table in Markdown: each cell as clsrl.report.intervals.seed_cell shows it (both
    values of 2 seeds; mean and 95% t-interval of 3 or more), a collapsed model's cell marked;
    then what a cell is, n, and what a seed varies."""
    per_seed = per_seed_table(fewshot_rows(long), targets, list(ROW_COLUMNS), metric)
    table = fewshot_table(long, targets, metric)
    shown = table[list(ROW_COLUMNS)].copy()
    keys = [tuple(row) for row in table[list(ROW_COLUMNS)].itertuples(index=False)]
    for column in [*targets, AVERAGE]:
        collapsed = table.get(f"{column}_collapsed", pd.Series(False, index=table.index))
        shown[column] = [
            seed_cell(per_seed.loc[key, column].tolist()) + (f" {COLLAPSED_MARK}" * flag)
            for key, flag in zip(keys, collapsed, strict=True)
        ]
    seeds = sorted(set(table.loc[table["method"] != "zero-shot", "seeds"])) or [1]
    n_items = long.groupby("target")["n"].max().reindex(targets)
    note = (
        f"\n{metric.replace('_', ' ')} in percent. Trained models: "
        + "; ".join(f"{interval_kind(s)} (n = {s} seeds)" for s in seeds)
        + "; zero-shot: one run. Test items: "
        + ", ".join(f"{t} {int(n)}" for t, n in n_items.items() if pd.notna(n))
        + f". {SEED_NOTE} {COLLAPSED_MARK} marks a cell where a model gave one answer for at "
        f"least {COLLAPSE_SHARE:.0%} of the items (collapsed; see top_answer in "
        "accuracy_long.csv).\n"
    )
    return to_markdown(shown) + note


def seed_agreement_table(long: pd.DataFrame) -> pd.DataFrame:
    """Per trained (model, method, training view, shots, target) with 2 seeds or more: the share
    of test items its seeds' models answer alike (clsrl.report.answer_stats.seed_agreement), beside
    their accuracies: equal accuracies can hide different answers."""
    trained = long[long["method"] != "zero-shot"]
    keys = ["model", "method", "style", "train_dataset", "train_half", "shots", "target"]
    rows = []
    for key, group in trained.groupby(keys, dropna=False, sort=False):
        if len(group) < 2:
            continue
        predictions = {
            int(seed): read_jsonl(predictions_of(source))
            for seed, source in zip(group["seed"], group["source"], strict=True)
            if predictions_of(source).is_file()
        }
        rows.append(
            {
                **dict(zip(keys, key, strict=True)),
                "seeds": len(group),
                "lenient_accuracy": ", ".join(f"{v:.2f}" for v in group["lenient_accuracy"]),
                "answers_alike": seed_agreement(predictions),
            }
        )
    return pd.DataFrame(rows, columns=[*keys, "seeds", "lenient_accuracy", "answers_alike"])
