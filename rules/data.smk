# Datasets in the canonical format (docs/datasets.md "The canonical dataset format").
import re

from clsrl.datasets.benchmarks import BENCHMARKS, SOURCES
from clsrl.datasets.sources import source_record

CUSTOM_NAMES = list(STUDY.custom_datasets)
CACHE = STUDY.data_settings["cache_dir"]


rule data:
    """Partial target: every dataset of the study, prepared."""
    input:
        expand(PREPARED, dataset=STUDY.all_datasets),


rule generate_demo_dataset:
    """A built-in demo dataset, generated offline (clsrl.datasets.demo)."""
    output:
        directory(PREPARED),
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
        settings=STUDY.demo_params(),
    script:
        "../workflow_scripts/generate_demo_dataset.py"


rule download_source:
    """One file of a benchmark dataset, verified and unpacked into its CoOp folder in the cache
    (clsrl/datasets/benchmarks.yaml); the record is written last."""
    output:
        source_record(CACHE, "{source}"),
    log:
        "logs/download_source/{source}.log",
    wildcard_constraints:
        source="|".join(SOURCES),
    conda:
        "../envs/clsrl.yaml"
    params:
        version=STAGE_VERSIONS["data"],
        cache_dir=download_cache,
        retries=STUDY.data_settings["download_retries"],
        keep_archive=STUDY.data_settings["keep_archives"],
    script:
        "../workflow_scripts/download_source.py"


rule prepare_benchmark_dataset:
    """A benchmark dataset from its CoOp folder (downloads or data.local_copies); stops naming
    the files to place where a manual step is needed."""
    input:
        benchmark_downloads,
    output:
        directory(PREPARED),
    log:
        "logs/prepare_benchmark_dataset/{dataset}.log",
    wildcard_constraints:
        dataset="|".join(BENCHMARKS),
    conda:
        "../envs/clsrl.yaml"
    threads: STUDY.threads("data")
    resources:
        mem_mb=prepare_mem_mb,
        runtime=prepare_runtime,
    params:
        version=STAGE_VERSIONS["data"],
        coop_dir=benchmark_folder,
        source_state=local_copy_state,
        check_images=STUDY.data_settings["check_images"],
        skip_unreadable=STUDY.data_settings["skip_unreadable_images"],
    script:
        "../workflow_scripts/prepare_benchmark_dataset.py"


rule prepare_custom_dataset:
    """A custom dataset (config custom_datasets) from its image folder or datasets source."""
    output:
        directory(PREPARED),
    log:
        "logs/prepare_custom_dataset/{dataset}.log",
    wildcard_constraints:
        dataset="|".join(re.escape(name) for name in CUSTOM_NAMES)
        or "no-custom-dataset",
    conda:
        "../envs/clsrl.yaml"
    threads: STUDY.threads("data")
    resources:
        mem_mb=prepare_mem_mb,
        runtime=prepare_runtime,
    params:
        version=STAGE_VERSIONS["data"],
        spec=custom_spec,
        source_state=custom_state,
        check_images=STUDY.data_settings["check_images"],
        skip_unreadable=STUDY.data_settings["skip_unreadable_images"],
    script:
        "../workflow_scripts/prepare_custom_dataset.py"
