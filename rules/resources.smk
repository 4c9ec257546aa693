# Job resources (GPUs, memory in MB, runtime in minutes) from the config and the job's wildcards,
# growing with each retry (`attempt`). The estimates live in clsrl/resources.py; site settings
# (partition, account, QoS) only in the profiles (slurm/config.yaml).
from clsrl import resources as job_resources


def train_resource(name):
    """A resource of a training job, for the rule's `resources:`."""
    return lambda wildcards, attempt: job_resources.train_resources(
        config, wildcards.method, wildcards.view, int(wildcards.shots), attempt
    )[name]


def eval_resource(name):
    """A resource of an evaluation job (zero-shot: the `style` wildcard; trained: its method's)."""
    return lambda wildcards, attempt: job_resources.eval_resources(
        config,
        wildcards.get("style") or method_style(wildcards.method),
        wildcards.target,
        attempt,
    )[name]


def prepare_resource(name):
    """A resource of a CPU job that decodes a whole dataset."""
    return lambda wildcards, attempt: job_resources.prepare_resources(config, attempt)[
        name
    ]


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
