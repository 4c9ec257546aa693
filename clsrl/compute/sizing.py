"""What each base model of a study needs, known before any job: its size (from its architecture),
the GPU memory of its jobs against the cluster's cards (config key `gpu_mem_gb`), and the requests
and GPU-hours of its jobs.

rules/common.smk prints `model_lines` once per run and stops the run before its first job with
`memory_problems` when a base model cannot fit the cards. A study that cannot fit is refused only
when it cannot fit at all (weights, gradients, optimizer states and the prompt's activations alone
overflow a card); one that fits only with short completions is a warning, with the same ways out.

>>> from clsrl.config import validate_config
>>> from clsrl.workflow.study import Study
>>> study = Study(validate_config({"datasets": ["EuroSAT"], "methods": ["no-thinking"],
...     "settings": ["fewshot"], "training": {"seeds": [1]}}))
>>> print(model_lines(study, base_sizes(study)[0])[0])  # doctest: +NORMALIZE_WHITESPACE
model Qwen2-VL-2B-Instruct (Qwen/Qwen2-VL-2B-Instruct): 2.21 B parameters (from
Qwen/Qwen2-VL-2B-Instruct's config.json, shipped with clsrl); training no-thinking about 75 GiB
per GPU; evaluation about 9 GiB; training jobs ask 1 GPU, 16 GB host memory, 99 min; 1 training
and 3 evaluation jobs, 4.8 GPU-hours requested
"""

from __future__ import annotations

from clsrl.compute.gpu_memory import TrainingShape, evaluation_gib, fits, training_gib
from clsrl.compute.resources import (
    DEFAULT_IMAGE_SIDE,
    eval_resources,
    num_classes,
    size_of_model,
    train_resources,
)
from clsrl.models.size import ModelSize, ModelSizeUnknown, billions, model_size
from clsrl.views import View

GPU_COUNTS = (2, 4, 8)  # the FSDP sizes a way out proposes


def base_sizes(study) -> tuple[dict[str, ModelSize], list[str]]:
    """Each base model's size by label, and a warning for each whose config.json is not at hand
    (its estimates then assume Qwen2-VL-2B's size)."""
    side = study.config["images"]["resize"] or DEFAULT_IMAGE_SIDE
    sizes, warnings = {}, []
    for label, model in study.base_models.items():
        try:
            sizes[label] = model_size(model, side)
        except ModelSizeUnknown as error:
            sizes[label] = size_of_model(model, side)
            warnings.append(
                f"base_model {model!r}: its size is unknown ({error}), so its jobs' memory and "
                "time requests assume Qwen2-VL-2B's; download the model (or its config.json) "
                "first to size them."
            )
    return sizes, warnings


def first_specs(study, label: str) -> dict:
    """One training spec per trained method of a base model (memory does not depend on the
    dataset, shots or seed)."""
    if not study.train_views:
        return {}
    view, shots, seed = study.train_views[0].name, study.shots[0], study.seeds[0]
    return {
        method: study.training_spec(method, view, shots, seed, model=label)
        for method in study.trained_methods
    }


def evaluation_memory(study, size: ModelSize) -> float:
    evaluation = study.config["evaluation"]
    return evaluation_gib(size, evaluation["batch_size"], evaluation["max_new_tokens"])


def model_lines(study, sizes: dict[str, ModelSize]) -> list[str]:
    """A line per base model: size, GPU memory per job, a training job's request, and the jobs
    and GPU-hours (requested GPUs x requested runtime) of all its jobs."""
    lines = []
    for label, size in sizes.items():
        specs = first_specs(study, label)
        memory = [
            f"training {method} about {training_gib(size, TrainingShape.of_spec(spec)):.0f} GiB "
            "per GPU"
            for method, spec in specs.items()
        ]
        memory.append(f"evaluation about {evaluation_memory(study, size):.0f} GiB")
        if size.tiny:
            memory = ["CPU-sized"]
        trains, evals = planned_jobs(study, label)
        ask = ""
        if trains:
            runtimes = sorted({job["runtime"] for job in trains})
            span = str(runtimes[0]) if len(runtimes) == 1 else f"{runtimes[0]}-{runtimes[-1]}"
            ask = (
                f"; training jobs ask {trains[0]['gpu']} GPU, {trains[0]['mem_mb'] / 1000:g} GB "
                f"host memory, {span} min"
            )
        hours = sum(job["gpu"] * job["runtime"] for job in trains + evals) / 60
        lines.append(
            f"model {label} ({study.base_model(label)}): {billions(size.parameters)} parameters "
            f"(from {size.source}); {'; '.join(memory)}{ask}; {len(trains)} training and "
            f"{len(evals)} evaluation jobs, {hours:.1f} GPU-hours requested"
        )
    return lines


def planned_jobs(study, label: str) -> tuple[list[dict], list[dict]]:
    """The first-attempt resources of every training and evaluation job of a base model."""
    config, base_model = study.config, study.base_model(label)
    trains, evals = [], []
    for run in study.trained_runs():
        if run["model"] != label:
            continue
        spec = study.training_spec(run["method"], run["view"], run["shots"], run["seed"], label)
        trains.append(train_resources(spec, num_classes(run["view"])))
        style = study.method_style(run["method"])
        for target in study.eval_targets(View.parse(run["view"])):
            evals.append(eval_resources(config, style, target, base_model=base_model))
    for style in study.zero_shot_styles:
        for target in study.zero_shot_targets():
            evals.append(eval_resources(config, style, target, base_model=base_model))
    return trains, evals


def memory_problems(study, sizes: dict[str, ModelSize]) -> tuple[list[str], list[str]]:
    """(problems, warnings) of each base model's jobs against config key gpu_mem_gb; none when
    it is not set. A problem: the job cannot fit; a warning: it fits only with short
    completions."""
    card = study.config["gpu_mem_gb"]
    if not card:
        return [], []
    problems, warnings = [], []
    for label, size in sizes.items():
        if size.tiny:
            continue
        model = (
            f"base model {label!r} ({study.base_model(label)}, {billions(size.parameters)} "
            "parameters)"
        )
        shapes: dict[TrainingShape, list[str]] = {}  # methods that train alike, said once
        for method, spec in first_specs(study, label).items():
            shapes.setdefault(TrainingShape.of_spec(spec), []).append(method)
        for shape, methods in shapes.items():
            worst, least = training_gib(size, shape), training_gib(size, shape.but(completion=0))
            if fits(worst, card):
                continue
            what = f"{model}: training {', '.join(methods)} ({shape.describe()})"
            ways = ways_out(size, shape, card)
            if not fits(least, card):
                problems.append(
                    f"{what} needs at least {least:.0f} GiB per GPU, more than 90% of "
                    f"gpu_mem_gb: {card:g}. {ways}"
                )
            else:
                warnings.append(
                    f"{what} needs up to {worst:.0f} GiB per GPU with {shape.completion}-token "
                    f"completions, more than 90% of gpu_mem_gb: {card:g}: it runs out of GPU "
                    f"memory if its completions grow that long. {ways}"
                )
        gib = evaluation_memory(study, size)
        if not fits(gib, card):
            problems.append(
                f"{model}: evaluation needs about {gib:.0f} GiB with evaluation.batch_size: "
                f"{study.config['evaluation']['batch_size']}, more than 90% of gpu_mem_gb: "
                f"{card:g}; lower evaluation.batch_size or use a card with more memory."
            )
    return problems, warnings


def ways_out(size: ModelSize, shape: TrainingShape, card: float | None) -> str:
    """The settings that would make a training job fit a card of `card` GB, each alone and then
    together until it fits (when the card is known), with their estimates (at the full
    completion length)."""
    key = "grpo_completions_per_device" if shape.trainer == "grpo" else "sft_examples_per_device"
    changes = []  # (setting, change), cheapest in compute first
    if not shape.checkpointing:
        changes.append(("training.gradient_checkpointing: true", {"checkpointing": True}))
    if not shape.lora_rank:
        changes.append(("training.lora.enabled: true", {"lora_rank": 64}))
    if shape.micro_batch > 2:
        changes.append((f"training.{key}: 2", {"micro_batch": 2}))
    changes += [
        (f"training.gpus: {gpus}", {"processes": gpus})
        for gpus in GPU_COUNTS
        if gpus > shape.processes
    ]
    alone = [
        f"{setting}{' (FSDP)' if 'gpus' in setting else ''} "
        f"(about {training_gib(size, shape.but(**change)):.0f} GiB)"
        for setting, change in changes
    ]
    completions = f" with {shape.completion}-token completions" if shape.completion else ""
    together = ""
    if card:
        chosen, combined = {}, shape
        for setting, change in changes:
            combined = combined.but(**change)
            chosen[setting.split(":")[0]] = setting  # a larger GPU count replaces a smaller
            if fits(training_gib(size, combined), card):
                break
        gib = training_gib(size, combined)
        verdict = "fits" if fits(gib, card) else "still too much"
        together = f" Together: {' + '.join(chosen.values())} (about {gib:.0f} GiB, {verdict})."
    return (
        f"Ways out, alone: {'; '.join(alone)}.{together} Or a larger card (gpu_mem_gb, best in "
        f"your profile). Estimates from the model's architecture{completions} "
        "(clsrl/compute/gpu_memory.py)."
    )
