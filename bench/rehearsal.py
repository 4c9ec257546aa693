"""A scale rehearsal: one GRPO step, one SFT step and one evaluation batch at the real sizes.

    python bench/rehearsal.py OUT_DIR                       # CPU: a narrow model, real geometry
    python bench/rehearsal.py OUT_DIR --model builtin:qwen2-vl-2b-random --precision bf16 \\
        --completions 64 --completion-length 256            # a GPU: the full-size model

Tests run a tiny model on tiny images with short answers; the study runs Qwen2-VL-2B on 384x384
images (hundreds of image tokens), with option lists of 100 class names and completions of up to
1,024 tokens. Truncation, image-token or position bugs that appear only there would first show on
a cluster. This runs the real code paths (`clsrl.training.train.prepare_trainer`, TRL's trainers,
`clsrl.evaluation.evaluate.evaluate_questions`) on:

- a generated 1,000-class dataset whose class names have ImageNet's lengths, so every question
  lists 100 names (the cap) of real length, with 384x384 images;
- a model that never stops early (`min_new_tokens`), so every completion reaches its maximum.

It checks, and records in OUT_DIR/rehearsal.json: that no prompt is truncated (the whole option
list reaches the model), that the image-token count equals the processor's (image grid / merge^2),
that completions reach their full length; and the prompt and completion lengths, seconds per
step, peak host and GPU memory, and how many weights the GRPO step changed. `bench/gpu_check.py`
times the same phases at several sizes on a GPU.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import time
import zlib
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from transformers import TrainerCallback

from clsrl.config import default_config, validate_config
from clsrl.datasets.canonical import CanonicalDataset, write_dataset
from clsrl.evaluation.evaluate import EvalSettings, evaluate_questions
from clsrl.evaluation.inference import TransformersGenerator, load_image, user_message
from clsrl.fewshot import few_shot_questions
from clsrl.io import write_json
from clsrl.models.loading import load_model_and_processor
from clsrl.models.tiny import build_tiny_model
from clsrl.prompts import render_prompt
from clsrl.questions import OptionSettings, make_questions, option_params, write_questions
from clsrl.training.rewards import REWARDS, completion_text
from clsrl.training.spec import training_spec
from clsrl.training.train import dtypes_in_training, prepare_trainer, runtime_from
from clsrl.views import View
from clsrl.workflow.study import Study

CLASSES = 1000  # ImageNet's count: 0.4 x 1000 = 400 options, capped at 100
IMAGE_SIDE = 384  # the paper's resize
SOURCE_SIDE = 64  # generated images are small; the pipeline resizes them to IMAGE_SIDE
QUESTION = "What type of object is in the photo?"
SYLLABLES = ("ka", "lo", "mi", "ne", "ru", "sa", "te", "vi", "do", "pa", "gre", "tor", "bin")
# Words per ImageNet class name (CoOp's classnames.txt): about 45% one, 40% two, 15% three.
WORDS_PER_NAME = {1: 0.45, 2: 0.40, 3: 0.15}
FULL_SIZE_MODEL = "builtin:qwen2-vl-2b-random"
NOISE_REWARD = "rehearsal_noise"


@dataclass(frozen=True)
class Sizes:
    """How much work each phase does; the defaults are the CPU rehearsal's."""

    precision: str = "auto"
    completions: int = 4  # GRPO completions per optimizer step
    per_device: int = 2  # GRPO completions or SFT examples per micro-step
    completion_length: int = 1024  # GRPO completion tokens: the model never stops early
    sft_examples: int = 2  # SFT examples per optimizer step
    eval_batch: int = 2
    eval_tokens: int = 1024
    steps: int = 1  # optimizer steps per training phase
    gradient_checkpointing: bool = False


def class_names(count: int, seed: int = 0) -> list[str]:
    """`count` distinct class names with ImageNet's word counts and word lengths (2-4 syllables).

    >>> names = class_names(1000)
    >>> len(set(names)), 10 < sum(map(len, names)) / len(names) < 20
    (1000, True)
    """
    rng = random.Random(f"rehearsal-classes:{seed}")
    names: list[str] = []
    while len(names) < count:
        words = rng.choices(list(WORDS_PER_NAME), weights=list(WORDS_PER_NAME.values()))[0]
        name = " ".join("".join(rng.choices(SYLLABLES, k=rng.randint(2, 4))) for _ in range(words))
        if name not in names:
            names.append(name)
    return names


def write_rehearsal_dataset(root: Path, classes: int = CLASSES) -> CanonicalDataset:
    """A canonical dataset of `classes` classes, one train and one test image each (noise)."""
    rng = np.random.default_rng(0)
    rows = []
    for split in ("train", "test"):
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        for label in range(classes):
            image = f"images/{split}/{label:04d}.png"
            pixels = rng.integers(0, 256, size=(SOURCE_SIDE, SOURCE_SIDE, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / image)
            rows.append({"image": image, "label": label, "split": split})
    return write_dataset(
        root,
        name="rehearsal",
        question=QUESTION,
        classnames=class_names(classes),
        items=rows,
        source="bench/rehearsal.py: generated noise images, ImageNet-length class names",
    )


def rehearsal_data(root: Path) -> dict:
    """The rehearsal dataset with its training (1 shot) and test questions, 100 options each."""
    dataset = write_rehearsal_dataset(root)
    settings = OptionSettings(
        **option_params(default_config(), View("rehearsal")), seed=0
    )  # 0.4: 100 of 1,000 listed
    return {
        "dataset": dataset,
        "train": few_shot_questions(dataset, 1, 1, settings),
        "test": make_questions(dataset, "test", settings),
    }


def prompt_geometry(processor, question: dict, dataset_root: Path, style: str) -> dict:
    """Token counts of one question's full prompt as the processor builds it."""
    image = load_image(dataset_root / question["image"], IMAGE_SIDE)
    text = processor.apply_chat_template(
        user_message(render_prompt(style, question["problem"])),
        add_generation_prompt=True,
        tokenize=False,
    )
    inputs = processor(text=[text], images=[image], return_tensors="pt")
    merge = processor.image_processor.merge_size
    image_token = processor.tokenizer.convert_tokens_to_ids(processor.image_token)
    return {
        "prompt_tokens": int(inputs["input_ids"].shape[1]),
        "image_tokens": int((inputs["input_ids"] == image_token).sum()),
        "image_tokens_expected": int(inputs["image_grid_thw"].prod() // merge**2),
        "image_grid_thw": inputs["image_grid_thw"][0].tolist(),
        "options": len(question["options"]),
        "problem_chars": len(question["problem"]),
    }


def expected_prompts(processor, questions: list[dict], dataset_root: Path, style: str) -> dict:
    """The processor's full prompt and image-token counts of each question (sorted, distinct)."""
    geometry = [prompt_geometry(processor, q, dataset_root, style) for q in questions]
    return {
        "prompt_tokens_expected": sorted({g["prompt_tokens"] for g in geometry}),
        "image_tokens_expected": sorted({g["image_tokens_expected"] for g in geometry}),
        "image_grid_thw": geometry[0]["image_grid_thw"],
        "options": geometry[0]["options"],
        "problem_chars": geometry[0]["problem_chars"],
    }


# --- measuring ---------------------------------------------------------------------------------


def _synchronize() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


class PeakMemory:
    """Seconds, peak host RSS (whole process so far, MB) and peak GPU memory of a phase (MB)."""

    def __enter__(self):
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc):
        _synchronize()
        self.seconds = round(time.perf_counter() - self.started, 3)
        self.host_mb = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        self.gpu_mb = (
            round(torch.cuda.max_memory_allocated() / 2**20) if torch.cuda.is_available() else None
        )

    def record(self) -> dict:
        return {"seconds": self.seconds, "peak_host_mb": self.host_mb, "peak_gpu_mb": self.gpu_mb}


class GenerateSpy:
    """Wraps a model's `generate` to record, per call, each row's prompt length (unpadded), its
    image tokens, the new tokens and the seconds taken (TRL logs the step, not generation)."""

    def __init__(self, model, image_token_id: int):
        self.image_token_id = image_token_id
        self.prompt_tokens: list[int] = []
        self.image_tokens: list[int] = []
        self.new_tokens: list[int] = []
        self.seconds: list[float] = []
        self.original = model.generate
        model.generate = self

    def __call__(self, *args, **kwargs):
        input_ids, mask = kwargs["input_ids"], kwargs["attention_mask"]
        self.prompt_tokens += mask.sum(dim=1).tolist()
        self.image_tokens += (input_ids == self.image_token_id).sum(dim=1).tolist()
        _synchronize()
        started = time.perf_counter()
        output = self.original(*args, **kwargs)
        _synchronize()
        self.seconds.append(time.perf_counter() - started)
        self.new_tokens.append(int(output.shape[1] - input_ids.shape[1]))
        return output

    def record(self) -> dict:
        return {
            "prompt_tokens_at_generate": sorted(set(self.prompt_tokens)),
            "image_tokens_at_generate": sorted(set(self.image_tokens)),
            "new_tokens": self.new_tokens,
            "generate_seconds": [round(s, 3) for s in self.seconds],
        }


class StepTimer(TrainerCallback):
    """Wall seconds of each optimizer step (generation included for GRPO)."""

    def __init__(self):
        self.seconds: list[float] = []

    def on_step_begin(self, args, state, control, **kwargs):
        _synchronize()
        self.started = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        _synchronize()
        self.seconds.append(round(time.perf_counter() - self.started, 3))


def steady(seconds: list[float]) -> float:
    """The typical step: the median after the first (warm-up) step when there are several."""
    return statistics.median(seconds[1:] if len(seconds) > 1 else seconds)


# --- the phases ----------------------------------------------------------------------------------


def rehearsal_noise(completions, **kwargs) -> list[float]:
    """A reward that varies from completion to completion (a hash of its text), added to the
    method's own: a random model earns no real reward, and without varying rewards GRPO computes
    no gradient, so the rehearsal could not show that a step changes the weights."""
    texts = [completion_text(c) for c in completions]
    return [zlib.crc32(text.encode()) % 1000 / 1000 for text in texts]


def training_config(base_model: str, method: str, sizes: Sizes, length: int) -> dict:
    """The paper's config with the phase's sizes: full-length answers, a few steps."""
    return validate_config(
        {
            "datasets": ["demo-colours"],  # a placeholder: the rehearsal's own dataset is used
            "methods": [method],
            "base_model": base_model,
            "images": {"resize": IMAGE_SIDE},
            "training": {
                "max_steps": sizes.steps,
                "precision": sizes.precision,
                "gradient_checkpointing": sizes.gradient_checkpointing,
                "grpo_completions_per_step": sizes.completions,
                "grpo_completions_per_device": sizes.per_device,
                "sft_examples_per_step": sizes.sft_examples,
                "sft_examples_per_device": min(sizes.per_device, sizes.sft_examples),
                "trl": {
                    "grpo": {
                        "max_completion_length": length,
                        # a model that never stops early: every completion is full length
                        "generation_kwargs": {"min_new_tokens": length},
                    }
                },
            },
        }
    )


def changed_weights(before: dict[str, torch.Tensor], model) -> tuple[int, int]:
    """(weights that differ from `before`, all weights) of a model's parameters."""
    changed = total = 0
    for name, parameter in model.named_parameters():
        if name in before:
            changed += int((before[name] != parameter.detach().cpu()).sum())
            total += parameter.numel()
    return changed, total


def run_grpo(
    model: str, root: Path, data: dict, sizes: Sizes, method: str = "cls-rl", length=None
) -> dict:
    """`sizes.steps` GRPO optimizer steps of a method, with the reference model on."""
    length = length or sizes.completion_length
    spec = training_spec(training_config(model, method, sizes, length), method, "r", 1, 1)
    REWARDS[NOISE_REWARD] = rehearsal_noise
    spec = spec.replace(rewards=(*spec.rewards, NOISE_REWARD))
    prompts = sizes.completions // spec.trl["num_generations"] * sizes.steps
    questions = root / f"grpo-{method}.jsonl"
    write_questions(questions, data["train"][:prompts])
    checkpoints = root / f"grpo-{method}-checkpoints"
    trainer, processor = prepare_trainer(
        spec, model, questions, data["dataset"].root, checkpoints, runtime_from(save_steps=10_000)
    )
    before = {n: p.detach().cpu().clone() for n, p in trainer.model.named_parameters()}
    spy = GenerateSpy(trainer.model, trainer.model.config.image_token_id)
    timer = StepTimer()
    trainer.add_callback(timer)
    with PeakMemory() as memory:
        trainer.train()
    logged = [e for e in trainer.state.log_history if "completions/mean_length" in e]
    changed, total = changed_weights(before, trainer.model)
    asked, dataset_root = data["train"][:prompts], data["dataset"].root  # `root` is the work folder
    return {
        **expected_prompts(processor, asked, dataset_root, spec.prompt_style),
        **spy.record(),
        "completions": sizes.completions,
        "completion_tokens_mean": min(e["completions/mean_length"] for e in logged),
        "completion_tokens_min": min(e["completions/min_length"] for e in logged),
        "completion_tokens_max_allowed": spec.trl["max_completion_length"],
        "step_seconds": timer.seconds,
        "gradient_checkpointing": sizes.gradient_checkpointing,
        **memory.record(),
        "weights_changed": changed,
        "weights": total,
        **dtypes_in_training(trainer),
    }


def run_sft(model: str, root: Path, data: dict, sizes: Sizes) -> dict:
    """`sizes.steps` SFT optimizer steps (No-Thinking prompts, the class name as target)."""
    spec = training_spec(training_config(model, "sft", sizes, 1), "sft", "r", 1, 1)
    chosen = data["train"][: sizes.sft_examples * sizes.steps]
    questions = root / "sft.jsonl"
    write_questions(questions, chosen)
    trainer, processor = prepare_trainer(
        spec, model, questions, data["dataset"].root, root / "sft-checkpoints"
    )
    batch = next(iter(trainer.get_train_dataloader()))
    rows = len(batch["input_ids"])
    answer_tokens = [len(processor.tokenizer(q["classname"])["input_ids"]) for q in chosen]
    image_token = trainer.model.config.image_token_id
    timer = StepTimer()
    trainer.add_callback(timer)
    with PeakMemory() as memory:
        trainer.train()
    return {
        **expected_prompts(processor, chosen[:rows], data["dataset"].root, "no-thinking"),
        "row_tokens": batch["attention_mask"].sum(dim=1).tolist(),
        "row_image_tokens": (batch["input_ids"] == image_token).sum(dim=1).tolist(),
        "row_answer_tokens": (batch["labels"] != -100).sum(dim=1).tolist(),
        "answer_tokens_expected": answer_tokens[:rows],
        "examples_per_step": sizes.sft_examples,
        "step_seconds": timer.seconds,
        **memory.record(),
    }


def load_for_evaluation(model: str, precision: str):
    """(model, processor) on the GPU where there is one, in the compute dtype."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    return load_model_and_processor(model, device=device, precision=precision)


def run_evaluation(loaded, processor, data: dict, style: str, batch: int, tokens: int) -> dict:
    """One batch of `batch` greedy answers of exactly `tokens` new tokens each."""
    loaded.generation_config.min_new_tokens = tokens
    spy = GenerateSpy(loaded, loaded.config.image_token_id)
    settings = EvalSettings(
        **Study(default_config()).eval_settings(style, View("rehearsal")),
    )
    settings = replace(settings, max_new_tokens=tokens, image_resize=IMAGE_SIDE)
    questions = data["test"][:batch]
    try:
        with PeakMemory() as memory:
            _, metrics = evaluate_questions(
                TransformersGenerator(loaded, processor),
                questions,
                data["dataset"].root,
                settings,
                batch_size=batch,
            )
    finally:
        loaded.generate = spy.original
    return {
        **expected_prompts(processor, questions, data["dataset"].root, style),
        **spy.record(),
        "style": style,
        "batch": len(questions),
        "halved_for_memory": len(spy.new_tokens) > 1,
        "images_per_second": metrics["images_per_second"],
        **memory.record(),
    }


def resolve_model(model: str | None, out_dir: Path) -> str:
    """A model folder: built for None (the narrow rehearsal shape) or the full-size built-in."""
    if model is None:
        return str(build_tiny_model(out_dir / "model", shape="rehearsal"))
    if model == FULL_SIZE_MODEL:
        folder = out_dir / "model-qwen2-vl-2b"
        if not (folder / "config.json").is_file():
            build_tiny_model(folder, shape="qwen2-vl-2b")
        return str(folder)
    return model


def rehearse(out_dir: Path, model: str | None = None, sizes: Sizes = Sizes()) -> dict:
    """Run the three phases once; write and return the record."""
    out_dir.mkdir(parents=True, exist_ok=True)
    folder = resolve_model(model, out_dir)
    data = rehearsal_data(out_dir / "data")
    loaded, processor = load_for_evaluation(folder, sizes.precision)
    evaluation = run_evaluation(
        loaded, processor, data, "thinking", sizes.eval_batch, sizes.eval_tokens
    )
    del loaded
    record = {
        "model": model or "narrow (clsrl.models.tiny shape 'rehearsal')",
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "sizes": asdict(sizes),
        "grpo": run_grpo(folder, out_dir, data, sizes),
        "sft": run_sft(folder, out_dir, data, sizes),
        "evaluation": evaluation,
    }
    write_json(out_dir / "rehearsal.json", record)
    return record


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out_dir", type=Path, help="where the model, data and record go")
    parser.add_argument(
        "--model", help=f"a model folder or {FULL_SIZE_MODEL} (default: a narrow model, built)"
    )
    parser.add_argument("--precision", choices=["auto", "bf16", "fp32"], default="auto")
    parser.add_argument("--completions", type=int, default=4, help="GRPO completions per step")
    parser.add_argument("--per-device", type=int, default=2, help="completions per micro-step")
    parser.add_argument("--completion-length", type=int, default=1024, help="tokens per answer")
    parser.add_argument("--eval-batch", type=int, default=2, help="images per evaluation batch")
    args = parser.parse_args(argv)
    sizes = Sizes(
        precision=args.precision,
        completions=args.completions,
        per_device=args.per_device,
        completion_length=args.completion_length,
        eval_batch=args.eval_batch,
        eval_tokens=args.completion_length,
    )
    print(json.dumps(rehearse(args.out_dir, args.model, sizes), indent=2))


if __name__ == "__main__":
    main()
