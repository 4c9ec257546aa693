"""Model families: everything that differs between vision-language model families, in one table.

A checkpoint's family is looked up from its config's `model_type` (`config.json`); nothing else
in clsrl names a family (the tiny builders in clsrl.tiny_model excepted). A family not in the
table is refused with its `model_type` named and what to add:

>>> family_for("qwen2_5_vl").name
'Qwen2.5-VL'
>>> try:
...     family_for("llava")
... except UnknownFamilyError as error:
...     print(str(error)[:56])
model_type 'llava' is not a supported model family; supp

To add a family: an entry in FAMILIES with the facts below, a tiny random builder in
clsrl.tiny_model (its real architecture, processor and chat template), and its row in the
family tests (tests/test_families.py), which train and evaluate it end to end.
"""

from __future__ import annotations

from dataclasses import dataclass


class UnknownFamilyError(ValueError):
    """A checkpoint whose model_type is not in FAMILIES."""


@dataclass(frozen=True)
class Family:
    """What clsrl must know of a model family."""

    name: str
    checkpoints: tuple[str, ...]  # hub checkpoints a user would name
    placeholder_tokens: tuple[str, ...]  # the processor expands these into image features
    tiny_builtin: str  # the offline tiny random build of the family (builtin:NAME)


FAMILIES = {
    "qwen2_vl": Family(
        name="Qwen2-VL",
        checkpoints=("Qwen/Qwen2-VL-2B-Instruct", "Qwen/Qwen2-VL-7B-Instruct"),
        placeholder_tokens=("<|image_pad|>", "<|video_pad|>"),
        tiny_builtin="tiny-qwen2-vl",
    ),
    "qwen2_5_vl": Family(
        name="Qwen2.5-VL",
        checkpoints=("Qwen/Qwen2.5-VL-3B-Instruct", "Qwen/Qwen2.5-VL-7B-Instruct"),
        placeholder_tokens=("<|image_pad|>", "<|video_pad|>"),
        tiny_builtin="tiny-qwen2.5-vl",
    ),
}


def family_for(model_type: str, model: str | None = None) -> Family:
    """The family of a checkpoint's `model_type`; UnknownFamilyError naming it otherwise."""
    if model_type in FAMILIES:
        return FAMILIES[model_type]
    source = f" (base_model {model!r})" if model else ""
    supported = ", ".join(f"{family.name} ({key})" for key, family in FAMILIES.items())
    raise UnknownFamilyError(
        f"model_type {model_type!r}{source} is not a supported model family; supported: "
        f"{supported}. To add it: an entry in clsrl/families.py FAMILIES, a tiny builder in "
        'clsrl/tiny_model.py and its row in tests/test_families.py (README "Model families")'
    )
