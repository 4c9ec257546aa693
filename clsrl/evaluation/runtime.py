"""How an evaluation job runs, not what it answers: the settings that rerun nothing.

>>> from clsrl.config import default_config
>>> evaluation_runtime(default_config())
EvaluationRuntime(batch_size=32, backend='transformers')
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EvaluationRuntime:
    """How an evaluation job runs, not what it answers: changing it reruns nothing."""

    batch_size: int
    backend: str


def evaluation_runtime(config: dict) -> EvaluationRuntime:
    """The runtime settings of a validated config's `evaluation` section."""
    evaluation = config["evaluation"]
    return EvaluationRuntime(batch_size=evaluation["batch_size"], backend=evaluation["backend"])
