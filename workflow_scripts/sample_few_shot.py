"""Draw a seeded few-shot training set of a view and write its questions (rule sample_few_shot)."""

from clsrl.fewshot import write_few_shot
from clsrl.joblog import job_log

sm = snakemake  # injected by Snakemake's script directive
with job_log(sm.log[0]):
    count = write_few_shot(
        sm.input[0],
        sm.output[0],
        shots=int(sm.wildcards.shots),
        seed=int(sm.wildcards.seed),
        options=sm.params.options,
        half=sm.params.half,
        allow_fewer=sm.params.allow_fewer,
    )
    print(f"wrote {count} training questions to {sm.output[0]}")
