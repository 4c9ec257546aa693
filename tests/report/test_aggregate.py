"""Aggregation on hand-made metrics with known answers, and the figure."""

import json

import pandas as pd
import pytest

from clsrl.report.aggregate import (
    collect_metrics,
    fewshot_table,
    seed_markdown,
    to_markdown,
    zero_shot_table,
)
from clsrl.report.plots import plot_accuracy_bars

TARGETS = ["b-set", "a-set"]  # config order, not alphabetical


def _metrics(tmp_path, style, target, lenient, strict, seed=None, method="zero-shot", model="tiny"):
    path = tmp_path / f"{model}-{method}-{style}-{target}-{seed}.json"
    record = {
        "model": model,
        "base_model": f"builtin:{model}",
        "method": method,
        "train_dataset": None,
        "shots": 0,
        "seed": seed,
        "style": style,
        "target": target,
        "n": 10,
        "lenient_accuracy": lenient,
        "strict_accuracy": strict,
    }
    path.write_text(json.dumps(record))
    return path


@pytest.fixture
def long(tmp_path):
    paths = [
        _metrics(tmp_path, "thinking", "a-set", 40.0, 30.0),
        _metrics(tmp_path, "thinking", "b-set", 60.0, 50.0),
        _metrics(tmp_path, "no-thinking", "a-set", 80.0, 80.0),
        _metrics(tmp_path, "no-thinking", "b-set", 20.0, 10.0),
    ]
    return collect_metrics(paths)


def test_zero_shot_table_values_order_and_average(long):
    table = zero_shot_table(long, TARGETS)
    assert list(table.columns) == [
        *("model", "method", "style", "metric"),
        *("b-set", "a-set", "Average"),
    ]
    row = table[(table["style"] == "thinking") & (table["metric"] == "lenient")].iloc[0]
    assert (row["b-set"], row["a-set"], row["Average"]) == (60.0, 40.0, 50.0)
    row = table[(table["style"] == "no-thinking") & (table["metric"] == "strict")].iloc[0]
    assert row["Average"] == 45.0


def seeded(tmp_path, values: dict[int, tuple[float, float]], method="m"):
    """Metrics of `method` per seed: seed -> (a-set, b-set) lenient accuracy."""
    return collect_metrics(
        [
            _metrics(tmp_path, "no-thinking", target, value, value, seed=seed, method=method)
            for seed, pair in values.items()
            for target, value in zip(("a-set", "b-set"), pair, strict=True)
        ]
    )


def test_two_seeds_show_both_values_and_no_interval(tmp_path):
    long = seeded(tmp_path, {1: (50.0, 10.0), 2: (70.0, 30.0)})
    assert long["seed"].tolist() == [1, 1, 2, 2] and str(long["seed"].dtype) == "Int64"
    row = fewshot_table(long.assign(train_dataset=long["target"]), TARGETS, "lenient_accuracy")
    row = row.iloc[0]
    assert (row["a-set"], row["a-set_min"], row["a-set_max"], row["seeds"]) == (60, 50, 70, 2)
    assert (row["Average_min"], row["Average_max"]) == (30.0, 50.0)  # per-seed averages
    assert pd.isna(row["a-set_t95"])
    markdown = seed_markdown(long.assign(train_dataset=long["target"]), TARGETS, "lenient_accuracy")
    assert "| m | no-thinking | 10.00, 30.00 | 50.00, 70.00 | 30.00, 50.00 |" in markdown
    assert "both seeds shown (n = 2 seeds)" in markdown and "few-shot draw" in markdown


def test_three_seeds_show_the_mean_and_its_95_percent_t_interval(tmp_path):
    long = seeded(tmp_path, {1: (10.0, 0.0), 2: (12.0, 0.0), 3: (14.0, 0.0)})
    long = long.assign(train_dataset=long["target"])
    row = fewshot_table(long, TARGETS, "lenient_accuracy").iloc[0]
    assert row["a-set_t95"] == pytest.approx(4.303 * 2 / 3**0.5, abs=1e-3)  # t(0.975, 2) s/sqrt n
    assert "12.00 [7.03, 16.97]" in seed_markdown(long, TARGETS, "lenient_accuracy")


def test_markdown_rounds_and_blanks_missing():
    table = pd.DataFrame({"method": ["a"], "x": [12.3456], "y": [float("nan")]})
    assert to_markdown(table) == "| method | x | y |\n|---|---|---|\n| a | 12.35 |  |\n"


def test_figure_is_written(long, tmp_path):
    path = tmp_path / "fig" / "bars.png"
    plot_accuracy_bars(long, TARGETS, path)
    assert path.read_bytes()[:4] == b"\x89PNG" and path.stat().st_size > 10_000


@pytest.fixture
def two_models(tmp_path):
    """Zero-shot metrics of two base models, the second one first on disk's sorted order."""
    paths = [
        _metrics(tmp_path, "no-thinking", target, lenient, lenient, model=model)
        for model, scores in (("z-model", (40.0, 60.0)), ("a-model", (80.0, 90.0)))
        for target, lenient in zip(TARGETS, scores, strict=True)
    ]
    return collect_metrics(paths)


def test_each_base_model_gets_its_own_rows_in_the_studys_order(two_models):
    table = zero_shot_table(two_models, TARGETS)
    lenient = table[table["metric"] == "lenient"]
    assert lenient["model"].tolist() == ["z-model", "a-model"]  # as listed, not alphabetical
    assert lenient["Average"].tolist() == [50.0, 85.0]
    assert set(two_models["base_model"]) == {"builtin:z-model", "builtin:a-model"}


def test_the_figure_has_a_row_of_panels_per_base_model(two_models, tmp_path, monkeypatch):
    import seaborn as sns

    grids = []
    catplot = sns.catplot
    monkeypatch.setattr(sns, "catplot", lambda **kw: grids.append(catplot(**kw)) or grids[-1])
    plot_accuracy_bars(two_models, TARGETS, tmp_path / "bars.png")
    assert grids[0].axes.shape == (2, 2)  # rows: base models; columns: lenient, strict
