"""Figures (seaborn, matplotlib): accuracy per dataset (a bar per method and prompt style), GRPO
reward curves (a panel per reward measure), cross-dataset heatmaps (one colour scale per figure
set). Each says what its lines or colours are.

Uses the non-interactive Agg backend, so figures are written on machines without a display.
"""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from clsrl.report.aggregate import METRICS  # noqa: E402
from clsrl.report.intervals import t95_half_width  # noqa: E402
from clsrl.report.learning_curves import WINDOW  # noqa: E402
from clsrl.training.rewards import REWARD_MEASURES  # noqa: E402

FIGURE_DPI = 150


def save_figure(figure, path: str | Path, **options) -> None:
    """Write `figure` to `path` (its folder made) at FIGURE_DPI, and free it."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=FIGURE_DPI, **options)
    plt.close(figure)


def plot_accuracy_bars(long: pd.DataFrame, targets: list[str], path: str | Path) -> None:
    """Bars of accuracy per target dataset, hue = method / prompt style, one panel per metric
    (and a row of panels per base model when the study has several).

    A bar is the mean over seeds; its line spans both values of 2 seeds, or the 95% t-interval
    of 3 or more (`seed_errorbar`); the title says which, and n.
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
        errorbar=seed_errorbar,
        height=3.5,
        aspect=1.3,
    )
    grid.set(ylim=(0, 100))
    grid.set_xticklabels(rotation=30, ha="right")
    seeds = sorted(
        set(
            long.loc[long["method"] != "zero-shot"]
            .groupby(["model", "method", "style", "target"], dropna=False)
            .size()
        )
    )
    kinds = "; ".join(
        f"the {n} seeds' values" if n == 2 else f"the 95% t-interval over {n} seeds"
        for n in seeds
        if n > 1
    )
    grid.figure.suptitle(
        f"Bars: mean over seeds; lines span {kinds or 'nothing (one run)'}", y=1.03
    )
    save_figure(grid.figure, path, bbox_inches="tight")  # as seaborn's grid.savefig


REWARD_COLUMN = re.compile(r"rewards/(?P<function>.+)/mean")


KL_COLUMN = "kl"  # GRPO's KL divergence to the base model, per step (0 when beta is 0)


def reward_frames(histories: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per (run, step, reward function): the model, method, dataset, seed, the function's
    measure (clsrl.training.rewards.REWARD_MEASURES: accuracy or format) and its mean reward
    (`value`); and the run's KL to the base model as measure `kl` (a spike: a step that moved it
    far)."""
    frames = []
    for run, history in histories.items():
        model, method, dataset, _, seed = Path(run).parts[-5:]
        rewards = [c for c in history.columns if REWARD_COLUMN.fullmatch(c)]
        if not rewards:
            continue  # SFT logs no reward
        for column in [*rewards, *([KL_COLUMN] if KL_COLUMN in history else [])]:
            match = REWARD_COLUMN.fullmatch(column)
            function = match["function"] if match else KL_COLUMN
            frames.append(
                pd.DataFrame(
                    {
                        "step": history["step"],
                        "value": history[column],
                        "function": function,
                        "measure": REWARD_MEASURES.get(function, function),
                        "model": model,
                        "method": method,
                        "dataset": dataset,
                        "seed": int(seed.removeprefix("seed")),
                    }
                )
            )
    columns = ["step", "value", "function", "measure", "model", "method", "dataset", "seed"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def running_window(steps: int) -> int:
    """The running-mean window of a reward curve: a tenth of the run, 1 to WINDOW steps."""
    return max(1, min(WINDOW, steps // 10))


def seed_errorbar(values) -> tuple[float, float]:
    """An accuracy bar's line: min to max of 2 values, the 95% t-interval of 3 or more."""
    values = list(values)
    half = t95_half_width(values)
    if half is None:
        return min(values), max(values)
    mean = sum(values) / len(values)
    return mean - half, mean + half


def plot_reward_curves(histories: dict[str, pd.DataFrame], path: str | Path) -> None:
    """GRPO training rewards per optimizer step: one panel per reward measure (the accuracy
    reward of every method on one axis, 0 to 1; the format reward apart; the KL to the base
    model last, on its own scale) and training dataset (a row of panels per measure and base
    model); per run (method and seed) its running mean over a stated window, and its per-step
    values faint.

    `histories` maps a run's model folder (results/models/MODEL/METHOD/DATASET/Kshot/seedS) to
    its log_history table.
    """
    data = reward_frames(histories)
    if data.empty:
        figure, axis = plt.subplots(figsize=(4, 2))
        axis.text(0.5, 0.5, "no GRPO run in this study", ha="center", va="center")
        axis.set_axis_off()
        save_figure(figure, path)
        return
    panel_rows = list(dict.fromkeys(zip(data["measure"], data["model"], strict=True)))
    order = {"accuracy": 0, KL_COLUMN: 2}  # accuracy first, KL last, the others between
    panel_rows.sort(key=lambda row: (order.get(row[0], 1), row[0]))
    datasets = list(dict.fromkeys(data["dataset"]))
    methods = list(dict.fromkeys(data["method"]))
    colours = dict(zip(methods, sns.color_palette(n_colors=len(methods)), strict=True))
    seeds = sorted(set(data["seed"]))
    styles = dict(zip(seeds, ["-", "--", ":", "-."] * len(seeds), strict=False))
    steps = data.groupby(["model", "method", "dataset", "seed"])["step"].nunique()
    window = running_window(int(steps.min()))  # a tenth of the shortest run
    figure, axes = plt.subplots(
        len(panel_rows),
        len(datasets),
        figsize=(3.6 * len(datasets) + 2.0, 2.8 * len(panel_rows) + 0.6),
        squeeze=False,
        sharey="row",
        layout="constrained",
    )
    several_models = data["model"].nunique() > 1
    for row, (measure, model) in enumerate(panel_rows):
        for column, dataset in enumerate(datasets):
            axis = axes[row][column]
            shown = data[
                (data["measure"] == measure)
                & (data["model"] == model)
                & (data["dataset"] == dataset)
            ]
            for (method, seed), run in shown.groupby(["method", "seed"], sort=False):
                run = run.sort_values("step")
                colour = colours[method]
                axis.plot(run["step"], run["value"], color=colour, alpha=0.15, linewidth=0.8)
                axis.plot(
                    run["step"],
                    run["value"].rolling(window, min_periods=1).mean(),
                    color=colour,
                    linestyle=styles[seed],
                    label=f"{method}, seed {seed}",
                )
            axis.set_title(dataset if row == 0 else "")
            axis.set_xlabel("optimizer step")
            what = "KL to the base model" if measure == KL_COLUMN else f"{measure} reward"
            ylabel = what + (f"\n{model}" if several_models else "")
            axis.set_ylabel(ylabel if column == 0 else "")
            if measure != KL_COLUMN:
                axis.set_ylim(-0.05, 1.05)
    handles, labels = axes[0][0].get_legend_handles_labels()
    for axis in axes.flat:
        more_handles, more_labels = axis.get_legend_handles_labels()
        for handle, label in zip(more_handles, more_labels, strict=True):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    figure.legend(handles, labels, loc="outside right center", fontsize="small")
    figure.suptitle(
        f"GRPO training rewards and KL, a line per run: running mean over {window} steps\n"
        "(faint: each step's value, a mean over its completions)"
    )
    save_figure(figure, path, bbox_inches="tight")


def shared_limit(matrices: list[pd.DataFrame]) -> float:
    """One symmetric colour limit for heatmaps shown side by side: the largest |value| (at least
    1), so one colour means one change in every one of them."""
    values = [float(m.abs().max().max()) for m in matrices if m.size and m.notna().any().any()]
    return max([1.0, *values])


def plot_delta_heatmap(
    matrix: pd.DataFrame,
    title: str,
    path: str | Path,
    limit: float | None = None,
    label: str = "accuracy change (points)",
) -> None:
    """A cross-dataset heatmap like the paper's: rows = fine-tuning dataset, columns = test
    dataset, diverging palette centred at 0 from -limit to +limit (`shared_limit` of the
    heatmaps shown together; this matrix's own by default), values printed in the cells."""
    rows, columns = matrix.shape
    figure, axis = plt.subplots(figsize=(max(6.0, 3.0 + 0.8 * columns), max(3.5, 2.0 + 0.6 * rows)))
    limit = limit if limit is not None else shared_limit([matrix])
    sns.heatmap(
        matrix.astype(float),
        vmin=-limit,
        vmax=limit,
        annot=True,
        fmt=".1f",
        cmap="RdBu_r",
        center=0.0,
        linewidths=0.5,
        cbar_kws={"label": f"{label}; scale ±{limit:.1f}"},
        ax=axis,
    )
    axis.set_xlabel("test dataset")
    axis.set_ylabel("fine-tuning dataset")
    axis.set_title(title)
    figure.tight_layout()
    save_figure(figure, path)
