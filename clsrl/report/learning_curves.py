"""Steadier measures of GRPO learning than the end accuracy, read from a run's `log_history.csv`:
how much the training accuracy reward rose, and how many optimizer steps its running mean took to
reach a threshold. The toy-world tests and `bench/toy_study.py` use the same ones.

>>> history = pd.DataFrame({"step": range(1, 9), "epoch": [0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4],
...                         "reward": [0.0, 0.2, 0.2, 0.4, 0.4, 0.6, 0.8, 1.0]})
>>> round(reward_gain(history, "reward"), 2), steps_to_reach(history, "reward", 0.5, window=2)
(0.8, 6)
"""

from __future__ import annotations

import math

import pandas as pd

# The toy world's threshold: a running mean over WINDOW steps of the accuracy reward of THRESHOLD.
THRESHOLD = 0.45
WINDOW = 32
ACCURACY_REWARD_COLUMNS = {
    "cls-rl": "rewards/thinking_accuracy/mean",
    "no-thinking": "rewards/no_thinking_accuracy/mean",
}


def _epoch_of_each_step(history: pd.DataFrame) -> pd.Series:
    """1 for a step in the first epoch, 2 in the second, and so on."""
    return history["epoch"].apply(lambda epoch: math.ceil(epoch - 1e-9)).reset_index(drop=True)


def reward_gain(history: pd.DataFrame, column: str) -> float:
    """Mean of `column` over the last epoch minus its mean over the first."""
    reward = history[column].reset_index(drop=True)
    epochs = _epoch_of_each_step(history)
    return float(reward[epochs == epochs.max()].mean() - reward[epochs == epochs.min()].mean())


def steps_to_reach(
    history: pd.DataFrame, column: str, threshold: float = THRESHOLD, window: int = WINDOW
) -> int | None:
    """The first optimizer step at which the mean of `column` over the last `window` steps is
    `threshold` or more; None if it never is."""
    running = history[column].reset_index(drop=True).rolling(window, min_periods=window).mean()
    reached = running[running >= threshold]
    return int(history["step"].iloc[reached.index[0]]) if len(reached) else None
