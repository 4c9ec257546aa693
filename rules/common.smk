# Config validation and the small input functions the rules share. Logic lives in clsrl/.
import sys

from clsrl.config import ConfigError, is_builtin_model, validate_config
from clsrl.datasets.registry import datasets_of_kind

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


def zero_shot_metrics():
    return expand(
        "results/eval/zero-shot/{style}/{target}/metrics.json",
        style=ZERO_SHOT_STYLES,
        target=DATASETS,
    )


def all_targets():
    """What `snakemake` builds by default: every table and figure of the study."""
    return [
        "results/tables/accuracy_long.csv",
        "results/tables/zero_shot.csv",
        "results/figures/zero_shot_accuracy.png",
    ]
