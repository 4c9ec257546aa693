"""Base-to-new table, cross-dataset matrices and heatmaps, and the comparison with the paper
(rule study_tables)."""

from pathlib import Path

import pandas as pd

from clsrl.io import write_atomic
from clsrl.joblog import job_log
from clsrl.report.aggregate import fewshot_table, to_markdown
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

sm = snakemake  # injected by Snakemake's script directive
METRIC = "lenient_accuracy"  # the paper's metric; the long table holds the strict one too


def write(table: pd.DataFrame, stem: Path, index: bool, note: str, empty_note: str = "") -> None:
    """The table as CSV, and as Markdown followed by `note` (what a cell is, n, what a seed
    varies)."""
    write_atomic(stem.with_suffix(".csv"), table.to_csv(index=index))
    markdown = to_markdown(table.reset_index() if index else table) + note
    write_atomic(stem.with_suffix(".md"), markdown if len(table) or not empty_note else empty_note)


with job_log(sm.log[0]):
    long = pd.read_csv(sm.input[0])
    datasets, targets = list(sm.params.datasets), list(sm.params.targets)
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
        (base2new, sm.output.base2new),
        (base2new_table(long, datasets, "strict_accuracy"), sm.output.base2new_strict),
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
        folder = Path(sm.output.crossdataset) / model
        folder.mkdir(parents=True, exist_ok=True)
        by_metric = {  # lenient (the paper's metric) and strict, side by side
            metric: crossdataset_matrices(rows, datasets, targets, metric, sm.params.variants)
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
        base_model = sm.params.base_models[model]
        note = comparison_note(base_model, datasets, list(sm.params.benchmarks), sm.params.protocol)
        notes.append(f"- **{model}** ({base_model}): {note}")

    columns = ["model", *COMPARISON_COLUMNS]
    comparison = pd.concat(comparisons, ignore_index=True).reindex(columns=columns)
    comparison["protocol"] = sm.params.protocol
    write_atomic(sm.output.comparison, comparison.to_csv(index=False))
    write_atomic(
        sm.output.comparison_md,
        "\n".join(notes)
        + "\n\n"
        + (
            to_markdown(comparison)
            if len(comparison)
            else "No cell of this study matches one the paper reports.\n"
        ),
    )
