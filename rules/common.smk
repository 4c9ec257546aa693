# Config validation and the small input functions the rules share. Logic lives in clsrl/.
import sys

from clsrl.config import ConfigError, is_builtin_model, validate_config
from clsrl.datasets.source_checks import source_problems, unused_custom_datasets
from clsrl.hub import hub_model_problem
from clsrl.study import config_sources, study_summary
from clsrl.datasets.registry import datasets_of_kind, known_datasets
from clsrl.fewshot import parse_view
from clsrl.methods import resolve_methods
from clsrl.stages import STAGE_VERSIONS

# The Snakefile reads config.yaml only when no --configfile is given (a user's file replaces it).
CONFIG_FILES = [str(path) for path in workflow.overwrite_configfiles]

try:
    config.update(validate_config(config))
    problems = source_problems(config)
    if problems:
        raise ConfigError("\n".join(problems))
except ConfigError as error:
    sys.exit(f"Invalid configuration:\n{error}")

if workflow.is_main_process:  # once per run, not again in each job's process
    print(f"clsrl {config_sources(CONFIG_FILES)}", file=sys.stderr)
    print(f"clsrl {study_summary(config)}", file=sys.stderr)
    for warning in unused_custom_datasets(config):
        print(f"clsrl warning: {warning}", file=sys.stderr)

DATASETS = config["datasets"]  # trained on, and evaluated on
TARGETS = config["evaluation"]["targets"] or DATASETS  # evaluated on
ALL_DATASETS = list(dict.fromkeys(DATASETS + TARGETS))  # every dataset to prepare
DEMO_DATASETS = datasets_of_kind(ALL_DATASETS, "demo")
BENCHMARK_NAMES = [
    name for name, entry in known_datasets().items() if entry.kind == "benchmark"
]
ZERO_SHOT_STYLES = config["evaluation"]["zero_shot_styles"]
SETTINGS = config["settings"]
BUILTIN_MODEL_DIR = "results/base_model/{name}"
# Views: NAME (all classes), NAME.base / NAME.new (the halves of a base-to-new split).
FEWSHOT_TRAIN_VIEWS = DATASETS if "fewshot" in SETTINGS else []
BASE2NEW_TRAIN_VIEWS = (
    [f"{name}.base" for name in DATASETS] if "base2new" in SETTINGS else []
)


wildcard_constraints:
    dataset=r"[^/.]+",
    view=r"[^/]+",
    target=r"[^/]+",
    style=r"[^/]+",
    shots=r"\d+",
    seed=r"\d+",


def prepared_dataset(wildcard):
    """Input function: the prepared dataset folder of the view in wildcard `wildcard`."""
    return lambda wc: f"data/prepared/{parse_view(getattr(wc, wildcard))[0]}"


def view_option_params(view):
    """Option-list settings of a view: the few-shot ratio, or base-to-new's for a half."""
    return option_params(
        "fewshot_ratio" if parse_view(view)[1] is None else "base2new_ratio"
    )


def eval_targets(train_view):
    """What a model trained on a view is evaluated on: every target (few-shot), or the base and
    new halves of its own dataset (base-to-new)."""
    dataset, half = parse_view(train_view)
    return TARGETS if half is None else [f"{dataset}.base", f"{dataset}.new"]


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


METHODS = resolve_methods(
    config["method_variants"]
)  # built-in methods and the config's variants


def trained_methods():
    """The study's methods that train a model (all but zero-shot-like ones)."""
    return [name for name in config["methods"] if METHODS[name].trainer is not None]


def trained_metrics():
    """Every trained model evaluated on each of its targets."""
    return [
        f"results/eval/{method}/{view}/{shots}shot/seed{seed}/{target}/metrics.json"
        for method in TRAINED_METHODS
        for view in FEWSHOT_TRAIN_VIEWS + BASE2NEW_TRAIN_VIEWS
        for shots in config["training"]["shots"]
        for seed in config["training"]["seeds"]
        for target in eval_targets(view)
    ]


def zero_shot_metrics():
    """The base model on every target view, in each zero-shot style."""
    targets = list(TARGETS) if "fewshot" in SETTINGS else []
    for view in BASE2NEW_TRAIN_VIEWS:
        targets += eval_targets(view)
    return expand(
        "results/eval/zero-shot/{style}/{target}/metrics.json",
        style=ZERO_SHOT_STYLES,
        target=targets,
    )


def trained_models():
    """Every model the study trains."""
    return expand(
        "results/models/{method}/{view}/{shots}shot/seed{seed}",
        method=TRAINED_METHODS,
        view=FEWSHOT_TRAIN_VIEWS + BASE2NEW_TRAIN_VIEWS,
        shots=config["training"]["shots"],
        seed=config["training"]["seeds"],
    )


TRAINED_METHODS = trained_methods()


def method_style(method):
    """The prompt style a trained method is trained and evaluated with."""
    return METHODS[method].prompt_style


def option_params(ratio_key):
    """How questions list options (clsrl.questions.OptionSettings fields but the seed)."""
    options = config["options"]
    return {
        "ratio": options[ratio_key],
        "min_choices": options["min_choices"],
        "max_choices": options["max_choices"],
        "floor_rule": options["floor_rule"],
        "open_set": options["open_set"],
    }


def eval_settings(style, target):
    """The settings that shape one evaluation's outputs (clsrl.evaluate.EvalSettings fields but
    the batch size, which the job reads from the config: it never reruns anything)."""
    evaluation = config["evaluation"]
    return {
        "style": style,
        "wording": evaluation["wording"],
        "max_new_tokens": evaluation["max_new_tokens"],
        "image_resize": config["images"]["resize"],
        "base_classes": parse_view(target)[1]
        == "base",  # the reference code words these apart
    }


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
    if not any(job.rule.name in MODEL_RULES for job in workflow.dag.needrun_jobs()):
        return
    problem = hub_model_problem(config["base_model"])
    if problem:
        print(f"clsrl: {problem}", file=sys.stderr)
        raise SystemExit(1)
