"""Plot accuracy per dataset and model (rule plot_zero_shot)."""

import pandas as pd

from clsrl.plots import plot_accuracy_bars
from clsrl.workflow import job_log

sm = snakemake  # injected by Snakemake's script directive
with job_log(sm.log[0]):
    plot_accuracy_bars(pd.read_csv(sm.input[0]), list(sm.params.targets), sm.output[0])
