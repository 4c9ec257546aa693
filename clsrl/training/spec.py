"""Resolve what one training job does, from the config: the job's spec, a frozen TrainingSpec.

    python -m clsrl.training.spec cls-rl ImageNet --configfile config.yaml --gpus 8

The spec holds exactly the settings that affect the trained model (base model, method, TRL
arguments, the view trained on, shots, seed, image size, LoRA, precision, process count) and the
training stage's version (with `rule_versions` where a reward has its own,
clsrl.stages.RULE_VERSIONS). It travels as a plain mapping (`as_mapping()`): the train rule's
param, so Snakemake reruns a training job when, and only when, its spec changes; the job's
`training_spec.json`; the command line of each training process. It imports no torch: the
Snakefile calls it.

>>> from clsrl.config import validate_config
>>> config = validate_config({"datasets": ["demo-colours"], "methods": ["no-thinking"]})
>>> spec = training_spec(config, "no-thinking", "demo-colours", shots=4, seed=1)
>>> spec.trl["per_device_train_batch_size"], spec.trl["gradient_accumulation_steps"]
(4, 16)
>>> TrainingSpec.from_mapping(spec.as_mapping()) == spec
True
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import yaml

from clsrl.config import validate_config
from clsrl.datasets.registry import math_verify_may_fire
from clsrl.methods import TRAINER_PRESETS, MethodSpec, resolve_methods
from clsrl.stages import RULE_VERSIONS, STAGE_VERSIONS
from clsrl.training.rewards import ACCURACY_RULES
from clsrl.views import View


@dataclass(frozen=True)
class TrainingSpec:
    """What one training job trains (see the module docstring); `trl` and `lora` are read-only
    mappings. The field names are the keys of the specs that finished jobs hold (changing one
    would rerun every training job), so `dataset` holds the view trained on: a dataset or its
    base half, e.g. `EuroSAT.base`."""

    stage_version: int
    base_model: str
    method: str
    trainer: str  # grpo or sft
    prompt_style: str
    rewards: tuple[str, ...]
    dataset: str
    shots: int
    seed: int
    image_resize: int
    processes: int
    precision: str
    lora: Mapping | None
    trl: Mapping
    rule_versions: Mapping = field(default_factory=dict)

    def __post_init__(self):
        set_field = object.__setattr__  # the frozen dataclass's own way to set a field
        set_field(self, "rewards", tuple(self.rewards))
        set_field(self, "trl", MappingProxyType(dict(self.trl)))
        set_field(self, "rule_versions", MappingProxyType(dict(self.rule_versions)))
        if self.lora is not None:
            set_field(self, "lora", MappingProxyType(dict(self.lora)))

    def as_mapping(self) -> dict:
        """The spec as plain JSON values, in the key order and types of the specs written before
        this class (lists, not tuples; `rule_versions` only where a reward has one), so that a
        finished job's params, and its checkpoints' hash, are unchanged."""
        mapping = {"stage_version": self.stage_version}
        if self.rule_versions:
            mapping["rule_versions"] = dict(self.rule_versions)
        mapping.update(
            base_model=self.base_model,
            method=self.method,
            trainer=self.trainer,
            prompt_style=self.prompt_style,
            rewards=list(self.rewards),
            dataset=self.dataset,
            shots=self.shots,
            seed=self.seed,
            image_resize=self.image_resize,
            processes=self.processes,
            precision=self.precision,
            lora=copy.deepcopy(dict(self.lora)) if self.lora is not None else None,
            trl=copy.deepcopy(dict(self.trl)),
        )
        return mapping

    @classmethod
    def from_mapping(cls, mapping: Mapping) -> TrainingSpec:
        """The spec that `as_mapping()` wrote (a rule's param, a training_spec.json).

        >>> TrainingSpec.from_mapping({"method": "sft"})
        Traceback (most recent call last):
        ...
        ValueError: not a training spec: missing base_model, dataset, ...
        """
        names = {spec_field.name for spec_field in dataclasses.fields(cls)}
        required = names - {"rule_versions"}
        missing, unknown = sorted(required - set(mapping)), sorted(set(mapping) - names)
        if missing or unknown:
            problems = [f"missing {', '.join(missing)}"] if missing else []
            problems += [f"unknown {', '.join(unknown)}"] if unknown else []
            raise ValueError(
                f"not a training spec: {'; '.join(problems)}; print a valid one with "
                "`python -m clsrl.training.spec METHOD DATASET`"
            )
        return cls(**mapping)

    @property
    def hash(self) -> str:
        """The spec's short hash (spec_hash): names its checkpoint folder."""
        return spec_hash(self.as_mapping())

    def replace(self, **changes) -> TrainingSpec:
        """A copy with `changes` (a test's or a benchmark's variant of a job)."""
        return dataclasses.replace(self, **changes)


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
    view: str,
    shots: int,
    seed: int,
    methods: dict[str, MethodSpec] | None = None,
) -> TrainingSpec:
    """The spec of one training job on `view` (a dataset or its base half); see the module
    docstring. `methods`: the resolved methods (clsrl.workflow.study.Study.methods), resolved
    from the config when not given."""
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
        "num_train_epochs": epochs_for(training, view),
        "max_steps": training["max_steps"],
        "seed": seed if training["trainer_seed"] == "split" else training["trainer_seed"],
        "gradient_checkpointing": training["gradient_checkpointing"],
    }
    rewards = [
        accuracy_reward(name, training["accuracy_rule"], View.parse(view).dataset)
        for name in method.rewards
    ]
    versioned = {name: RULE_VERSIONS[name] for name in rewards if name in RULE_VERSIONS}
    return TrainingSpec(
        stage_version=STAGE_VERSIONS["training"],
        rule_versions=versioned,
        base_model=config["base_model"],
        method=method_name,
        trainer=method.trainer,
        prompt_style=method.prompt_style,
        rewards=rewards,
        dataset=view,
        shots=shots,
        seed=seed,
        image_resize=config["images"]["resize"],
        processes=processes,
        precision=training["precision"],
        lora=training["lora"] if uses_lora(method.lora, training["lora"]) else None,
        trl=trl,
    )


def spec_hash(mapping: Mapping) -> str:
    """A short, key-order-independent hash of a training spec's mapping (TrainingSpec.as_mapping).

    >>> spec_hash({"method": "sft", "trl": {"learning_rate": 1e-5}})
    '223d1d9e85b6'
    >>> spec_hash({"trl": {"learning_rate": 1e-5}, "method": "sft"})  # key order does not matter
    '223d1d9e85b6'
    """
    text = json.dumps(mapping, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def spec_checkpoint_dir(checkpoint_root: str | Path, spec: TrainingSpec) -> Path:
    """Where this spec's checkpoints (and marks, clsrl.compute.gpu_oom) go, below the job's
    checkpoint folder: a changed spec never meets an earlier spec's."""
    return Path(checkpoint_root) / f"spec-{spec.hash}"


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
    print(json.dumps(spec.as_mapping(), indent=2))


if __name__ == "__main__":
    main()
