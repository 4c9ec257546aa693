"""Base-to-new table, cross-dataset matrices and heatmaps, and the comparison with the paper
(rule study_tables)."""

from clsrl.joblog import job_log
from clsrl.report.writing import write_study_tables

sm = snakemake  # injected by Snakemake's script directive
with job_log(sm.log[0]):
    write_study_tables(
        sm.input[0],
        dict(sm.output.items()),
        datasets=list(sm.params.datasets),
        targets=list(sm.params.targets),
        variants=sm.params.variants,
        base_models=sm.params.base_models,
        benchmarks=list(sm.params.benchmarks),
        protocol=sm.params.protocol,
    )
