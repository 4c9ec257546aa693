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
    """Bars of accuracy per target dataset, hue = method / prompt style, one panel per metric.

    Error bars show the standard deviation over seeds where a run has several.
    """
    data = long.melt(
        id_vars=["method", "style", "target", "seed"],
        value_vars=list(METRICS),
        var_name="metric",
        value_name="accuracy (%)",
    )
    data["metric"] = data["metric"].str.removesuffix("_accuracy")
    data["model"] = data["method"] + " / " + data["style"]
    grid = sns.catplot(
        data=data,
        kind="bar",
        x="target",
        y="accuracy (%)",
        hue="model",
        col="metric",
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
