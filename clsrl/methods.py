"""The methods a study can run, as data: what trains the model and which prompt style it uses.

Training methods (SFT, CLS-RL, No-Thinking) join this registry with the training stage; today the
registry holds the untrained baseline.

>>> METHODS["zero-shot"].trainer is None
True
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MethodSpec:
    """A method: its trainer (None = no training) and the prompt style it trains and evaluates with.

    A method without a trainer is evaluated with every style in `evaluation.zero_shot_styles`.
    """

    name: str
    trainer: str | None
    prompt_style: str | None
    description: str


METHODS: dict[str, MethodSpec] = {
    spec.name: spec
    for spec in (
        MethodSpec(
            name="zero-shot",
            trainer=None,
            prompt_style=None,
            description="The base model as it is, evaluated with each zero-shot prompt style.",
        ),
    )
}
