"""Evaluate one model on one target's questions: per-item predictions and per-dataset metrics.

Both metrics of protocol section 7 are reported side by side: the paper's lenient containment and a
strict exact match. For thinking outputs, whether the class named inside `<think>` agrees with the
answer is recorded too, with accuracy split by agreement.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from clsrl.answers import EVAL_ANSWER_RULES, lenient_match, strict_match, think_answer_agrees
from clsrl.compute.gpu_oom import (
    GpuOutOfMemory,
    earlier_out_of_memory,
    evaluation_mark,
    evaluation_out_of_memory_message,
    record_out_of_memory,
)
from clsrl.evaluation.inference import TransformersGenerator, load_image
from clsrl.evaluation.vllm_backend import VllmGenerator
from clsrl.io import write_atomic, write_json
from clsrl.models.loading import load_model_and_processor, resolve_device, resolve_precision
from clsrl.prompts import render_prompt
from clsrl.provenance import provenance
from clsrl.questions import read_questions


@dataclass(frozen=True)
class EvalSettings:
    """How a model is asked and decoded (clsrl.workflow.study.Study.eval_settings builds them from
    the `evaluation` config section): what shapes its answers."""

    style: str
    wording: str
    max_new_tokens: int
    image_resize: int
    base_classes: bool  # selects the reference code's base-class wording
    empty_answer: str = "paper"  # what an empty answer tag counts as: paper | reference-code


def score_output(output: str, question: dict, empty_answer: str) -> dict:
    """One prediction row: the raw output, the parsed answer and its verdict under both rules;
    `empty_answer` is the rule for an empty answer tag (clsrl.answers.EVAL_ANSWER_RULES).

    >>> question = {"classname": "red", "options": ["red"]}
    >>> row = score_output("<answer>red</answer>", question, "paper")
    >>> row["answer"], row["lenient_correct"], row["strict_correct"]
    ('red', True, True)
    """
    answer = EVAL_ANSWER_RULES[empty_answer](output)
    truth = question["classname"]
    candidates = question["options"] or [truth]
    return {
        "output": output,
        "answer": answer,
        "lenient_correct": lenient_match(answer, truth),
        "strict_correct": strict_match(answer, truth),
        "think_agrees": think_answer_agrees(output, candidates),
    }


def percent(hits: int, total: int) -> float | None:
    """hits / total in percent, None for an empty set."""
    return 100.0 * hits / total if total else None


def summarize(predictions: list[dict]) -> dict:
    """Per-dataset metrics from prediction rows (accuracies in percent).

    >>> summarize([{"lenient_correct": True, "strict_correct": False, "think_agrees": None}])
    ... # doctest: +NORMALIZE_WHITESPACE
    {'n': 1, 'lenient_accuracy': 100.0, 'strict_accuracy': 0.0,
     'think_agreement': {'n_checked': 0, 'n_agree': 0, 'lenient_accuracy_agree': None,
                         'lenient_accuracy_disagree': None}}
    """
    total = len(predictions)
    checked = [p for p in predictions if p["think_agrees"] is not None]
    agree = [p for p in checked if p["think_agrees"]]
    disagree = [p for p in checked if not p["think_agrees"]]
    return {
        "n": total,
        "lenient_accuracy": percent(sum(p["lenient_correct"] for p in predictions), total),
        "strict_accuracy": percent(sum(p["strict_correct"] for p in predictions), total),
        "think_agreement": {
            "n_checked": len(checked),
            "n_agree": len(agree),
            "lenient_accuracy_agree": percent(sum(p["lenient_correct"] for p in agree), len(agree)),
            "lenient_accuracy_disagree": percent(
                sum(p["lenient_correct"] for p in disagree), len(disagree)
            ),
        },
    }


BACKENDS = ("transformers", "vllm")


def evaluate_questions(
    generator, questions: list[dict], dataset_root: Path, settings: EvalSettings, batch_size: int
) -> tuple[list[dict], dict]:
    """Generate and score an answer for every question, `batch_size` images per generation
    batch; returns (predictions, metrics).

    `generator(images, prompts, max_new_tokens) -> answers` is a backend (`load_generator`).
    """
    predictions: list[dict] = []
    started = time.perf_counter()
    with tqdm(total=len(questions), unit="img", desc=f"evaluate ({settings.style})") as progress:
        for first in range(0, len(questions), batch_size):
            batch = questions[first : first + batch_size]
            images = [load_image(dataset_root / q["image"], settings.image_resize) for q in batch]
            prompts = [
                render_prompt(
                    settings.style, q["problem"], settings.wording, base=settings.base_classes
                )
                for q in batch
            ]
            outputs = generator(images, prompts, settings.max_new_tokens)
            for question, prompt, output in zip(batch, prompts, outputs, strict=True):
                predictions.append(
                    {
                        "image": question["image"],
                        "label": question["label"],
                        "classname": question["classname"],
                        "prompt": prompt,
                        **score_output(output, question, settings.empty_answer),
                    }
                )
            progress.update(len(batch))
    seconds = time.perf_counter() - started
    metrics = summarize(predictions)
    metrics.update(
        seconds=round(seconds, 3),
        images_per_second=round(len(predictions) / seconds, 3) if seconds else None,
        settings=asdict(settings),
        batch_size=batch_size,
    )
    return predictions, metrics


def load_generator(model_name_or_path: str, backend: str, device: str, precision: str):
    """A generation backend for a model: transformers (default) or vLLM (optional, GPU).

    The vLLM backend needs `pip install vllm`; without it, a clear error says so.
    """
    if backend == "vllm":
        if resolve_device(device) == "cpu":
            raise ValueError(
                "evaluation.backend is 'vllm', which needs a GPU, but evaluation.device is 'cpu' "
                "or no GPU is visible: run where a GPU is, or set evaluation.backend: transformers"
            )
        # our `auto` rule (bfloat16 where supported, else float32), not vLLM's own
        return VllmGenerator(
            model_name_or_path,
            dtype=str(resolve_precision(precision, "cuda")).removeprefix("torch."),
        )
    if backend != "transformers":
        raise ValueError(f"unknown evaluation backend {backend!r}; use one of {BACKENDS}")
    return TransformersGenerator(
        *load_model_and_processor(model_name_or_path, device=device, precision=precision)
    )


def run_evaluation(
    model_name_or_path: str,
    dataset_dir: str | Path,
    questions_path: str | Path,
    predictions_path: str | Path,
    metrics_path: str | Path,
    settings: EvalSettings,
    *,
    batch_size: int,
    device: str,
    precision: str,
    backend: str = "transformers",
    record: dict | None = None,
) -> dict:
    """Load the model, evaluate it on a questions file, write predictions (JSONL) and metrics.

    `record` (the job's identity: clsrl.workflow.study.Study.eval_record) is stored in the metrics
    and their provenance.
    """
    questions = read_questions(questions_path)
    folder, mark = Path(metrics_path).parent, evaluation_mark(batch_size)
    refusal = earlier_out_of_memory(folder, mark)
    if refusal:  # a retry would overflow the GPU again (clsrl.compute.gpu_oom)
        raise GpuOutOfMemory(refusal)
    generator = load_generator(model_name_or_path, backend, device, precision)
    try:
        predictions, metrics = evaluate_questions(
            generator, questions, Path(dataset_dir), settings, batch_size
        )
    except torch.OutOfMemoryError as error:
        message = evaluation_out_of_memory_message(batch_size, error)
        record_out_of_memory(folder, message, mark)
        raise GpuOutOfMemory(message) from None
    metrics = {
        **(record or {}),
        **metrics,
        "model_path": model_name_or_path,  # what was loaded; `model` is its base model's label
        "backend": backend,
        "device": generator.device,
        "dtype": generator.dtype,
        # the rules that shaped these answers and verdicts (docs/configuration.md "The paper's
        # protocol ...")
        "evaluation_rules": {"wording": settings.wording, "empty_answer": settings.empty_answer},
        "provenance": provenance({"evaluation": asdict(settings), **(record or {})}),
    }
    write_atomic(
        predictions_path,
        "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in predictions),
    )
    write_json(metrics_path, metrics)
    return metrics
