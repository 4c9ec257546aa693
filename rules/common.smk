# Config validation, the study, and the named functions the rules call. Logic lives in clsrl/:
# clsrl.workflow.study.Study resolves the config once; every function here asks it one thing.
import re
import sys
import time
from pathlib import Path

from clsrl.config import ConfigError
from clsrl.models.base_models import TINY_BUILDS
from clsrl.datasets.registry import datasets_of_kind
from clsrl.datasets.source_checks import (
    custom_source_state,
    source_state,
)
from clsrl.datasets.sources import benchmark_coop_dir, benchmark_download_records
from clsrl.models.hub import hub_model_problem
from clsrl.compute.sizing import base_sizes, model_lines
from clsrl.stages import STAGE_VERSIONS
from clsrl.joblog import failed_job_messages, remove_empty_folders
from clsrl.workflow.study import (
    BASE_MODEL,
    CHECKPOINTS,
    EVAL_TRAINED,
    EVAL_ZERO_SHOT,
    MODEL,
    PREPARED,
    QUESTIONS,
    SPLIT,
    TRAINED_RUN,
    ZERO_SHOT_RUN,
    View,
    config_sources,
    plan_study,
)

# The Snakefile reads config.yaml only when no --configfile is given (a user's file replaces it).
CONFIG_FILES = [str(path) for path in workflow.overwrite_configfiles]
RUN_STARTED = time.time()  # the job logs written since then are this run's
try:  # every check that needs no job; the listings of custom datasets in the main process only
    STUDY, WARNINGS = plan_study(
        config, CONFIG_FILES, listings=workflow.is_main_process
    )
except ConfigError as error:
    sys.exit(f"Invalid configuration:\n{error}")

if workflow.is_main_process:  # once per run, not again in each job's process
    print(f"clsrl {config_sources(CONFIG_FILES)}", file=sys.stderr)
    print(f"clsrl {STUDY.summary()}", file=sys.stderr)
    for line in model_lines(STUDY, base_sizes(STUDY)[0]):
        print(f"clsrl {line}", file=sys.stderr)
    for warning in WARNINGS:
        print(f"clsrl warning: {warning}", file=sys.stderr)

DEMO_DATASETS = datasets_of_kind(STUDY.all_datasets, "demo")
TRAINED_METHODS = STUDY.trained_methods


wildcard_constraints:
    model="|".join(re.escape(label) for label in STUDY.base_models),
    dataset=r"[^/.]+",
    view=r"[^/]+",
    target=r"[^/]+",
    style=r"[^/]+",
    shots=r"\d+",
    seed=r"\d+",


# --- inputs ---------------------------------------------------------------------------------


def view_dataset(wildcards):
    """The prepared dataset of the job's view (wildcard `view`)."""
    return PREPARED.format(dataset=View.parse(wildcards.view).dataset)


def target_dataset(wildcards):
    """The prepared dataset of the job's target (wildcard `target`)."""
    return PREPARED.format(dataset=View.parse(wildcards.target).dataset)


def base_model_input(wildcards):
    """The folder a rule builds for the job's built-in base model (wildcard `model`, a label);
    nothing for a hub name or a folder."""
    return STUDY.base_model_folder(wildcards.model)


def tiny_shape(wildcards):
    """The clsrl.models.tiny shape of a tiny built-in model."""
    return TINY_BUILDS[wildcards.tiny]


def tiny_build_settings(wildcards):
    """The seed and image size of a tiny built-in model (clsrl.workflow.study.Study.tiny_build_params)."""
    return STUDY.tiny_build_params(TINY_BUILDS[wildcards.tiny])


def toy_model_base(wildcards):
    """What the toy model is made from: nothing when the shipped one is used, else the tiny one."""
    if STUDY.toy_model_source() == "shipped":
        return []
    return [BASE_MODEL.format(name="tiny-qwen2-vl")]


def base_model_to_load(wildcards, input):
    """What a job loads: the built folder (an input), else the configured name or path."""
    return input.model[0] if input.model else STUDY.base_model(wildcards.model)


def trained_model(wildcards, input):
    """The trained model an evaluation loads: its input folder."""
    return input.model


def benchmark_downloads(wildcards):
    """The download records a benchmark's preparation waits for (none for a local copy)."""
    return benchmark_download_records(STUDY.data_settings, wildcards.dataset)


# --- params: what shapes each job's output (a change reruns it) -------------------------------


def view_half(wildcards):
    return View.parse(wildcards.view).half


def view_options(wildcards):
    return STUDY.option_params(View.parse(wildcards.view))


def download_cache(wildcards):
    """The download cache (data.cache_dir): downloads, CoOp folders and download records."""
    return STUDY.data_settings["cache_dir"]


def benchmark_folder(wildcards):
    return benchmark_coop_dir(STUDY.data_settings, wildcards.dataset)


def local_copy_state(wildcards):
    """The state of a benchmark's local copy (data.local_copies): an edit reruns its preparation.
    Downloads need none: their records are the job's inputs."""
    local = STUDY.data_settings["local_copies"].get(wildcards.dataset)
    return source_state(local) if local else None


def custom_spec(wildcards):
    return STUDY.custom_datasets[wildcards.dataset]


def custom_state(wildcards):
    return custom_source_state(STUDY.custom_datasets[wildcards.dataset])


def train_spec(wildcards):
    """The job's clsrl.training.spec.TrainingSpec."""
    return STUDY.training_spec(
        wildcards.method,
        wildcards.view,
        int(wildcards.shots),
        int(wildcards.seed),
        model=wildcards.model,
    )


def train_spec_mapping(wildcards):
    """The job's spec as plain values: the train rule's param (Snakemake compares a param's
    repr, and leaves an object out of the comparison)."""
    return train_spec(wildcards).as_mapping()


def zero_shot_settings(wildcards):
    return STUDY.eval_settings(wildcards.style, View.parse(wildcards.target))


def zero_shot_record(wildcards):
    return STUDY.eval_record(
        wildcards.model, "zero-shot", wildcards.style, View.parse(wildcards.target)
    )


def trained_settings(wildcards):
    style = STUDY.method_style(wildcards.method)
    return STUDY.eval_settings(style, View.parse(wildcards.target))


def trained_record(wildcards):
    style = STUDY.method_style(wildcards.method)
    return STUDY.eval_record(
        wildcards.model,
        wildcards.method,
        style,
        View.parse(wildcards.target),
        dict(wildcards),
    )


# --- runtime settings: objects, which Snakemake leaves out of its params comparison ------------


def training_runtime(wildcards):
    return STUDY.training_runtime()


def evaluation_runtime(wildcards):
    return STUDY.evaluation_runtime()


# --- targets ---------------------------------------------------------------------------------


def all_targets():
    """What `snakemake` builds by default: every table and figure of the study."""
    targets = [
        "results/tables/accuracy_long.csv",
        "results/tables/zero_shot.csv",
        "results/tables/fewshot.csv",
        "results/figures/fewshot_accuracy.png",
        "results/tables/base2new.csv",
        "results/tables/crossdataset",
        "results/tables/paper_comparison.csv",
    ]
    if TRAINED_METHODS:
        targets.append("results/figures/reward_curves.png")
    return targets


MODEL_RULES = ("train", "evaluate_zero_shot", "evaluate_trained")


def check_base_model():
    """Before a real run's first job (the Snakefile's onstart): stop, saying why and how to fix
    it, when a job would load a hub model that is neither cached nor reachable."""
    labels = {
        job.wildcards.model
        for job in workflow.dag.needrun_jobs()
        if job.rule.name in MODEL_RULES
    }
    problems = [hub_model_problem(STUDY.base_model(label)) for label in sorted(labels)]
    for problem in filter(None, problems):
        print(f"clsrl: {problem}", file=sys.stderr)
    if any(problems):
        raise SystemExit(1)


def remove_empty_checkpoint_folders():
    """After a successful run (the Snakefile's onsuccess, when no job writes there): the empty
    folders that finished trainings left under results/checkpoints/, and that folder if empty.
    """
    remove_empty_folders(Path(CHECKPOINTS.split("{")[0]))


def report_failed_jobs():
    """After a failed run (the Snakefile's onerror): each failed job's known error, last."""
    for message in failed_job_messages("logs", RUN_STARTED):
        print(f"clsrl: a job stopped. {message}", file=sys.stderr)
