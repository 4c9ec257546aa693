"""Gather every metrics file into the long table and the summary tables (rule aggregate)."""

from clsrl.joblog import job_log
from clsrl.report.writing import write_summaries

sm = snakemake  # injected by Snakemake's script directive
with job_log(sm.log[0]):
    write_summaries(
        sm.input.metrics, dict(sm.output.items()), list(sm.params.targets), sm.params.protocol
    )
