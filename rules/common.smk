# Config validation and the small input functions the rules share. Logic lives in clsrl/.
import sys

from snakemake.settings.types import DeploymentMethod
from clsrl.config import ConfigError, is_builtin_model, validate_config
from clsrl.datasets.registry import datasets_of_kind
from clsrl.methods import resolve_methods

try:
    config.update(validate_config(config))
except ConfigError as error:
    sys.exit(f"Invalid configuration:\n{error}")

DATASETS = config["datasets"]
DEMO_DATASETS = datasets_of_kind(DATASETS, "demo")
ZERO_SHOT_STYLES = config["evaluation"]["zero_shot_styles"]
BUILTIN_MODEL_DIR = "results/base_model/{name}"


wildcard_constraints:
    dataset=r"[^/]+",
    target=r"[^/]+",
    style=r"[^/]+",


def base_model_input():
    """The base model as a job input: the folder a rule builds for a built-in model, else nothing
    (a hub name or a local folder is loaded as it is)."""
    name = config["base_model"]
    if is_builtin_model(name):
        return [BUILTIN_MODEL_DIR.format(name=name.removeprefix("builtin:"))]
    return []


def base_model_to_load(wildcards, input):
    """What the evaluation loads: the built folder (an input) or the configured name or path."""
    return input.model[0] if input.model else config["base_model"]


def trained_methods():
    """The study's methods that train a model (all but zero-shot-like ones)."""
    methods = resolve_methods(config["method_variants"])
    return [name for name in config["methods"] if methods[name].trainer is not None]


def python_command():
    """The Python of shell jobs: the job's conda env under --sdm conda, else Snakemake's own."""
    if DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method:
        return "python"
    return sys.executable


def training_launcher():
    """Python for one process; `accelerate launch` with one process per GPU otherwise."""
    gpus = config["training"]["gpus"]
    if gpus == 1:
        return python_command()
    name = config["training"]["multi_gpu_config"]
    accelerate_config = f"{workflow.basedir}/envs/accelerate/{name}.yaml"
    return (
        f"{python_command()} -m accelerate.commands.launch --num_processes {gpus}"
        f" --config_file {accelerate_config}"
    )


def trained_metrics():
    """Every trained model evaluated on every target dataset of the study."""
    return expand(
        "results/eval/{method}/{dataset}/{shots}shot/seed{seed}/{target}/metrics.json",
        method=TRAINED_METHODS,
        dataset=DATASETS,
        shots=config["training"]["shots"],
        seed=config["training"]["seeds"],
        target=DATASETS,
    )


def zero_shot_metrics():
    return expand(
        "results/eval/zero-shot/{style}/{target}/metrics.json",
        style=ZERO_SHOT_STYLES,
        target=DATASETS,
    )


TRAINED_METHODS = trained_methods()


def method_style(method):
    """The prompt style a trained method is trained and evaluated with."""
    return resolve_methods(config["method_variants"])[method].prompt_style


def eval_settings(style):
    """The evaluation settings of one job (clsrl.evaluate.EvalSettings fields)."""
    evaluation = config["evaluation"]
    return {
        "style": style,
        "wording": evaluation["wording"],
        "batch_size": evaluation["batch_size"],
        "max_new_tokens": evaluation["max_new_tokens"],
        "image_resize": config["images"]["resize"],
    }


def all_targets():
    """What `snakemake` builds by default: every table and figure of the study."""
    targets = [
        "results/tables/accuracy_long.csv",
        "results/tables/zero_shot.csv",
        "results/tables/fewshot.csv",
        "results/figures/fewshot_accuracy.png",
    ]
    if TRAINED_METHODS:
        targets.append("results/figures/reward_curves.png")
    return targets
