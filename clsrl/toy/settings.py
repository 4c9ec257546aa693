"""The toy model's settings and the shipped toy model's facts, without building anything (no torch,
no trainer): what the study asks while planning (clsrl.workflow.study) and what the build uses
(clsrl.toy.model).

>>> from dataclasses import asdict
>>> from clsrl.config import default_config
>>> toy_settings(default_config()).image_size == default_config()["demo_data"]["image_size"]
True
>>> shipped_settings()["toy"] == asdict(toy_settings(default_config()))  # the shipped one's
True
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

RECORD_FILE = "pretraining_record.json"
LOG_HISTORY_FILE = "log_history.csv"


@dataclass(frozen=True)
class ToySettings:
    """The pre-training stage: the `toy_model` config section and the demo's image size."""

    seed: int
    steps: int
    batch_size: int
    learning_rate: float
    image_size: int


def toy_settings(config: dict) -> ToySettings:
    """The pre-training settings of a validated config: its `toy_model` section and the demo's
    image size (the job's threads are its rule's `threads`)."""
    toy = config["toy_model"]
    return ToySettings(
        seed=toy["seed"],
        steps=toy["steps"],
        batch_size=toy["batch_size"],
        learning_rate=toy["learning_rate"],
        image_size=config["demo_data"]["image_size"],
    )


def tiny_model_params(config: dict) -> dict:
    """clsrl.models.tiny.build_tiny_model's settings of builtin:tiny-qwen2-vl, which the toy model
    starts from."""
    tiny = config["tiny_model"]
    return {"seed": tiny["seed"], "image_pixels": tiny["image_pixels"]}


SHIPPED = "artefacts/toy-qwen2-vl"  # in the package: the toy model the demo and tests start from
CHECKSUMS_FILE = "SHA256SUMS"
PROVENANCE_FILES = (RECORD_FILE, LOG_HISTORY_FILE)  # what and how it was built: no job reads them


def shipped_folder() -> Path:
    return Path(str(resources.files("clsrl").joinpath(SHIPPED)))


def shipped_settings() -> dict | None:
    """The settings the shipped toy model was built with: {"toy": ..., "tiny": ...}; None when
    this checkout ships none (the workflow then pre-trains it)."""
    path = shipped_folder() / RECORD_FILE
    if not path.is_file():
        return None
    record = json.loads(path.read_text(encoding="utf-8"))
    return {"toy": record["toy_settings"], "tiny": record["tiny_settings"]}


def shipped_digest() -> str | None:
    """sha256 of the shipped toy model's SHA256SUMS lines of the files a job computes with (a
    param of rule build_toy_model, so that a rebuilt shipped model with other weights is copied
    again, and a refreshed record alone reruns nothing); None when this checkout ships none."""
    path = shipped_folder() / CHECKSUMS_FILE
    if not path.is_file():
        return None
    lines = path.read_text(encoding="utf-8").splitlines()
    computed = [line for line in lines if line.split(maxsplit=1)[1] not in PROVENANCE_FILES]
    return hashlib.sha256("\n".join(computed).encode()).hexdigest()
