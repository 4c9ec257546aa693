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
    "report_to": "nothing: every step is logged (log_history.csv)",
    "log_completions": "nothing: it is a runtime option of python -m clsrl.train",
    "model_init_kwargs": "training.precision (the model is loaded by clsrl)",
}
MAX_SUGGESTIONS = 3


@cache
def trl_fields() -> dict[str, frozenset[str]]:
    """Trainer (`grpo`, `sft`) -> the names its TRL config class accepts."""
    text = resources.files("clsrl").joinpath(FIELDS_RESOURCE).read_text(encoding="utf-8")
    data = json.loads(text)
    return {trainer: frozenset(data[trainer]) for trainer in TRAINER_CLASSES}


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


def installed_trl_fields() -> dict:
    """The field names of the installed TRL's config classes (imports TRL: seconds)."""
    import dataclasses

    import trl

    return {
        "trl_version": trl.__version__,
        **{
            trainer: sorted(f.name for f in dataclasses.fields(getattr(trl, name)) if f.init)
            for trainer, name in TRAINER_CLASSES.items()
        },
    }


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
