"""Gather every metrics file into the long table and the zero-shot table (rule aggregate)."""

from clsrl.aggregate import collect_metrics, write_table, zero_shot_table
from clsrl.io import write_atomic
from clsrl.workflow import job_log

sm = snakemake  # injected by Snakemake's script directive
with job_log(sm.log[0]):
    long = collect_metrics(list(sm.input))
    write_atomic(sm.output.long, long.to_csv(index=False))
    write_table(
        zero_shot_table(long, list(sm.params.targets)), sm.output.zero_shot, sm.output.zero_shot_md
    )
