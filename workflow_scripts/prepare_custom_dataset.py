"""Convert one custom dataset to the canonical format (rule prepare_custom_dataset)."""

from clsrl.datasets.custom import prepare_custom
from clsrl.workflow import job_log

sm = snakemake  # injected by Snakemake's script directive
with job_log(sm.log[0]):
    dataset = prepare_custom(
        sm.wildcards.dataset,
        dict(sm.params.spec),
        sm.output[0],
        check_images=sm.params.check_images,
        skip_unreadable=sm.params.skip_unreadable,
        threads=sm.threads,
    )
    print(f"wrote {dataset.name}: splits {dataset.split_counts()}")
