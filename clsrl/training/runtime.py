"""How a training job runs, not what it trains: the settings that rerun nothing.

A job gets them as an object (rules/train.smk `params.runtime`), which Snakemake leaves out of
the params it compares to decide what reruns; what shapes the model is the training spec
(clsrl.training.spec).

>>> from clsrl.config import default_config
>>> runtime = training_runtime(default_config())
>>> runtime.save_steps, runtime.keep_checkpoints, runtime.report_to
(50, False, ())
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainingRuntime:
    """How a training job runs, not what it trains: changing it reruns nothing."""

    save_steps: int
    keep_checkpoints: bool
    multi_gpu_config: str
    log_completions: bool = False  # a command-line option of clsrl.training.train, not a key
    report_to: tuple[str, ...] = ()  # trackers of the per-step metrics (training.report_to)
    run_name: str | None = None  # the job's identity, a tracker's run name


def training_runtime(config: dict) -> TrainingRuntime:
    """The runtime settings of a validated config's `training` section."""
    training = config["training"]
    return TrainingRuntime(
        save_steps=training["save_steps"],
        keep_checkpoints=training["keep_checkpoints"],
        multi_gpu_config=training["multi_gpu_config"],
        report_to=tuple(training["report_to"]),
    )
