"""Convert one benchmark dataset to the canonical format (rule prepare_benchmark_dataset)."""

import sys

from clsrl.datasets.prepare import ManualStepRequired, prepare_benchmark
from clsrl.datasets.writer import ImageChecks
from clsrl.workflow import job_log

sm = snakemake  # injected by Snakemake's script directive
try:
    with job_log(sm.log[0]):
        checks = ImageChecks(sm.params.check_images, sm.params.skip_unreadable, sm.threads)
        dataset = prepare_benchmark(sm.wildcards.dataset, sm.output[0], sm.params.coop_dir, checks)
        print(f"wrote {dataset.name}: splits {dataset.split_counts()}")
except ManualStepRequired as error:
    sys.exit(str(error))  # on the console too, not only in the log
