"""Plot the training reward curves of every GRPO run (rule plot_reward_curves)."""

from pathlib import Path

import pandas as pd

from clsrl.joblog import job_log
from clsrl.report.plots import plot_reward_curves
from clsrl.training.train import LOG_HISTORY_FILE

sm = snakemake  # injected by Snakemake's script directive
with job_log(sm.log[0]):
    histories = {run: pd.read_csv(Path(run) / LOG_HISTORY_FILE) for run in sm.input}
    plot_reward_curves(histories, sm.output[0])
