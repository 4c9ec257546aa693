"""Check the config's TRL settings against TRL's own config classes, before any job runs.

    python -m clsrl.trl_settings --write   # after a TRL upgrade: refresh the list of field names

A typo such as `num_generation: 8` would otherwise pass validation and fail inside a training job,
hours later on a cluster. Importing TRL costs several seconds, too much for every `snakemake`
call, so the field names of `trl.GRPOConfig` and `trl.SFTConfig` ship as data
(`clsrl/schemas/trl_fields.json`, written by this module from the installed TRL; a test checks it
against the pinned TRL). Keys that clsrl sets itself are refused with the config key to use instead.

>>> print(*trl_key_problems("grpo", {"num_generation": 8}, "training.trl.grpo"))
... # doctest: +ELLIPSIS
config key 'training.trl.grpo.num_generation' is not a setting of trl.GRPOConfig. Did you mean \
'num_generations' or ...
>>> print(*trl_key_problems("sft", {"seed": 3}, "training.trl.sft"))
config key 'training.trl.sft.seed' is set by clsrl: use training.trainer_seed instead.
>>> trl_key_problems("grpo", {"beta": 0.0, "loss_type": "dr_grpo"}, "training.trl.grpo")
[]
"""

from __future__ import annotations

import argparse
import difflib
import json
from functools import cache
from importlib import resources

FIELDS_RESOURCE = "schemas/trl_fields.json"
TRAINER_CLASSES = {"grpo": "GRPOConfig", "sft": "SFTConfig"}

# TRL settings that clsrl sets for every job, and what to set instead.
MANAGED = {
    "output_dir": "nothing: checkpoints go to results/checkpoints/ and models to results/models/",
    "bf16": "training.precision",
    "fp16": "training.precision",
    "use_cpu": "nothing: the job trains on the GPU when one is visible",
    "per_device_train_batch_size": (
        "training.grpo_completions_per_device or training.sft_examples_per_device"
    ),
    "gradient_accumulation_steps": (
        "training.grpo_completions_per_step or training.sft_examples_per_step (accumulation "
        "follows from them and training.gpus)"
    ),
    "num_train_epochs": "training.epochs",
    "max_steps": "training.max_steps",
    "seed": "training.trainer_seed",
    "gradient_checkpointing": "training.gradient_checkpointing",
    "activation_checkpointing": "training.gradient_checkpointing",
    "save_strategy": "training.save_steps",
    "save_steps": "training.save_steps",
    "save_total_limit": "training.keep_checkpoints",
    "logging_steps": "nothing: every step is logged (log_history.csv)",
    "report_to": "training.report_to (every step is logged to log_history.csv too)",
    "run_name": "nothing: a tracker's run is named by the job (training.report_to)",
    "log_completions": "nothing: it is a runtime option of python -m clsrl.training.train",
    "model_init_kwargs": "training.precision (the model is loaded by clsrl)",
}
MAX_SUGGESTIONS = 3


@cache
def _shipped_fields() -> dict:
    """clsrl/schemas/trl_fields.json, read once."""
    text = resources.files("clsrl").joinpath(FIELDS_RESOURCE).read_text(encoding="utf-8")
    return json.loads(text)


@cache
def trl_fields() -> dict[str, frozenset[str]]:
    """Trainer (`grpo`, `sft`) -> the names its TRL config class accepts."""
    return {trainer: frozenset(_shipped_fields()[trainer]) for trainer in TRAINER_CLASSES}


def trl_key_problems(trainer: str, settings: dict, where: str) -> list[str]:
    """One message per key of `settings` that the trainer's TRL config does not take, or that
    clsrl sets itself; `where` is the config key holding the settings."""
    fields = trl_fields()[trainer]
    problems = []
    for key in settings:
        if key in MANAGED:
            problems.append(
                f"config key '{where}.{key}' is set by clsrl: use {MANAGED[key]} instead."
            )
        elif key not in fields:
            close = difflib.get_close_matches(key, sorted(fields), n=MAX_SUGGESTIONS)
            suggestion = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            problems.append(
                f"config key '{where}.{key}' is not a setting of trl.{TRAINER_CLASSES[trainer]}."
                f"{suggestion} See the TRL documentation of {TRAINER_CLASSES[trainer]} for the "
                "settings it takes."
            )
    return problems


@cache
def trl_types() -> dict[str, dict[str, dict]]:
    """Trainer -> field -> {"kinds": [...], "choices": [...]} (clsrl/schemas/trl_fields.json)."""
    return _shipped_fields()["types"]


def _number(text: str):
    """A YAML 1.1 string that is a number (`1e-6`: YAML 1.1 needs a dot for a float), or None."""
    try:
        return float(text)
    except ValueError:
        return None


def check_trl_value(trainer: str, key: str, value, where: str):
    """(`value` as TRL takes it, None) or (value, the problem): the value's type against the TRL
    field's annotation, its choices (TRL's and transformers' enums, `STRING_CHOICES`) and the
    ranges TRL enforces only in the job (`RANGES`). A number written as a YAML string (`1e-6`) is
    taken as the number.

    >>> check_trl_value("grpo", "learning_rate", "1e-6", "training.trl.grpo")
    (1e-06, None)
    >>> print(check_trl_value("grpo", "loss_type", "drgrpo", "training.trl.grpo")[1])
    ... # doctest: +ELLIPSIS
    config key 'training.trl.grpo.loss_type' is 'drgrpo'; trl.GRPOConfig takes one of ... \
Did you mean 'dr_grpo'?
    """
    field = trl_types()[trainer].get(key)
    if field is None:
        return value, None
    kinds = set(field["kinds"]) | ALSO_ACCEPTS.get(key, set())
    name = f"config key '{where}.{key}'"
    value, wrong = _as_kind(value, kinds)
    if wrong:
        return value, (
            f"{name} is {value!r} ({type(value).__name__}); trl.{TRAINER_CLASSES[trainer]} "
            f"takes {' or '.join(sorted(kinds - {'enum'}))} there: write {_example(value, kinds)}"
        )
    choices = field.get("choices") or STRING_CHOICES.get(trainer, {}).get(key)
    if isinstance(value, str) and choices and value not in choices:
        close = difflib.get_close_matches(value, choices, n=1)
        return value, (
            f"{name} is {value!r}; trl.{TRAINER_CLASSES[trainer]} takes one of "
            f"{', '.join(choices)}." + (f" Did you mean {close[0]!r}?" if close else "")
        )
    low, high, why = RANGES.get(key, (None, None, ""))
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if number and _out_of_range(value, low, high):
        return value, f"{name} is {value!r}; {why}."
    return value, None


def _example(value, kinds: set[str]) -> str:
    """What to write instead of `value`: a whole number near a fraction, else a sample value."""
    if "int" in kinds and isinstance(value, float) and "float" not in kinds:
        return f"a whole number, e.g. {int(value)}"
    return f"e.g. {EXAMPLES.get(min(kinds - {'none', 'enum'}, default='str'), '...')}"


def _out_of_range(value: float, low, high) -> bool:
    if low is not None:
        bound, inclusive = low
        if value < bound or (value == bound and not inclusive):
            return True
    return high is not None and value > high


def _as_kind(value, kinds: set[str]):
    """(value as one of `kinds`, wrong?): ints are floats where a float is asked, a string that is
    a number is that number where a number and no string is asked."""
    if value is None:
        return value, "none" not in kinds
    if isinstance(value, bool):
        return value, "bool" not in kinds
    if isinstance(value, str):
        if "str" in kinds or "enum" in kinds:
            return value, False
        number = _number(value)
        if number is not None and "float" in kinds:
            return number, False
        if number is not None and "int" in kinds and number.is_integer():
            return int(number), False
        return value, True
    if isinstance(value, int):
        if "int" in kinds:
            return value, False
        return (float(value), False) if "float" in kinds else (value, True)
    if isinstance(value, float):
        return value, "float" not in kinds
    if isinstance(value, list):
        return value, "list" not in kinds
    if isinstance(value, dict):
        return value, "dict" not in kinds
    return value, True


EXAMPLES = {"float": "1.0e-6", "int": "4", "bool": "true", "str": "a name", "list": "[a, b]"}
EXAMPLES["dict"] = "{key: value}"
# String fields whose values TRL checks only in the trainer (each value is named in the field's
# help text of the pinned TRL; a test checks it).
STRING_CHOICES = {
    "grpo": {
        "loss_type": ["grpo", "dr_grpo", "dapo", "bnpo", "cispo", "sapo", "luspo", "vespo"],
        "scale_rewards": ["group", "batch", "none"],
        "importance_sampling_level": ["token", "sequence"],
        "vllm_mode": ["server", "colocate"],
    },
    "sft": {"loss_type": ["nll", "dft"]},
}
# Values a field's help text allows beyond its annotation (`scale_rewards: true` is "group").
ALSO_ACCEPTS = {"scale_rewards": {"bool"}}
# key -> ((bound, inclusive) or None, upper bound or None, why): ranges TRL checks only in a job.
RANGES = {
    "num_generations": ((2, True), None, "GRPO compares the completions of a group: at least 2"),
    "temperature": ((0, False), None, "sampling needs a temperature above 0"),
    "max_completion_length": ((1, True), None, "a completion needs at least 1 token"),
    "learning_rate": ((0, True), None, "a learning rate cannot be negative"),
    "beta": ((0, True), None, "the KL coefficient cannot be negative"),
    "num_iterations": ((1, True), None, "at least 1 update per generation batch"),
    "top_p": ((0, False), 1, "top_p is a probability mass in (0, 1]"),
}


def installed_trl_fields() -> dict:
    """The field names, and each field's accepted kinds and choices, of the installed TRL's
    config classes (imports TRL: seconds)."""
    import dataclasses

    import trl

    fields = {
        trainer: [f for f in dataclasses.fields(getattr(trl, name)) if f.init]
        for trainer, name in TRAINER_CLASSES.items()
    }
    return {
        "trl_version": trl.__version__,
        **{trainer: sorted(f.name for f in found) for trainer, found in fields.items()},
        "types": {
            trainer: {f.name: _field_type(f.type) for f in sorted(found, key=lambda f: f.name)}
            for trainer, found in fields.items()
        },
    }


def _field_type(annotation) -> dict:
    """{"kinds": what a dataclass annotation accepts, "choices": an enum's values, if any}."""
    import enum
    import types
    import typing

    kinds, choices = set(), []
    for part in _union_parts(annotation, typing, types):
        origin = typing.get_origin(part) or part
        if part is type(None):
            kinds.add("none")
        elif part in (bool, int, float, str):
            kinds.add(part.__name__)
        elif isinstance(part, type) and issubclass(part, enum.Enum):
            kinds.add("enum")
            choices += [str(member.value) for member in part]
        elif origin in (list, tuple):
            kinds.add("list")
        elif origin is dict:
            kinds.add("dict")
        else:
            kinds.add("any")
    entry = {"kinds": sorted(kinds)}
    if choices and "any" not in kinds:
        entry["choices"] = choices
    return entry


def _union_parts(annotation, typing, types) -> list:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [p for arg in typing.get_args(annotation) for p in _union_parts(arg, typing, types)]
    if typing.get_origin(annotation) is typing.Literal:
        return [type(arg) if arg is not None else type(None) for arg in typing.get_args(annotation)]
    return [annotation]


def main(argv: list[str] | None = None) -> None:
    """Print the installed TRL's field names, or write them to the data file (`--write`)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"write clsrl/{FIELDS_RESOURCE}")
    args = parser.parse_args(argv)
    text = json.dumps(installed_trl_fields(), indent=1) + "\n"
    if args.write:
        path = resources.files("clsrl").joinpath(FIELDS_RESOURCE)
        with open(str(path), "w", encoding="utf-8") as handle:
            handle.write(text)
        print(f"wrote {path}")
    else:
        print(text, end="")


if __name__ == "__main__":
    main()
