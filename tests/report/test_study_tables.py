"""Base-to-new, cross-dataset and paper-comparison tables on hand-made metrics."""

import pandas as pd
import pytest

from clsrl.report.aggregate import fewshot_table
from clsrl.report.paper import compare_with_paper, comparison_note
from clsrl.report.tables import base2new_table, by_model, crossdataset_matrices, rl_difference
from clsrl.views import View


def long_table(rows, model="tiny"):
    """The long table of these runs of one base model, their views as fields (as metrics.json
    stores them)."""
    records = []
    for method, train, shots, seed, style, target, value in rows:
        trained, tested = View.parse(train) if train else View(None), View.parse(target)
        records.append(
            {
                "model": model,
                "method": method,
                "train_dataset": train,
                "train_base": trained.dataset,
                "train_half": trained.half,
                "shots": shots,
                "seed": seed,
                "style": style,
                "target": target,
                "target_dataset": tested.dataset,
                "target_half": tested.half,
                "lenient_accuracy": value,
            }
        )
    return pd.DataFrame(records)


ZERO = [  # the base model: 40 on A, 20 on B, in both styles; halves of A: 50 base, 30 new
    ("zero-shot", None, 0, None, style, target, value)
    for style in ("no-thinking", "thinking")
    for target, value in (("A", 40.0), ("B", 20.0), ("A.base", 50.0), ("A.new", 30.0))
]


def test_base2new_h_per_dataset_and_h_of_the_averages():
    rows = ZERO + [
        ("no-thinking", "A.base", 4, 1, "no-thinking", "A.base", 80.0),
        ("no-thinking", "A.base", 4, 1, "no-thinking", "A.new", 60.0),
        ("no-thinking", "A.base", 4, 2, "no-thinking", "A.base", 90.0),
        ("no-thinking", "A.base", 4, 2, "no-thinking", "A.new", 40.0),
        ("no-thinking", "A", 4, 1, "no-thinking", "A", 99.0),  # a few-shot model: not here
    ]
    table = base2new_table(long_table(rows), ["A"], "lenient_accuracy")
    row = table[(table["dataset"] == "A") & (table["method"] == "no-thinking")].iloc[0]
    assert (row["base"], row["new"]) == (85.0, 50.0)  # means over seeds 1 and 2
    assert row["hm"] == pytest.approx(2 * 85 * 50 / 135)
    assert (row["base_min"], row["base_max"], row["seeds"]) == (80.0, 90.0, 2)
    assert pd.isna(row["base_t95"])  # 2 seeds: both values, no interval
    zero = table[(table["dataset"] == "A") & (table["style"] == "thinking")].iloc[0]
    assert (zero["base"], zero["new"]) == (50.0, 30.0)
    assert list(table["dataset"]) == ["A", "A", "A", "Average", "Average", "Average"]


def test_base2new_average_h_is_computed_from_averaged_base_and_new():
    rows = [
        ("m", f"{d}.base", 4, 1, "no-thinking", f"{d}.{half}", value)
        for d, half, value in (
            ("A", "base", 100.0),
            ("A", "new", 0.0),
            ("B", "base", 0.0),
            ("B", "new", 100.0),
        )
    ]
    table = base2new_table(long_table(rows), ["A", "B"], "lenient_accuracy")
    average = table[table["dataset"] == "Average"].iloc[0]
    assert (average["base"], average["new"], average["hm"]) == (50.0, 50.0, 50.0)
    assert table[table["dataset"] == "A"].iloc[0]["hm"] == 0.0  # while each dataset's H is 0


def test_crossdataset_delta_against_zero_shot_in_the_methods_style():
    rows = ZERO + [
        ("no-thinking", "A", 4, 1, "no-thinking", "A", 70.0),
        ("no-thinking", "A", 4, 1, "no-thinking", "B", 30.0),
        ("no-thinking", "B", 4, 1, "no-thinking", "A", 35.0),
        ("no-thinking", "B", 4, 1, "no-thinking", "B", 60.0),
        ("cls-rl", "A", 4, 1, "thinking", "A", 60.0),
        ("cls-rl", "A", 4, 1, "thinking", "B", 20.0),
        ("cls-rl", "B", 4, 1, "thinking", "A", 40.0),
        ("cls-rl", "B", 4, 1, "thinking", "B", 30.0),
    ]
    matrices = crossdataset_matrices(long_table(rows), ["A", "B"], ["A", "B"], "lenient_accuracy")
    delta = matrices["no-thinking"]["delta"]
    assert delta.loc["A"].tolist() == [30.0, 10.0, 20.0]  # A, B, Average
    assert delta.loc["B"].tolist() == [-5.0, 40.0, 17.5]
    assert matrices["cls-rl"]["accuracy"].loc["B", "A"] == 40.0
    difference = rl_difference(matrices)
    assert difference.loc["B", "B"] == 30.0  # (60 - 20) - (30 - 20)


def test_comparison_uses_cells_the_paper_reports_and_averages_only_when_complete():
    rows = ZERO + [("no-thinking", "EuroSAT", 4, 1, "no-thinking", "EuroSAT", 60.0)]
    rows = [r[:5] + ("EuroSAT" if r[5] == "A" else r[5],) + r[6:] for r in rows]
    long = long_table(rows)
    fewshot = fewshot_table(long, ["EuroSAT"], "lenient_accuracy")
    comparison = compare_with_paper(fewshot, base2new_table(long, [], "lenient_accuracy"), {})
    cell = comparison[(comparison["method"] == "no-thinking")].iloc[0]
    assert (cell["column"], cell["ours"], cell["paper"]) == ("EuroSAT", 60.0, 58.02)
    assert cell["difference"] == pytest.approx(60.0 - 58.02)
    assert "Average" not in set(comparison["column"])  # one dataset is not the paper's average


def test_the_note_says_when_model_or_data_are_not_the_papers():
    assert comparison_note("Qwen/Qwen2-VL-2B-Instruct", ["EuroSAT"], ["EuroSAT"]).startswith(
        "Model and datasets are the paper's"
    )
    note = comparison_note("builtin:tiny-qwen2-vl", ["demo-colours"], ["EuroSAT"])
    assert note.startswith("NOT the paper's setup") and "demo-colours" in note


def test_base2new_rows_and_averages_per_base_model():
    rows = [("m", "A.base", 4, 1, "no-thinking", f"A.{half}", 80.0) for half in ("base", "new")]
    second = [row[:6] + (40.0,) for row in rows]
    long = pd.concat([long_table(rows, "z-model"), long_table(second, "a-model")])
    table = base2new_table(long, ["A"], "lenient_accuracy")
    assert table[["model", "dataset"]].values.tolist() == [
        ["z-model", "A"],
        ["z-model", "Average"],
        ["a-model", "A"],
        ["a-model", "Average"],
    ]
    assert table["hm"].tolist() == [80.0, 80.0, 40.0, 40.0]


def test_cross_dataset_matrices_are_made_per_base_model():
    rows = ZERO + [("no-thinking", "A", 4, 1, "no-thinking", "A", 70.0)]
    weaker = [row[:6] + (row[6] / 2,) for row in rows]
    long = pd.concat([long_table(rows, "z-model"), long_table(weaker, "a-model")])
    per_model = {
        model: crossdataset_matrices(own, ["A"], ["A"], "lenient_accuracy")
        for model, own in by_model(long).items()
    }
    assert list(per_model) == ["z-model", "a-model"]
    assert per_model["z-model"]["no-thinking"]["delta"].loc["A", "A"] == 30.0  # 70 - 40
    assert per_model["a-model"]["no-thinking"]["delta"].loc["A", "A"] == 15.0  # 35 - 20


def test_a_study_without_base_to_new_gives_an_empty_table():
    table = base2new_table(long_table(ZERO[:2]), ["A"], "lenient_accuracy")
    assert table.empty and "hm" in table.columns
