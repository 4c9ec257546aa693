"""Resolve what one training job does, from the config: a plain JSON-able dict, the job's spec.

    python -m clsrl.training.spec cls-rl ImageNet --configfile config.yaml --gpus 8

The spec holds exactly the settings that affect the trained model (base model, method, TRL
arguments, dataset, shots, seed, image size, LoRA, precision, process count) and the training
stage's version (with `rule_versions` where a reward has its own, clsrl.stages.RULE_VERSIONS),
so Snakemake reruns a training job when, and only when, its spec changes. It
imports no torch: the Snakefile calls it.

>>> from clsrl.config import validate_config
>>> config = validate_config({"datasets": ["demo-colours"], "methods": ["no-thinking"]})
>>> spec = training_spec(config, "no-thinking", "demo-colours", shots=4, seed=1)
>>> spec["trl"]["per_device_train_batch_size"], spec["trl"]["gradient_accumulation_steps"]
(4, 16)
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import yaml

from clsrl.config import validate_config
from clsrl.datasets.registry import math_verify_may_fire
from clsrl.methods import TRAINER_PRESETS, MethodSpec, resolve_methods
from clsrl.stages import RULE_VERSIONS, STAGE_VERSIONS
from clsrl.training.rewards import ACCURACY_RULES
from clsrl.views import View


def steps_layout(total: int, per_device: int, processes: int, what: str) -> int:
    """Gradient accumulation so that each optimizer step sees `total` examples on any GPU count.

    >>> steps_layout(64, 4, 8, "completions")
    2
    >>> steps_layout(64, 4, 3, "completions")
    Traceback (most recent call last):
    ...
    ValueError: 64 completions per step cannot be split into 3 process(es) x 4 per device; ...
    """
    accumulation, remainder = divmod(total, per_device * processes)
    if remainder or accumulation < 1:
        raise ValueError(
            f"{total} {what} per step cannot be split into {processes} process(es) x {per_device} "
            f"per device; choose a GPU count and per-device batch whose product divides {total} "
            "(config keys training.gpus and training.*_per_device)"
        )
    return accumulation


def epochs_for(training: dict, view: str) -> float:
    """Training epochs for a dataset (or a view of it, e.g. `EuroSAT.base`): its own entry in
    training.epochs, else the default."""
    epochs = training["epochs"]
    return epochs.get(View.parse(view).dataset, epochs["default"])


def accuracy_reward(name: str, rule: str, dataset: str) -> str:
    """A method's reward under `training.accuracy_rule`: the reference code's accuracy reward in
    place of the paper's `thinking_accuracy` (protocol section 5), on a dataset where the two can
    differ (clsrl.datasets.registry.math_verify_may_fire); any other reward as it is. Where they
    cannot differ the spec keeps the paper's name, so switching the rule retrains nothing there.

    >>> [accuracy_reward(name, "reference-code", "StanfordCars")
    ...  for name in ("thinking_accuracy", "thinking_format")]
    ['thinking_accuracy_reference', 'thinking_format']
    >>> accuracy_reward("thinking_accuracy", "reference-code", "EuroSAT")
    'thinking_accuracy'
    """
    if name != ACCURACY_RULES["paper"] or rule == "paper" or not math_verify_may_fire(dataset):
        return name
    return ACCURACY_RULES[rule]


def uses_lora(method_lora: bool | None, lora: dict) -> bool:
    """A method's own LoRA choice, else the study-wide one."""
    return lora["enabled"] if method_lora is None else method_lora


def training_spec(
    config: dict,
    method_name: str,
    dataset: str,
    shots: int,
    seed: int,
    methods: dict[str, MethodSpec] | None = None,
) -> dict:
    """The spec of one training job; see the module docstring. `methods`: the resolved methods
    (clsrl.workflow.study.Study.methods), resolved from the config when not given."""
    methods = methods or resolve_methods(config.get("method_variants"))
    method = methods[method_name]
    if method.trainer is None:
        raise ValueError(f"method {method_name!r} has no trainer: nothing to train")
    training = config["training"]
    processes = training["gpus"]
    per_step, per_device = (
        (training["grpo_completions_per_step"], training["grpo_completions_per_device"])
        if method.trainer == "grpo"
        else (training["sft_examples_per_step"], training["sft_examples_per_device"])
    )
    what = "completions" if method.trainer == "grpo" else "examples"
    trl = {
        **TRAINER_PRESETS[method.trainer],
        **training["trl"].get(method.trainer, {}),
        **method.trl,
        "per_device_train_batch_size": per_device,
        "gradient_accumulation_steps": steps_layout(per_step, per_device, processes, what),
        "num_train_epochs": epochs_for(training, dataset),
        "max_steps": training["max_steps"],
        "seed": seed if training["trainer_seed"] == "split" else training["trainer_seed"],
        "gradient_checkpointing": training["gradient_checkpointing"],
    }
    rewards = [
        accuracy_reward(name, training["accuracy_rule"], View.parse(dataset).dataset)
        for name in method.rewards
    ]
    versioned = {name: RULE_VERSIONS[name] for name in rewards if name in RULE_VERSIONS}
    return {
        "stage_version": STAGE_VERSIONS["training"],
        **({"rule_versions": versioned} if versioned else {}),
        "base_model": config["base_model"],
        "method": method_name,
        "trainer": method.trainer,
        "prompt_style": method.prompt_style,
        "rewards": rewards,
        "dataset": dataset,
        "shots": shots,
        "seed": seed,
        "image_resize": config["images"]["resize"],
        "processes": processes,
        "precision": training["precision"],
        "lora": training["lora"] if uses_lora(method.lora, training["lora"]) else None,
        "trl": trl,
    }


def spec_hash(spec: dict) -> str:
    """A short, key-order-independent hash of a training spec."""
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def spec_checkpoint_dir(checkpoint_root: str | Path, spec: dict) -> Path:
    """Where this spec's checkpoints (and marks, clsrl.compute.gpu_oom) go, below the job's
    checkpoint folder: a changed spec never meets an earlier spec's."""
    return Path(checkpoint_root) / f"spec-{spec_hash(spec)}"


def main(argv: list[str] | None = None) -> None:
    """Print the spec a training job would get (an empty config file gives the paper preset)."""
    parser = argparse.ArgumentParser(description="Print the resolved spec of one training job.")
    parser.add_argument("method")
    parser.add_argument("dataset")
    parser.add_argument("--configfile", help="a config file (default: none, the paper's values)")
    parser.add_argument("--shots", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--gpus", type=int, help="override training.gpus")
    args = parser.parse_args(argv)
    config = {}
    if args.configfile:
        with open(args.configfile, encoding="utf-8") as handle:
            config = yaml.safe_load(handle) or {}
    config.setdefault("methods", [args.method])
    if args.gpus:
        config.setdefault("training", {})["gpus"] = args.gpus
    spec = training_spec(validate_config(config), args.method, args.dataset, args.shots, args.seed)
    print(json.dumps(spec, indent=2))


if __name__ == "__main__":
    main()
