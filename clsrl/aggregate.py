"""Gather evaluation metrics into tables (pandas): one long table, and wide method x dataset tables.

Accuracies are percentages; an average column is the unweighted mean over datasets (protocol
section 7). Over several seeds, a cell is the mean, and a `_std` table holds the spread.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from clsrl.io import read_json, write_atomic

METRICS = ("lenient_accuracy", "strict_accuracy")
# A run's identity, as clsrl.study.Study.eval_record stores it in metrics.json (views as fields).
RUN_COLUMNS = (
    "model",  # the base model's label (clsrl.base_models)
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


def collect_metrics(paths: list[str | Path]) -> pd.DataFrame:
    """One row per metrics file: the run's identity, both accuracies, size and throughput."""
    rows = []
    for path in paths:
        metrics = read_json(path)
        rows.append(
            {
                **{column: metrics.get(column) for column in RUN_COLUMNS},
                "n": metrics["n"],
                **{metric: metrics[metric] for metric in METRICS},
                "images_per_second": metrics.get("images_per_second"),
                "source": str(path),
            }
        )
    return pd.DataFrame(rows, columns=[*RUN_COLUMNS, "n", *METRICS, "images_per_second", "source"])


def accuracy_table(
    long: pd.DataFrame, targets: list[str], rows: list[str], metric: str, statistic: str = "mean"
) -> pd.DataFrame:
    """A wide table: one row per `rows` combination, one column per target, plus the average.

    `statistic` is applied over seeds: "mean" or "std" (population std is never used: ddof 1, and a
    single seed gives NaN, shown as empty).

    >>> long = pd.DataFrame({"method": ["a", "a"], "target": ["x", "y"], "acc": [50.0, 70.0]})
    >>> accuracy_table(long, ["x", "y"], ["method"], "acc").to_dict("records")
    [{'method': 'a', 'x': 50.0, 'y': 70.0, 'Average': 60.0}]
    """
    grouped = long.groupby([*rows, "target"], dropna=False)[metric].agg(statistic)
    table = grouped.unstack("target").reindex(columns=targets)
    if statistic == "mean":
        table[AVERAGE] = table[targets].mean(axis=1)
    else:  # the spread of the per-seed averages over datasets
        per_seed = long.pivot_table(index=[*rows, "seed"], columns="target", values=metric)
        table[AVERAGE] = per_seed.reindex(columns=targets).mean(axis=1).groupby(level=rows).std()
    table.columns.name = None
    return table.reset_index()


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
    """(Base model, method, prompt style) x dataset accuracy: mean over seeds, with `_std`
    columns.

    Rows keep the study's order of base models and methods; each trained model counts on the
    dataset it was trained on (protocol section 7's few-shot table).
    """
    rows = fewshot_rows(long)
    mean = accuracy_table(rows, targets, list(ROW_COLUMNS), metric)
    std = accuracy_table(rows, targets, list(ROW_COLUMNS), metric, "std")
    for column in [*targets, AVERAGE]:
        mean[f"{column}_std"] = std[column].to_numpy()
    return in_study_order(mean, long)


def mean_std_markdown(table: pd.DataFrame, targets: list[str], decimals: int = 2) -> str:
    """A Markdown table whose cells read `mean ± std` (just `mean` for a single seed)."""

    def cell(mean, std) -> str:
        if pd.isna(mean):
            return ""
        return f"{mean:.{decimals}f}" + ("" if pd.isna(std) else f" ± {std:.{decimals}f}")

    shown = table[list(ROW_COLUMNS)].copy()
    for column in [*targets, AVERAGE]:
        shown[column] = [
            cell(m, s) for m, s in zip(table[column], table[f"{column}_std"], strict=True)
        ]
    return to_markdown(shown)
