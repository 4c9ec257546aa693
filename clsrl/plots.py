"""Figures (seaborn): accuracy per dataset, one bar per method and prompt style.

Uses the non-interactive Agg backend, so figures are written on machines without a display.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from clsrl.aggregate import METRICS  # noqa: E402

FIGURE_DPI = 150


def plot_accuracy_bars(long: pd.DataFrame, targets: list[str], path: str | Path) -> None:
    """Bars of accuracy per target dataset, hue = method / prompt style, one panel per metric
    (and a row of panels per base model when the study has several).

    Error bars show the standard deviation over seeds where a run has several.
    """
    data = long.melt(
        id_vars=["model", "method", "style", "target", "seed"],
        value_vars=list(METRICS),
        var_name="metric",
        value_name="accuracy (%)",
    )
    data["metric"] = data["metric"].str.removesuffix("_accuracy")
    data["method / style"] = data["method"] + " / " + data["style"]
    grid = sns.catplot(
        data=data,
        kind="bar",
        x="target",
        y="accuracy (%)",
        hue="method / style",
        col="metric",
        row="model" if data["model"].nunique() > 1 else None,
        order=targets,
        errorbar="sd",
        height=3.5,
        aspect=1.3,
    )
    grid.set(ylim=(0, 100))
    grid.set_xticklabels(rotation=30, ha="right")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    grid.savefig(path, dpi=FIGURE_DPI)
    plt.close(grid.figure)


def plot_reward_curves(histories: dict[str, pd.DataFrame], path: str | Path) -> None:
    """Mean training reward per step, one line per run, one panel per training dataset (and a
    row of panels per base model when the study has several).

    `histories` maps a run's model folder (results/models/MODEL/METHOD/DATASET/Kshot/seedS) to
    its log_history table; seeds of a method are drawn as one line with a band.
    """
    frames = []
    for run, history in histories.items():
        if "reward" not in history:
            continue  # SFT logs no reward
        model, method, dataset, _, seed = Path(run).parts[-5:]
        run_facts = {"model": model, "method": method, "dataset": dataset, "seed": seed}
        frames.append(history[["step", "reward"]].assign(**run_facts))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if not frames:
        figure, axis = plt.subplots(figsize=(4, 2))
        axis.text(0.5, 0.5, "no GRPO run in this study", ha="center", va="center")
        axis.set_axis_off()
        figure.savefig(path, dpi=FIGURE_DPI)
        plt.close(figure)
        return
    data = pd.concat(frames, ignore_index=True)
    grid = sns.relplot(
        data=data,
        kind="line",
        x="step",
        y="reward",
        hue="method",
        col="dataset",
        row="model" if data["model"].nunique() > 1 else None,
        errorbar="sd",
        height=3,
        aspect=1.2,
        facet_kws={"sharex": False},
    )
    grid.savefig(path, dpi=FIGURE_DPI)
    plt.close(grid.figure)


def plot_delta_heatmap(matrix: pd.DataFrame, title: str, path: str | Path) -> None:
    """A cross-dataset heatmap like the paper's: rows = fine-tuning dataset, columns = test
    dataset, diverging palette centred at 0, values annotated."""
    rows, columns = matrix.shape
    figure, axis = plt.subplots(figsize=(max(6.0, 3.0 + 0.8 * columns), max(3.5, 2.0 + 0.6 * rows)))
    limit = max(1.0, float(matrix.abs().max().max()))  # symmetric, so 0 is the neutral colour
    sns.heatmap(
        matrix.astype(float),
        vmin=-limit,
        vmax=limit,
        annot=True,
        fmt=".1f",
        cmap="RdBu_r",
        center=0.0,
        linewidths=0.5,
        cbar_kws={"label": "accuracy change (points)"},
        ax=axis,
    )
    axis.set_xlabel("test dataset")
    axis.set_ylabel("fine-tuning dataset")
    axis.set_title(title)
    figure.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=FIGURE_DPI)
    plt.close(figure)
