"""Convert one benchmark dataset to the canonical format (rule prepare_benchmark_dataset)."""

from clsrl.datasets.prepare import prepare_benchmark
from clsrl.datasets.writer import ImageChecks, copy_limit
from clsrl.joblog import job_log

sm = snakemake  # injected by Snakemake's script directive
with job_log(sm.log[0]):
    # a local copy is the user's folder: copied when small enough; the download cache is linked
    local = sm.wildcards.dataset in sm.config["data"]["local_copies"]
    checks = ImageChecks(
        sm.params.check_images,
        sm.params.skip_unreadable,
        sm.threads,
        copy_limit(sm.config["data"]) if local else 0,
    )
    dataset = prepare_benchmark(sm.wildcards.dataset, sm.output[0], sm.params.coop_dir, checks)
    print(f"wrote {dataset.name}: splits {dataset.split_counts()}")
