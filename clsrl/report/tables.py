"""The paper's other tables: base-to-new (base, new, harmonic mean) and the cross-dataset
("free lunch") matrices of accuracy, of accuracy gained over zero-shot, and of one method's
accuracy minus another's (both metrics: lenient, the paper's, and strict).

Inputs are the long table of clsrl.report.aggregate.collect_metrics; accuracies in percent, means
over seeds. Averages follow the paper: H of the averaged base and new accuracies; a matrix's Average
column is the mean over test datasets.
"""

from __future__ import annotations

import pandas as pd

from clsrl.methods import resolve_methods
from clsrl.report.aggregate import AVERAGE
from clsrl.report.intervals import t95_half_width

RL_DIFFERENCE = ("no-thinking", "cls-rl")  # the difference map: first's accuracy minus second's


def harmonic_mean(base: float, new: float) -> float:
    """H = 2 b n / (b + n); 0 when both are 0.

    >>> harmonic_mean(80.0, 60.0)
    68.57142857142857
    """
    return 2 * base * new / (base + new) if base + new else 0.0


def base2new_table(long: pd.DataFrame, datasets: list[str], metric: str) -> pd.DataFrame:
    """One row per (base model, dataset, method, style): base and new accuracy (the mean over
    seeds, with the min, max and 95% t half-width, clsrl.report.intervals) and H, the number of
    seeds, then an Average row per model and method whose H is that of the averaged base and new."""
    zero_shot = long["method"] == "zero-shot"
    trained = long["train_half"] == "base"
    own = zero_shot | (long["train_base"] == long["target_dataset"])
    rows = long[long["target_half"].notna() & (zero_shot | trained) & own]
    spread = [f"{half}_{kind}" for half in ("base", "new") for kind in ("min", "max", "t95")]
    columns = ["model", "dataset", "method", "style", "base", "new", "hm", *spread, "seeds"]
    if rows.empty:  # the study has no base-to-new setting
        return pd.DataFrame(columns=columns)
    grouped = (
        rows.assign(seed=rows["seed"].fillna(0))
        .groupby(
            ["model", "method", "style", "target_dataset", "target_half", "seed"], dropna=False
        )[metric]
        .mean()
    )
    per_seed = grouped.unstack("target_half")  # columns: base, new
    stats = per_seed.groupby(
        level=["model", "method", "style", "target_dataset"], dropna=False
    ).agg(["mean", "min", "max", t95_half_width, "size"])
    table = (
        pd.DataFrame(
            {
                "base": stats[("base", "mean")],
                "new": stats[("new", "mean")],
                **{
                    f"{half}_{kind}": stats[(half, function)]
                    for half in ("base", "new")
                    for kind, function in (
                        ("min", "min"),
                        ("max", "max"),
                        ("t95", "t95_half_width"),
                    )
                },
                "seeds": stats[("base", "size")],
            }
        )
        .reset_index()
        .rename(columns={"target_dataset": "dataset"})
    )
    table["hm"] = [harmonic_mean(b, n) for b, n in zip(table["base"], table["new"], strict=True)]
    averages = table.groupby(["model", "method", "style"], dropna=False, sort=False)[
        ["base", "new"]
    ].mean()
    averages = averages.reset_index().assign(dataset=AVERAGE)
    averages["hm"] = [
        harmonic_mean(b, n) for b, n in zip(averages["base"], averages["new"], strict=True)
    ]
    order = {
        "dataset": {name: i for i, name in enumerate([*datasets, AVERAGE])},
        **{
            column: {name: i for i, name in enumerate(dict.fromkeys(long[column]))}
            for column in ("model", "method")
        },
    }
    table = pd.concat([table, averages], ignore_index=True)
    table = table.sort_values(
        ["model", "dataset", "method"], key=lambda s: s.map(order[s.name]), kind="stable"
    )
    return table[columns].reset_index(drop=True)


def crossdataset_matrices(
    long: pd.DataFrame, train_datasets: list[str], targets: list[str], metric: str, variants=None
) -> dict[str, dict[str, pd.DataFrame]]:
    """Per trained method: `accuracy` and `delta` (accuracy minus zero-shot accuracy in the
    method's own prompt style) matrices, rows = training dataset, columns = test dataset.
    `long` holds one base model's evaluations (see `by_model`)."""
    methods = resolve_methods(variants)
    all_classes = long["target_half"].isna() & long["train_half"].isna()
    rows = long[all_classes]
    zero_shot = rows[rows["method"] == "zero-shot"].groupby(["style", "target"])[metric].mean()
    matrices = {}
    for method in dict.fromkeys(rows.loc[rows["method"] != "zero-shot", "method"]):
        own = rows[rows["method"] == method]
        accuracy = own.pivot_table(index="train_dataset", columns="target", values=metric)
        accuracy = accuracy.reindex(index=train_datasets, columns=targets)
        style = methods[method].prompt_style
        baseline = zero_shot.xs(style, level="style").reindex(targets)
        delta = accuracy - baseline
        for matrix in (accuracy, delta):
            matrix[AVERAGE] = matrix[targets].mean(axis=1)
            matrix.index.name = "train\\test"
            matrix.columns.name = None
        matrices[method] = {"accuracy": accuracy, "delta": delta}
    return matrices


def by_model(long: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The long table's rows of each base model (label -> rows), in the study's order."""
    return {label: rows for label, rows in long.groupby("model", sort=False)}


def rl_difference(matrices: dict[str, dict[str, pd.DataFrame]]) -> pd.DataFrame | None:
    """No-Thinking's accuracy minus CLS-RL's, cell by cell (None unless both ran). Not the
    difference of their gains: each gain is over the zero-shot accuracy in the method's own
    prompt style, and those baselines differ, so a difference of gains can have the other sign.

    >>> acc = lambda v: pd.DataFrame({"x": [v]})
    >>> both = {"no-thinking": {"accuracy": acc(11.46)}, "cls-rl": {"accuracy": acc(7.29)}}
    >>> rl_difference(both)["x"].tolist()
    [4.17]
    """
    first, second = RL_DIFFERENCE
    if first not in matrices or second not in matrices:
        return None
    return (matrices[first]["accuracy"] - matrices[second]["accuracy"]).round(9)
