"""Convert one custom dataset to the canonical format (rule prepare_custom_dataset)."""

from clsrl.datasets.custom import prepare_custom
from clsrl.datasets.writer import ImageChecks, copy_limit
from clsrl.joblog import job_log

sm = snakemake  # injected by Snakemake's script directive
with job_log(sm.log[0]):
    checks = ImageChecks(
        sm.params.check_images, sm.params.skip_unreadable, sm.threads, copy_limit(sm.config["data"])
    )
    dataset = prepare_custom(sm.wildcards.dataset, dict(sm.params.spec), sm.output[0], checks)
    print(f"wrote {dataset.name}: splits {dataset.split_counts()}")
