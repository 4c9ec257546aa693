# Job resources (GPUs, memory in MB, runtime in minutes) from the study and the job's wildcards,
# growing with each retry (`attempt`). The estimates live in clsrl/compute/resources.py; site settings
# (partition, account, QoS) only in the profiles (slurm/config.yaml).
from clsrl.compute import resources as job_resources
from clsrl.compute.gpu_oom import earlier_out_of_memory, evaluation_mark
from clsrl.training.spec import spec_checkpoint_dir


def train_gpus(wildcards, attempt):
    return train_resources(wildcards, attempt)["gpu"]


def train_mem_mb(wildcards, attempt):
    return train_resources(wildcards, attempt)["mem_mb"]


def train_runtime(wildcards, attempt):
    return train_resources(wildcards, attempt)["runtime"]


def train_resources(wildcards, attempt):
    """GPUs, memory and runtime of a training job, from its spec; a retry after a GPU
    out-of-memory error asks no more (it stops at once: clsrl.compute.gpu_oom)."""
    classes = job_resources.num_classes(wildcards.view)
    spec = train_spec(wildcards)
    spec_folder = spec_checkpoint_dir(CHECKPOINTS.format(**wildcards), spec)
    if earlier_out_of_memory(spec_folder):
        attempt = 1
    return job_resources.train_resources(spec, classes, attempt)


def eval_style(wildcards):
    """A zero-shot job's `style` wildcard, or a trained method's style."""
    return wildcards.get("style") or STUDY.method_style(wildcards.method)


def eval_gpus(wildcards, attempt):
    return eval_resources(wildcards, attempt)["gpu"]


def eval_mem_mb(wildcards, attempt):
    return eval_resources(wildcards, attempt)["mem_mb"]


def eval_runtime(wildcards, attempt):
    return eval_resources(wildcards, attempt)["runtime"]


def eval_resources(wildcards, attempt):
    """GPUs, memory and runtime of an evaluation job; a retry after a GPU out-of-memory error
    asks no more (it stops at once: clsrl.compute.gpu_oom)."""
    output = EVAL_ZERO_SHOT if wildcards.get("style") else EVAL_TRAINED
    mark = evaluation_mark(STUDY.evaluation_runtime().batch_size)
    if earlier_out_of_memory(output.format(**dict(wildcards.items())), mark):
        attempt = 1
    return STUDY.eval_resources(
        eval_style(wildcards), wildcards.target, attempt, wildcards.model
    )


def prepare_mem_mb(wildcards, attempt):
    return job_resources.prepare_resources(attempt)["mem_mb"]


def prepare_runtime(wildcards, attempt):
    return job_resources.prepare_resources(attempt)["runtime"]


# Cheap CPU rules run where snakemake runs (a cluster's login node), not as cluster jobs;
# download_source too, as compute nodes often have no internet access.
localrules:
    all,
    data,
    generate_demo_dataset,
    download_source,
    build_tiny_model,
    make_test_questions,
    sample_few_shot,
    zero_shot_table,
    fewshot_table,
    aggregate,
    plot_fewshot,
    plot_reward_curves,
    base2new_table,
    crossdataset,
    study_tables,
