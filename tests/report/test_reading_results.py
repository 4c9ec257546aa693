"""Tables and figures a reader cannot misread, checked on fabricated predictions whose answer is
known: a method difference whose sign a difference of gains would flip, a collapsed model, two
seeds with equal accuracy and different answers, degenerate outputs the lenient metric counts as
correct, reward curves that compare like with like, one colour scale for heatmaps side by side."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from clsrl.evaluation.evaluate import score_output, summarize
from clsrl.report import plots
from clsrl.report.aggregate import (
    COLLAPSED_MARK,
    collect_metrics,
    fewshot_table,
    seed_agreement_table,
    seed_markdown,
)
from clsrl.report.tables import crossdataset_matrices, rl_difference

SHAPES = ["circle", "square", "plus_sign", "star", "triangle", "heart"]


def evaluation(folder, method, style, target, outputs, truths, seed=None, train=None):
    """Write an evaluation's predictions and metrics as clsrl.evaluation.evaluate does; its metrics
    path."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for index, (output, truth) in enumerate(zip(outputs, truths, strict=True)):
        question = {"classname": truth, "options": SHAPES}
        row = {"image": f"test/{index:03d}.png", "label": 0, "classname": truth, "prompt": ""}
        rows.append({**row, **score_output(output, question, "paper")})
    (folder / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    metrics = {
        **summarize(rows),
        "model": "toy",
        "base_model": "builtin:toy",
        "method": method,
        "train_dataset": train,
        "shots": 4 if seed else 0,
        "seed": seed,
        "style": style,
        "target": target,
    }
    (folder / "metrics.json").write_text(json.dumps(metrics))
    return folder / "metrics.json"


def test_a_collapsed_model_is_marked_and_its_top_answer_named(tmp_path):
    truths = [SHAPES[i % 6] for i in range(48)]
    collapsed = ["plus_sign"] * 45 + ["circle", "square", "star"]
    healthy = [SHAPES[(i + (i % 2)) % 6] for i in range(48)]  # right on half the items
    paths = [
        evaluation(
            tmp_path / f"s{seed}",
            "cls-rl",
            "no-thinking",
            "shapes",
            outputs,
            truths,
            seed=seed,
            train="shapes",
        )
        for seed, outputs in ((1, collapsed), (2, healthy))
    ]
    long = collect_metrics(paths)
    first = long[long["seed"] == 1].iloc[0]
    assert (first["top_answer"], first["top_answer_share"]) == ("plus_sign", 45 / 48)
    assert bool(first["collapsed"]) and not bool(long[long["seed"] == 2].iloc[0]["collapsed"])
    assert fewshot_table(long, ["shapes"], "lenient_accuracy")["shapes_collapsed"].tolist() == [
        True
    ]
    markdown = seed_markdown(long, ["shapes"], "lenient_accuracy")
    assert f"{COLLAPSED_MARK} |" in markdown.splitlines()[2]  # the cell of the shapes column
    assert "collapsed" in markdown


def test_two_seeds_with_equal_accuracy_and_different_answers(tmp_path):
    colours = [f"colour{i}" for i in range(16)]
    truths = [colours[i % 16] for i in range(128)]

    def answers(right: range, wrong: str) -> list[str]:
        return [truths[i] if i in right else wrong for i in range(128)]

    paths = [
        evaluation(tmp_path / f"s{seed}", "nt", "no-thinking", "colours", answers(right, wrong),
                   truths, seed=seed, train="colours")
        for seed, right, wrong in ((1, range(0, 90), "x"), (2, range(17, 107), "y"))
    ]  # fmt: skip
    long = collect_metrics(paths)
    assert long["lenient_accuracy"].tolist() == [90 / 128 * 100] * 2
    markdown = seed_markdown(long, ["colours"], "lenient_accuracy")
    assert "70.31, 70.31" in markdown and "±" not in markdown  # both values, no "± 0.00"
    agreement = seed_agreement_table(long).iloc[0]
    assert agreement["answers_alike"] == pytest.approx(73 / 128)  # right together on 73 only


def test_degenerate_outputs_that_the_lenient_metric_counts_are_counted(tmp_path):
    truths = ["yellow", "blue", "red", "green"]
    outputs = [
        "<think>yellow</think><answer>yellowyellowyellow</answer>",  # lenient: right; repeated
        '<think>The photo shows "blue',  # cut off in the thinking: no answer tag
        "<think>one of these</think><answer>red, green, blue</answer>",  # the options echoed
        "<think>green</think><answer>green</answer>",
    ]
    path = evaluation(
        tmp_path / "e", "m", "thinking", "colours", outputs, truths, seed=1, train="colours"
    )
    row = collect_metrics([path]).iloc[0]
    assert row["lenient_accuracy"] > row["strict_accuracy"]
    assert (row["repeated_name_share"], row["no_answer_share"]) == (0.25, 0.25)
    assert row["echoed_options_share"] == 0.25 and row["degenerate_share"] == 0.75


def matrices_for(zero_shot: dict[str, float], trained: dict[str, float]) -> pd.DataFrame:
    """A long table: zero-shot accuracy on P per style, and each method trained on C tested on P."""
    rows = [
        {
            "method": "zero-shot",
            "style": style,
            "target": "P",
            "train_dataset": None,
            "lenient_accuracy": value,
        }
        for style, value in zero_shot.items()
    ] + [
        {
            "method": method,
            "style": style,
            "target": "P",
            "train_dataset": "C",
            "lenient_accuracy": value,
        }
        for method, (style, value) in trained.items()
    ]
    long = pd.DataFrame(rows).assign(target_half=None, train_half=None)
    return crossdataset_matrices(long, ["C"], ["P"], "lenient_accuracy")


def test_the_method_difference_is_of_accuracies_where_a_difference_of_gains_flips_its_sign():
    matrices = matrices_for(
        {"thinking": 1.04, "no-thinking": 7.29},  # the two zero-shot baselines differ
        {"cls-rl": ("thinking", 7.29), "no-thinking": ("no-thinking", 11.46)},
    )
    gains = matrices["no-thinking"]["delta"] - matrices["cls-rl"]["delta"]
    assert gains.loc["C", "P"] == pytest.approx(-2.08)  # what the old map showed
    difference = rl_difference(matrices)
    assert difference.loc["C", "P"] == pytest.approx(4.17)  # No-Thinking is 4.17 points higher


CLOSE = plots.plt.close  # pyplot's own, before a test keeps the figures open


def kept_figures(monkeypatch) -> list:
    """The figures clsrl.report.plots closes during the test, kept open to be read."""
    figures = []
    monkeypatch.setattr(plots.plt, "close", figures.append)
    return figures


def test_heatmaps_side_by_side_share_one_symmetric_scale(tmp_path, monkeypatch):
    small = pd.DataFrame({"P": [2.0]}, index=["C"])
    large = pd.DataFrame({"P": [-40.0]}, index=["C"])
    limit = plots.shared_limit([small, large])
    assert limit == 40.0
    figures = kept_figures(monkeypatch)
    plots.plot_delta_heatmap(small, "small", tmp_path / "a.png", limit)
    plots.plot_delta_heatmap(large, "large", tmp_path / "b.png", limit)
    for figure in figures:
        mesh = figure.axes[0].collections[0]
        assert (mesh.norm.vmin, mesh.norm.vmax) == (-40.0, 40.0)
        assert any(text.get_text() in ("2.0", "-40.0") for text in figure.axes[0].texts)
        CLOSE(figure)


def test_reward_curves_put_the_accuracy_rewards_on_one_axis_the_format_and_kl_apart(
    tmp_path, monkeypatch
):
    steps = list(range(1, 41))
    cls_rl = pd.DataFrame(
        {
            "step": steps,
            "rewards/thinking_format/mean": [1.0] * 40,
            "rewards/thinking_accuracy/mean": [0.2] * 40,
            "kl": [0.1] * 39 + [11.7],  # a spike at the last step
        }
    )
    no_thinking = pd.DataFrame(
        {"step": steps, "rewards/no_thinking_accuracy/mean": [0.6] * 40, "kl": [0.2] * 40}
    )
    histories = {
        f"results/models/toy/{method}/colours/4shot/seed{seed}": history
        for method, history in (("cls-rl", cls_rl), ("no-thinking", no_thinking))
        for seed in (1, 2)
    }
    figures = kept_figures(monkeypatch)
    plots.plot_reward_curves(histories, tmp_path / "rewards.png")
    accuracy_axis, format_axis, kl_axis = figures[0].axes[:3]
    assert accuracy_axis.get_ylabel() == "accuracy reward"
    assert format_axis.get_ylabel() == "format reward"
    labels = {line.get_label() for line in accuracy_axis.get_lines()}
    assert {"cls-rl, seed 1", "no-thinking, seed 2"} <= labels  # both methods, one axis
    assert {line.get_label() for line in format_axis.get_lines() if "seed" in line.get_label()} == {
        "cls-rl, seed 1",
        "cls-rl, seed 2",
    }
    running = [line for line in accuracy_axis.get_lines() if line.get_label() == "cls-rl, seed 1"]
    assert running[0].get_ydata().max() == pytest.approx(0.2)  # 0-1, never format + accuracy
    assert "running mean over 4 steps" in figures[0]._suptitle.get_text()  # 40 steps / 10
    assert kl_axis.get_ylabel() == "KL to the base model"
    faint = [line.get_ydata().max() for line in kl_axis.get_lines() if line.get_alpha()]
    assert max(faint) == pytest.approx(11.7)  # the spike is drawn, not averaged away
    CLOSE(figures[0])
