"""Gather every metrics file into the long table and the summary tables (rule aggregate)."""

from clsrl.io import write_atomic
from clsrl.joblog import job_log
from clsrl.report.aggregate import (
    collect_metrics,
    fewshot_table,
    seed_agreement_table,
    seed_markdown,
    to_markdown,
    write_table,
    zero_shot_table,
)

sm = snakemake  # injected by Snakemake's script directive
with job_log(sm.log[0]):
    targets = list(sm.params.targets)
    long = collect_metrics(list(sm.input.metrics))  # reads the predictions beside each
    long["protocol"] = sm.params.protocol  # clsrl.config.protocol_in_force
    write_atomic(sm.output.long, long.to_csv(index=False))
    write_table(zero_shot_table(long, targets), sm.output.zero_shot, sm.output.zero_shot_md)
    for metric, csv, markdown in (
        ("lenient_accuracy", sm.output.fewshot, sm.output.fewshot_md),
        ("strict_accuracy", sm.output.fewshot_strict, sm.output.fewshot_strict_md),
    ):
        table = fewshot_table(long, targets, metric)
        write_atomic(csv, table.to_csv(index=False))
        write_atomic(markdown, seed_markdown(long, targets, metric))
    agreement = seed_agreement_table(long)
    write_atomic(sm.output.agreement, agreement.to_csv(index=False))
    write_atomic(sm.output.agreement_md, to_markdown(agreement))
