# Datasets in the canonical format (see README).
import re

from clsrl.datasets.benchmarks import BENCHMARKS, SOURCES
from clsrl.datasets.source_checks import custom_source_state, source_state
from clsrl.datasets.sources import (
    benchmark_coop_dir,
    benchmark_download_records,
    source_record,
)

CUSTOM_NAMES = list(config["custom_datasets"])


def local_copy_state(wildcards):
    """The state of a benchmark's local copy (data.local_copies): an edit reruns its preparation.
    Downloads need none: their records are the job's inputs."""
    local = config["data"]["local_copies"].get(wildcards.dataset)
    return source_state(local) if local else None


rule data:
    """Partial target: every dataset of the study, prepared."""
    input:
        expand("data/prepared/{dataset}", dataset=ALL_DATASETS),


rule generate_demo_dataset:
    output:
        directory("data/prepared/{dataset}"),
    log:
        "logs/generate_demo_dataset/{dataset}.log",
    benchmark:
        "benchmarks/generate_demo_dataset/{dataset}.tsv"
    wildcard_constraints:
        dataset="|".join(DEMO_DATASETS) or "no-demo-dataset",
    conda:
        "../envs/clsrl.yaml"
    params:
        version=STAGE_VERSIONS["data"],
        seed=config["demo_data"]["seed"],
        image_size=config["demo_data"]["image_size"],
        per_class=config["demo_data"]["per_class"],
    script:
        "../workflow_scripts/generate_demo_dataset.py"


rule download_source:
    """One file of a benchmark dataset (clsrl/datasets/benchmarks.yaml), verified and unpacked
    into the dataset's CoOp folder in the cache; the record is written last."""
    output:
        source_record(config["data"]["cache_dir"], "{source}"),
    log:
        "logs/download_source/{source}.log",
    wildcard_constraints:
        source="|".join(SOURCES),
    conda:
        "../envs/clsrl.yaml"
    params:
        version=STAGE_VERSIONS["data"],
        retries=config["data"]["download_retries"],
        keep_archive=config["data"]["keep_archives"],
    script:
        "../workflow_scripts/download_source.py"


rule prepare_benchmark_dataset:
    """A benchmark dataset from its CoOp folder (downloads or data.local_copies); stops naming
    the files to place where a manual step is needed."""
    input:
        lambda wildcards: benchmark_download_records(config["data"], wildcards.dataset),
    output:
        directory("data/prepared/{dataset}"),
    log:
        "logs/prepare_benchmark_dataset/{dataset}.log",
    wildcard_constraints:
        dataset="|".join(BENCHMARKS),
    conda:
        "../envs/clsrl.yaml"
    threads: config["data"]["threads"]
    resources:
        mem_mb=prepare_resource("mem_mb"),
        runtime=prepare_resource("runtime"),
    params:
        version=STAGE_VERSIONS["data"],
        coop_dir=lambda wildcards: benchmark_coop_dir(config["data"], wildcards.dataset),
        source_state=local_copy_state,
        check_images=config["data"]["check_images"],
        skip_unreadable=config["data"]["skip_unreadable_images"],
    script:
        "../workflow_scripts/prepare_benchmark_dataset.py"


rule prepare_custom_dataset:
    """A custom dataset (config custom_datasets) from its image folder or datasets source."""
    output:
        directory("data/prepared/{dataset}"),
    log:
        "logs/prepare_custom_dataset/{dataset}.log",
    wildcard_constraints:
        dataset="|".join(re.escape(name) for name in CUSTOM_NAMES)
        or "no-custom-dataset",
    conda:
        "../envs/clsrl.yaml"
    threads: config["data"]["threads"]
    resources:
        mem_mb=prepare_resource("mem_mb"),
        runtime=prepare_resource("runtime"),
    params:
        version=STAGE_VERSIONS["data"],
        spec=lambda wildcards: config["custom_datasets"][wildcards.dataset],
        source_state=lambda wildcards: custom_source_state(
            config["custom_datasets"][wildcards.dataset]
        ),
        check_images=config["data"]["check_images"],
        skip_unreadable=config["data"]["skip_unreadable_images"],
    script:
        "../workflow_scripts/prepare_custom_dataset.py"
