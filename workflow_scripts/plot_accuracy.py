"""Plot few-shot accuracy per dataset and method, with seed error bars (rule plot_fewshot)."""

import pandas as pd

from clsrl.aggregate import fewshot_rows
from clsrl.plots import plot_accuracy_bars
from clsrl.workflow import job_log

sm = snakemake  # injected by Snakemake's script directive
with job_log(sm.log[0]):
    long = pd.read_csv(sm.input[0])
    plot_accuracy_bars(fewshot_rows(long), list(sm.params.targets), sm.output[0])
