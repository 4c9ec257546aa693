"""Download one benchmark source into the cache and record it (rule download_source)."""

from clsrl.datasets.benchmarks import SOURCES
from clsrl.datasets.sources import fetch_source
from clsrl.io import write_json
from clsrl.joblog import job_log

sm = snakemake  # injected by Snakemake's script directive
with job_log(sm.log[0]):
    record = fetch_source(
        SOURCES[sm.wildcards.source],
        sm.params.cache_dir,
        keep_archive=sm.params.keep_archive,
        retries=sm.params.retries,
    )
    write_json(sm.output[0], record)
