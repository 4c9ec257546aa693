"""What the report rules write: the long table of every evaluation and its summaries (rule
aggregate); the base-to-new table, the cross-dataset matrices and heatmaps and the comparison
with the paper (rule study_tables). Each takes its rule's outputs by name (`outputs`, as the rule
names them) and writes every one of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from clsrl.io import write_atomic
from clsrl.report.aggregate import (
    collect_metrics,
    fewshot_table,
    seed_agreement_table,
    seed_markdown,
    to_markdown,
    write_table,
    zero_shot_table,
)
from clsrl.report.intervals import SEED_NOTE
from clsrl.report.paper import COMPARISON_COLUMNS, compare_with_paper, comparison_note
from clsrl.report.plots import plot_delta_heatmap, shared_limit
from clsrl.report.tables import (
    RL_DIFFERENCE,
    base2new_table,
    by_model,
    crossdataset_matrices,
    rl_difference,
)

METRIC = "lenient_accuracy"  # the paper's metric; the long table holds the strict one too


def write_summaries(
    metrics_files: Iterable[str], outputs: Mapping[str, str], targets: list[str], protocol: str
) -> None:
    """The long table of `metrics_files` (and the predictions beside each), the zero-shot and
    few-shot tables (lenient and strict) and how alike seeds answer."""
    long = collect_metrics(list(metrics_files))  # reads the predictions beside each
    long["protocol"] = protocol  # clsrl.config.protocol_in_force
    write_atomic(outputs["long"], long.to_csv(index=False))
    write_table(zero_shot_table(long, targets), outputs["zero_shot"], outputs["zero_shot_md"])
    for metric, csv, markdown in (
        ("lenient_accuracy", outputs["fewshot"], outputs["fewshot_md"]),
        ("strict_accuracy", outputs["fewshot_strict"], outputs["fewshot_strict_md"]),
    ):
        table = fewshot_table(long, targets, metric)
        write_atomic(csv, table.to_csv(index=False))
        write_atomic(markdown, seed_markdown(long, targets, metric))
    agreement = seed_agreement_table(long)
    write_atomic(outputs["agreement"], agreement.to_csv(index=False))
    write_atomic(outputs["agreement_md"], to_markdown(agreement))


def write(table: pd.DataFrame, stem: Path, index: bool, note: str, empty_note: str = "") -> None:
    """The table as CSV, and as Markdown followed by `note` (what a cell is, n, what a seed
    varies)."""
    write_atomic(stem.with_suffix(".csv"), table.to_csv(index=index))
    markdown = to_markdown(table.reset_index() if index else table) + note
    write_atomic(stem.with_suffix(".md"), markdown if len(table) or not empty_note else empty_note)


def write_study_tables(
    long_table: str,
    outputs: Mapping[str, str],
    datasets: list[str],
    targets: list[str],
    variants: dict,
    base_models: Mapping[str, str],
    benchmarks: list[str],
    protocol: str,
) -> None:
    """From the long table: the base-to-new tables, each base model's cross-dataset matrices and
    heatmaps (one colour scale per model) and the comparison with the paper's numbers."""
    long = pd.read_csv(long_table)
    trained = long[long["method"] != "zero-shot"]
    n_seeds = int(trained["seed"].nunique()) if len(trained) else 0
    note = (
        "\nAccuracy in percent (delta_* and difference_*: its change, in points), lenient unless "
        f"the file name says strict; a trained model's cell is the mean over its {n_seeds} "
        "seed(s) (per-seed values: accuracy_long.csv). "
        f"{SEED_NOTE}\n"
    )
    base2new = base2new_table(long, datasets, METRIC)
    for table, output in (
        (base2new, outputs["base2new"]),
        (base2new_table(long, datasets, "strict_accuracy"), outputs["base2new_strict"]),
    ):
        write(
            table,
            Path(output).with_suffix(""),
            index=False,
            note=note,
            empty_note="No base-to-new run in this study: add base2new to `settings`.\n",
        )

    fewshot = fewshot_table(long, targets, METRIC)
    comparisons, notes = [], []
    for model, rows in by_model(long).items():
        folder = Path(outputs["crossdataset"]) / model
        folder.mkdir(parents=True, exist_ok=True)
        by_metric = {  # lenient (the paper's metric) and strict, side by side
            metric: crossdataset_matrices(rows, datasets, targets, metric, variants)
            for metric in (METRIC, "strict_accuracy")
        }
        differences = {metric: rl_difference(tables) for metric, tables in by_metric.items()}
        limit = shared_limit(  # one colour scale for every heatmap of this model
            [t["delta"] for tables in by_metric.values() for t in tables.values()]
            + [d for d in differences.values() if d is not None]
        )
        for metric, matrices in by_metric.items():
            suffix, word = ("", "lenient") if metric == METRIC else ("_strict", "strict")
            for method, tables in matrices.items():
                for kind, matrix in tables.items():
                    write(matrix, folder / f"{kind}_{method}{suffix}", True, note)
                plot_delta_heatmap(
                    tables["delta"],
                    f"{model}, {method}: {word} accuracy minus zero-shot's",
                    folder / f"delta_{method}{suffix}.png",
                    limit,
                )
            difference = differences[metric]
            if difference is not None:
                first, second = RL_DIFFERENCE
                stem = folder / f"difference_{first}_minus_{second}{suffix}"
                write(difference, stem, True, note)
                plot_delta_heatmap(
                    difference,
                    f"{model}: {first} {word} accuracy minus {second}'s",
                    folder / f"difference_{first}_minus_{second}{suffix}.png",
                    limit,
                    label="accuracy difference (points)",
                )
        matrices = by_metric[METRIC]

        deltas = {method: tables["delta"] for method, tables in matrices.items()}
        own = fewshot[fewshot["model"] == model].drop(columns="model")
        comparison = compare_with_paper(own, base2new[base2new["model"] == model], deltas)
        comparisons.append(comparison.assign(model=model))
        base_model = base_models[model]
        note = comparison_note(base_model, datasets, benchmarks, protocol)
        notes.append(f"- **{model}** ({base_model}): {note}")

    columns = ["model", *COMPARISON_COLUMNS]
    comparison = pd.concat(comparisons, ignore_index=True).reindex(columns=columns)
    comparison["protocol"] = protocol
    write_atomic(outputs["comparison"], comparison.to_csv(index=False))
    write_atomic(
        outputs["comparison_md"],
        "\n".join(notes)
        + "\n\n"
        + (
            to_markdown(comparison)
            if len(comparison)
            else "No cell of this study matches one the paper reports.\n"
        ),
    )
