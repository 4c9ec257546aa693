"""Plot few-shot accuracy per dataset and method, with seed error bars (rule plot_fewshot)."""

import pandas as pd

from clsrl.joblog import job_log
from clsrl.report.aggregate import fewshot_rows
from clsrl.report.plots import plot_accuracy_bars

sm = snakemake  # injected by Snakemake's script directive
with job_log(sm.log[0]):
    long = pd.read_csv(sm.input[0])
    plot_accuracy_bars(fewshot_rows(long), list(sm.params.targets), sm.output[0])
