"""The study's base models: config key `base_model` is one model, a list, or labels -> models.

Each base model gets a label: the folder its jobs write under (`results/models/LABEL/...`) and the
`model` column of every table. A label depends on its model alone, never on the other models of
the study, so adding a base model leaves every output of the others in place (it runs only its own
jobs):

>>> base_models("Qwen/Qwen2-VL-2B-Instruct")
{'Qwen2-VL-2B-Instruct': 'Qwen/Qwen2-VL-2B-Instruct'}
>>> base_models(["builtin:tiny-qwen2-vl", "/models/smolvlm/"])
{'tiny-qwen2-vl': 'builtin:tiny-qwen2-vl', 'smolvlm': '/models/smolvlm/'}
>>> base_models({"qwen3": "Qwen/Qwen3-VL-2B-Instruct"})  # labels of your own
{'qwen3': 'Qwen/Qwen3-VL-2B-Instruct'}
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from clsrl.io import looks_like_local_path

BUILTIN_PREFIX = "builtin:"


@dataclass(frozen=True)
class BuiltinModel:
    """A base model the workflow makes itself (`builtin:NAME`): the clsrl.models.tiny shape it is
    built with (whose `architecture` is its family's model_type), its parameter count (None: read
    from the shipped config.json of the real model it copies, clsrl.models.size) and its rule."""

    shape: str
    parameters: int | None
    rule: str = "build_tiny_model"


# Every built-in model, in one table (tests/models/test_model_size.py checks the counts against
# builds).
BUILTIN_MODELS = {
    "tiny-qwen2-vl": BuiltinModel("tiny", 219_392),
    "tiny-qwen2.5-vl": BuiltinModel("tiny-qwen2.5-vl", 223_456),
    "tiny-qwen3-vl": BuiltinModel("tiny-qwen3-vl", 256_288),
    "tiny-gemma3": BuiltinModel("tiny-gemma3", 178_496),
    "tiny-idefics3": BuiltinModel("tiny-idefics3", 184_288),
    # tiny-qwen2-vl after its pre-training (clsrl.toy): the shipped copy, or pre-trained anew
    "toy-qwen2-vl": BuiltinModel("tiny", 219_392, rule="build_toy_model"),
    # Qwen2-VL-2B-Instruct's architecture with random weights (bf16): the rehearsal at full size
    "qwen2-vl-2b-random": BuiltinModel("qwen2-vl-2b", None, rule="build_full_size_model"),
}
# name -> shape of the models rule build_tiny_model makes
TINY_BUILDS = {
    name: model.shape for name, model in BUILTIN_MODELS.items() if model.rule == "build_tiny_model"
}


def is_builtin_model(name: str) -> bool:
    """Whether the base model is one the workflow builds itself (e.g. builtin:tiny-qwen2-vl)."""
    return name.startswith(BUILTIN_PREFIX)


LABEL_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")


def model_label(model: str) -> str:
    """A model's default label: a built-in's name, a hub id's repository name, a folder's name.

    >>> [model_label(m) for m in ("builtin:toy-qwen2-vl", "google/gemma-3-4b-it", "./ckpt/best")]
    ['toy-qwen2-vl', 'gemma-3-4b-it', 'best']
    """
    if model.startswith(BUILTIN_PREFIX):
        return model.removeprefix(BUILTIN_PREFIX)
    if looks_like_local_path(model):
        return Path(model.rstrip("/") or "/").expanduser().name
    return model.rstrip("/").split("/")[-1]


def base_models(value: str | list | dict) -> dict[str, str]:
    """Label -> model of config key `base_model` (validated: labels unique, see `problems`)."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, dict):
        return dict(value)
    return {model_label(model): model for model in value}


def problems(value: str | list | dict) -> list[str]:
    """What is wrong with config key `base_model` beyond its schema: labels that are not folder
    names, two models with the same label."""
    key = "config key 'base_model'"
    if isinstance(value, dict):
        return [
            f"{key}: label {label!r} cannot name a folder; use letters, digits and . _ + - "
            "(starting with a letter or digit)."
            for label in value
            if not LABEL_PATTERN.fullmatch(label)
        ]
    models = [value] if isinstance(value, str) else list(value)
    found, seen = [], {}
    for model in models:
        label = model_label(model)
        if label in seen:
            found.append(
                f"{key}: {seen[label]!r} and {model!r} both get the label {label!r} (the folder "
                "their results go to); give each a label of your own: base_model: "
                f"{{{label}-a: {seen[label]}, {label}-b: {model}}}."
            )
        elif not LABEL_PATTERN.fullmatch(label):
            found.append(
                f"{key}: {model!r} gives the label {label!r}, which cannot name a folder; give it "
                f"a label of your own: base_model: {{my-model: {model}}}."
            )
        seen.setdefault(label, model)
    return found
