"""Validate the workflow configuration against its schema and fill in the defaults.

The Snakefile calls `validate_config(config)` (through clsrl.workflow.study.plan_study) before any
rule is defined, so a typo, a wrong type or an unknown dataset or method stops the run with one
message that names the key and the fix.

>>> validate_config({"evaluation": {"batch_size": 4}})["evaluation"]["max_new_tokens"]
1024
>>> try:
...     validate_config({"evaluation": {"batch_sise": 4}})
... except ConfigError as error:
...     print(str(error).splitlines()[-1][:63])
config key 'evaluation.batch_sise' is not allowed. Did you mean
"""

from __future__ import annotations

import copy
import difflib

import jsonschema

from clsrl.datasets.registry import known_datasets
from clsrl.methods import METHODS, TRAINER_PRESETS, resolve_methods
from clsrl.models import base_models as base_model_config
from clsrl.models.base_models import BUILTIN_MODELS, BUILTIN_PREFIX, is_builtin_model
from clsrl.schema import fill_defaults, load_schema
from clsrl.trl_settings import check_trl_value, trl_key_problems

MAX_SUGGESTIONS = 3


class ConfigError(ValueError):
    """The configuration is invalid; the message names each bad key and how to fix it."""


# Keys that were renamed: (section, old name) -> (new name, old value -> new value).
RENAMED = {
    ("evaluation", "dtype"): (
        "precision",
        {"auto": "auto", "float32": "fp32", "bfloat16": "bf16", "float16": "fp16"},
    ),
}


def _renamed_keys(config: dict) -> tuple[dict, list[str]]:
    """The config with renamed keys under their new names, and a warning for each."""
    config, warnings = copy.deepcopy(config), []
    for (section, old), (new, values) in RENAMED.items():
        part = config.get(section)
        if not isinstance(part, dict) or old not in part:
            continue
        value = part.pop(old)
        if new in part:
            raise ConfigError(
                f"config keys '{section}.{old}' and '{section}.{new}' are both set; "
                f"'{section}.{old}' is the old name of '{section}.{new}': remove it."
            )
        part[new] = values.get(value, value)
        warnings.append(
            f"config key '{section}.{old}' is deprecated: write '{section}.{new}: {part[new]}' "
            "(precision has one vocabulary: auto, bf16, fp32, fp16)."
        )
    return config, warnings


# `protocol: reference-code`: the reference code's behaviour of every key that has one.
REFERENCE_CODE = {
    ("options", "floor_rule"): "all-classes",
    ("evaluation", "wording"): "reference-code",
    ("evaluation", "empty_answer"): "reference-code",
    ("training", "accuracy_rule"): "reference-code",
    ("training", "trainer_seed"): 42,
}


def with_protocol(config: dict, warnings: list[str] | None = None) -> dict:
    """The config with the protocol preset's values for every key it does not set itself; a key
    set to another value wins, with a warning (appended to `warnings` when given).

    >>> with_protocol({"protocol": "reference-code", "training": {"trainer_seed": 7}})["training"]
    {'trainer_seed': 7, 'accuracy_rule': 'reference-code'}
    """
    if config.get("protocol") != "reference-code":
        return config
    config = copy.deepcopy(config)
    for (section, key), value in REFERENCE_CODE.items():
        part = config.setdefault(section, {})
        if not isinstance(part, dict):
            continue  # the schema check names the section
        if key in part and part[key] != value and warnings is not None:
            warnings.append(
                f"protocol reference-code: config key '{section}.{key}' is {part[key]!r}, which "
                f"wins over the preset's {value!r} (delete the key to follow the preset)"
            )
        part.setdefault(key, value)
    return config


def protocol_in_force(config: dict) -> str:
    """`paper` or `reference-code` when every rule of the validated config is that protocol's,
    else `mixed`: what produced a result (recorded in metrics and tables)."""
    values = {config[section][key] == value for (section, key), value in REFERENCE_CODE.items()}
    return "mixed" if len(values) > 1 else ("reference-code" if values.pop() else "paper")


def validate_config(config: dict, warnings: list[str] | None = None) -> dict:
    """Return a copy of `config` with defaults filled in; raise ConfigError if anything is wrong.
    Warnings (a deprecated key) are appended to `warnings` when given."""
    config, renamed = _renamed_keys(config)
    if warnings is not None:
        warnings.extend(renamed)
    config = with_protocol(config, warnings)
    schema = load_schema()
    problems = [_describe(error) for error in _schema_errors(config, schema)]
    if not problems:
        config = fill_defaults(config, schema)
        problems = _semantic_problems(config)
    if problems:
        raise ConfigError(
            "Fix each key below in config.yaml, or in the --configfile / --config that sets it "
            "(clsrl/schemas/config.schema.yaml describes every key):\n" + "\n".join(problems)
        )
    return canonical(config)


def canonical(value):
    """`value` with every mapping's keys sorted, recursively: the order of keys in a YAML file
    never changes a job's params (Snakemake compares them by repr), so it never reruns anything.

    >>> canonical({"b": {"y": 1, "x": [{"d": 0, "c": 0}]}, "a": 2})
    {'a': 2, 'b': {'x': [{'c': 0, 'd': 0}], 'y': 1}}
    """
    if isinstance(value, dict):
        return {key: canonical(value[key]) for key in sorted(value, key=str)}
    if isinstance(value, list):
        return [canonical(item) for item in value]
    return value


def default_config() -> dict:
    """The config with every key at its schema default: the paper's study (a fresh copy)."""
    return validate_config({})


def _schema_errors(config: dict, schema: dict) -> list[jsonschema.ValidationError]:
    validator = jsonschema.Draft202012Validator(schema)
    return sorted(validator.iter_errors(config), key=lambda error: list(error.absolute_path))


def _key_name(path) -> str:
    name = ""
    for part in path:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "(top level)"


def _describe(error: jsonschema.ValidationError) -> str:
    """One line per schema violation, naming the key, what is wrong and what is allowed."""
    key = _key_name(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        return "\n".join(
            f"config key '{_key_name([*error.absolute_path, name])}' is not allowed."
            f"{_suggest(name, allowed)} Allowed keys here: {', '.join(allowed)}."
            for name in unknown
        )
    description = error.schema.get("description", "")
    hint = f" ({description.strip()})" if description else ""
    if error.validator == "type":
        return (
            f"config key '{key}' must be of type {error.validator_value}, got "
            f"{error.instance!r} ({type(error.instance).__name__}).{hint}"
        )
    if error.validator == "enum":
        return (
            f"config key '{key}' is {error.instance!r}, which is not allowed."
            f"{_suggest(str(error.instance), [str(v) for v in error.validator_value])}"
            f" Use one of: {', '.join(map(str, error.validator_value))}."
        )
    return f"config key '{key}': {error.message}.{hint}"


def _suggest(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=MAX_SUGGESTIONS)
    return f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def _semantic_problems(config: dict) -> list[str]:
    """Checks a schema cannot express: names that must exist in a registry, ordered bounds."""
    problems = []
    for name in config["custom_datasets"]:
        if "." in name or "/" in name:
            problems.append(
                f"config key 'custom_datasets.{name}': a dataset name may not contain '.' or '/' "
                "('.' names the base and new halves of a dataset, e.g. EuroSAT.base); rename it."
            )
    try:
        datasets = known_datasets(config["custom_datasets"])
    except ValueError as error:  # a custom name that clashes with a built-in one
        problems.append(str(error) + ".")
        datasets = known_datasets()
    named = {"datasets": config["datasets"], "evaluation.targets": config["evaluation"]["targets"]}
    for key, names in named.items():
        for index, name in enumerate(names):
            if name not in datasets:
                problems.append(
                    f"config key '{key}[{index}]': unknown dataset {name!r}."
                    f"{_suggest(name, list(datasets))} Known datasets: {', '.join(datasets)}."
                )
    try:
        methods = resolve_methods(config["method_variants"])
    except ValueError as error:
        problems.append(str(error) + ".")
        methods = METHODS
    problems += _trl_problems(config, methods)
    problems += _variant_problems(config, methods)
    for name in config["training"]["epochs"]:
        if name != "default" and name not in datasets:
            problems.append(
                f"config key 'training.epochs.{name}': unknown dataset {name!r}."
                f"{_suggest(name, list(datasets))} Its keys are dataset names, or `default` for "
                "every other dataset."
            )
    for index, name in enumerate(config["methods"]):
        if name not in methods:
            problems.append(
                f"config key 'methods[{index}]': unknown method {name!r}."
                f"{_suggest(name, list(methods))} Known methods: {', '.join(methods)} "
                "(add your own under method_variants)."
            )
    problems += base_model_config.problems(config["base_model"])
    for model in base_model_config.base_models(config["base_model"]).values():
        builtin_name = model.removeprefix(BUILTIN_PREFIX)
        if is_builtin_model(model) and builtin_name not in BUILTIN_MODELS:
            problems.append(
                f"config key 'base_model': unknown built-in model {model!r}."
                f"{_suggest(builtin_name, list(BUILTIN_MODELS))} Built-in models: "
                f"{', '.join(BUILTIN_PREFIX + name for name in BUILTIN_MODELS)}; or give a hub "
                "name such as Qwen/Qwen2-VL-2B-Instruct or a local model folder."
            )
    problems += _tracker_problems(config["training"]["report_to"])
    options = config["options"]
    if options["min_choices"] > options["max_choices"]:
        problems.append(
            f"config keys 'options.min_choices' ({options['min_choices']}) and "
            f"'options.max_choices' ({options['max_choices']}): the minimum exceeds the maximum."
        )
    return problems


TRACKER_PACKAGES = {  # training.report_to -> the package transformers' callback needs
    "tensorboard": ("tensorboard", "tensorboardX"),
    "wandb": ("wandb",),
    "mlflow": ("mlflow",),
    "trackio": ("trackio",),
}


def _tracker_problems(trackers: list[str]) -> list[str]:
    """A tracker whose package is not installed would fail in every training job."""
    from importlib.util import find_spec

    return [
        f"config key 'training.report_to' names {tracker}, which needs the package "
        f"{TRACKER_PACKAGES[tracker][0]}: pip install {TRACKER_PACKAGES[tracker][0]} (in the "
        "environment the jobs run in), or remove it."
        for tracker in trackers
        if not any(find_spec(package) for package in TRACKER_PACKAGES[tracker])
    ]


def _trl_problems(config: dict, methods: dict) -> list[str]:
    """TRL settings that TRL's config classes do not take, that clsrl sets itself, or whose
    values TRL would refuse in a job; numbers written as YAML strings become numbers here."""
    problems = []
    for trainer, settings in config["training"]["trl"].items():
        problems += _trl_settings_problems(trainer, settings, f"training.trl.{trainer}")
    for name, variant in config["method_variants"].items():
        settings = variant.get("trl", {})
        trainer = methods[name].trainer if name in methods else None
        if settings and trainer is None:
            problems.append(
                f"config key 'method_variants.{name}.trl': {name} extends a method that trains "
                "nothing (zero-shot), so TRL settings mean nothing here; remove them, or extend "
                "a trained method (sft, cls-rl, no-thinking)."
            )
        elif settings:
            problems += _trl_settings_problems(trainer, settings, f"method_variants.{name}.trl")
    return problems or _group_problems(config, methods)


def _trl_settings_problems(trainer: str, settings: dict, where: str) -> list[str]:
    """Unknown or managed keys, then each value checked (and coerced) against TRL's field."""
    problems = trl_key_problems(trainer, settings, where)
    for key, value in settings.items():
        settings[key], problem = check_trl_value(trainer, key, value, where)
        problems += [problem] if problem else []
    return problems


def _group_problems(config: dict, methods: dict) -> list[str]:
    """TRL's generation batch (the completions of one step) must hold whole groups: each GRPO
    method of the study has a num_generations that divides training.grpo_completions_per_step."""
    per_step = config["training"]["grpo_completions_per_step"]
    problems = []
    for name in config["methods"]:
        method = methods.get(name)
        if method is None or method.trainer != "grpo":
            continue
        trl = {**TRAINER_PRESETS["grpo"], **config["training"]["trl"].get("grpo", {}), **method.trl}
        generations = trl["num_generations"]
        if per_step % generations:
            example = per_step - per_step % generations or generations
            problems.append(
                f"method {name!r}: num_generations {generations} does not divide "
                f"training.grpo_completions_per_step {per_step}; TRL's generation batch holds "
                f"whole groups of {generations} completions: set grpo_completions_per_step to "
                f"a multiple of {generations} (e.g. {example}), or num_generations to a divisor "
                "of it."
            )
    return problems


# What each variant key means something for: a trained method, or GRPO only.
TRAINED_ONLY = ("trl", "rewards", "lora", "prompt_style")


def _variant_problems(config: dict, methods: dict) -> list[str]:
    """Variant keys that mean nothing for the variant's trainer (TRL keys: _trl_problems)."""
    problems = []
    for name, variant in config["method_variants"].items():
        if name not in methods:
            continue  # its unknown parent is reported already
        key = f"config key 'method_variants.{name}"
        trainer = methods[name].trainer
        if trainer is None:
            problems += [
                f"{key}.{field}': {name} extends a method that trains nothing (zero-shot), so "
                f"{field} means nothing here; remove it, or extend a trained method (sft, cls-rl, "
                "no-thinking)."
                for field in TRAINED_ONLY
                if field in variant and field != "trl"  # trl: reported by _trl_problems
            ]
        elif trainer == "sft" and "rewards" in variant:
            problems.append(
                f"{key}.rewards': {name} trains with SFT, which uses no rewards; remove them, or "
                "extend a GRPO method (cls-rl, no-thinking)."
            )
        elif trainer == "grpo" and not methods[name].rewards:
            problems.append(
                f"{key}.rewards': {name} trains with GRPO, which needs at least one reward; "
                "list one or more (e.g. thinking_format, thinking_accuracy)."
            )
    return problems
