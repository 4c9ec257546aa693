"""Train one model (SFT or GRPO through TRL's own trainers) from a job spec.

    python -m clsrl.train --spec SPEC.json --questions TRAIN.jsonl --dataset DATA_DIR \\
        --output MODEL_DIR --checkpoints CHECKPOINT_DIR
    accelerate launch --num_processes 8 --config_file envs/accelerate/fsdp.yaml -m clsrl.train ...

The spec (clsrl.training_spec) says what to train; this module only carries it out. Checkpoints go
to CHECKPOINT_DIR, outside the output, so a killed or preempted job, rerun, resumes from the last
one. The final model is written to a temporary sibling folder and renamed into place, so an
incomplete folder is never taken for a finished model. Beside the model: the spec, provenance and
the per-step log (`log_history.csv`: loss, rewards per function, reward std, lengths, KL).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import datasets
import pandas as pd
import torch
from transformers import AutoModelForImageTextToText, AutoProcessor
from transformers.trainer_utils import get_last_checkpoint

from clsrl.inference import load_image
from clsrl.io import folder_written_atomically, read_json, write_atomic, write_json
from clsrl.prompts import render_prompt
from clsrl.provenance import provenance
from clsrl.questions import read_questions
from clsrl.rewards import reward_functions

SPEC_FILE = "training_spec.json"
RECORD_FILE = "training_record.json"
LOG_HISTORY_FILE = "log_history.csv"


@dataclass(frozen=True)
class Runtime:
    """Settings that change how a job runs but not the model it produces."""

    save_steps: int = 50
    keep_checkpoints: bool = False
    log_completions: bool = False


def training_rows(questions: list[dict], dataset_root: Path, spec: dict) -> list[dict]:
    """One training example per question: conversational prompt, image, class name (and for SFT
    the target completion). The trainer inserts the image before the text in the user turn."""
    rows = []
    for question in questions:
        row = {
            "prompt": [
                {
                    "role": "user",
                    "content": render_prompt(spec["prompt_style"], question["problem"]),
                }
            ],
            "image": load_image(dataset_root / question["image"], spec["image_resize"]),
            "classname": question["classname"],
        }
        if spec["trainer"] == "sft":
            row["completion"] = [{"role": "assistant", "content": question["classname"]}]
        rows.append(row)
    return rows


def use_bf16(precision: str) -> bool:
    """Whether to train in bf16: asked for, or `auto` on a GPU that supports it."""
    gpu_bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if precision == "bf16" and not gpu_bf16:
        raise ValueError("training.precision is bf16 but no GPU with bf16 is visible; use auto")
    return precision == "bf16" or (precision == "auto" and gpu_bf16)


def attention_implementation() -> str:
    """flash_attention_2 where it is installed and a GPU is visible, else PyTorch's sdpa."""
    has_flash = importlib.util.find_spec("flash_attn") is not None
    return "flash_attention_2" if has_flash and torch.cuda.is_available() else "sdpa"


def trainer_arguments(spec: dict, checkpoint_dir: Path, runtime: Runtime, bf16: bool) -> dict:
    """The TRL config arguments: the spec's plus where and how to save and log."""
    arguments = {
        **spec["trl"],
        "output_dir": str(checkpoint_dir),
        "bf16": bf16,
        "use_cpu": not torch.cuda.is_available(),
        "save_strategy": "steps",
        "save_steps": runtime.save_steps,
        "save_total_limit": 1,
        "logging_steps": 1,
        "report_to": [],
    }
    if spec["trainer"] == "grpo":
        arguments["log_completions"] = runtime.log_completions
    return arguments


def lora_config(spec: dict):
    """A peft LoraConfig for the spec's LoRA settings, or None for full fine-tuning."""
    if spec["lora"] is None:
        return None
    from peft import LoraConfig

    lora = spec["lora"]
    return LoraConfig(
        r=lora["r"],
        lora_alpha=lora["alpha"],
        lora_dropout=lora["dropout"],
        target_modules=lora["target_modules"],
        task_type="CAUSAL_LM",
    )


def build_trainer(spec: dict, model, processor, dataset, arguments: dict):
    """TRL's GRPOTrainer or SFTTrainer, as the spec names."""
    if spec["trainer"] == "grpo":
        from trl import GRPOConfig, GRPOTrainer

        return GRPOTrainer(
            model=model,
            reward_funcs=reward_functions(spec["rewards"]),
            args=GRPOConfig(**arguments),
            train_dataset=dataset,
            processing_class=processor,
            peft_config=lora_config(spec),
        )
    from trl import SFTConfig, SFTTrainer

    return SFTTrainer(
        model=model,
        args=SFTConfig(**arguments),
        train_dataset=dataset,
        processing_class=processor,
        peft_config=lora_config(spec),
    )


def load_base_model(base_model: str, bf16: bool):
    """The base model (on the CPU; the trainer places it) and its processor."""
    model = AutoModelForImageTextToText.from_pretrained(
        base_model,
        dtype=torch.bfloat16 if bf16 else torch.float32,
        attn_implementation=attention_implementation(),
    )
    processor = AutoProcessor.from_pretrained(base_model)
    processor.tokenizer.padding_side = "left"
    return model, processor


def train(
    spec: dict,
    base_model: str,
    questions_path: str | Path,
    dataset_dir: str | Path,
    output_dir: str | Path,
    checkpoint_dir: str | Path,
    runtime: Runtime = Runtime(),
) -> Path:
    """Train as the spec says; resume from the last checkpoint; write the model atomically."""
    output_dir, checkpoint_dir = Path(output_dir), Path(checkpoint_dir)
    bf16 = use_bf16(spec["precision"])
    model, processor = load_base_model(base_model, bf16)
    rows = training_rows(read_questions(questions_path), Path(dataset_dir), spec)
    arguments = trainer_arguments(spec, checkpoint_dir, runtime, bf16)
    trainer = build_trainer(spec, model, processor, datasets.Dataset.from_list(rows), arguments)
    resume_from = get_last_checkpoint(checkpoint_dir) if checkpoint_dir.is_dir() else None
    if resume_from:
        print(f"resuming from {resume_from}", flush=True)
    trainer.train(resume_from_checkpoint=resume_from)
    if trainer.is_world_process_zero():
        save_final_model(trainer, processor, spec, output_dir, resume_from)
        if not runtime.keep_checkpoints:
            shutil.rmtree(checkpoint_dir, ignore_errors=True)
    return output_dir


def save_final_model(trainer, processor, spec: dict, output_dir: Path, resumed_from) -> None:
    """Model (LoRA merged), processor, spec, record and step log; renamed into place at the end."""
    model = trainer.model
    if spec["lora"] is not None:
        model = model.merge_and_unload()
    record = provenance(spec)
    record.update(
        resumed_from=str(resumed_from) if resumed_from else None,
        global_step=trainer.state.global_step,
        world_size=trainer.args.world_size,
        train_runtime_s=next(
            (e["train_runtime"] for e in trainer.state.log_history if "train_runtime" in e), None
        ),
    )
    steps = [entry for entry in trainer.state.log_history if "train_runtime" not in entry]
    with folder_written_atomically(output_dir) as staging:
        model.save_pretrained(staging)
        processor.save_pretrained(staging)
        write_json(staging / SPEC_FILE, spec)
        write_json(staging / RECORD_FILE, record)
        write_atomic(staging / LOG_HISTORY_FILE, pd.DataFrame(steps).to_csv(index=False))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train one model from a job spec.")
    parser.add_argument("--spec", required=True, help="the job spec, a JSON file or JSON text")
    parser.add_argument("--base-model", required=True, help="hub name or model folder")
    parser.add_argument("--questions", required=True, help="training questions (JSON lines)")
    parser.add_argument("--dataset", required=True, help="the dataset folder (canonical format)")
    parser.add_argument("--output", required=True, help="where the final model goes")
    parser.add_argument("--checkpoints", required=True, help="where checkpoints go")
    parser.add_argument("--save-steps", type=int, default=Runtime.save_steps)
    parser.add_argument("--keep-checkpoints", action="store_true")
    parser.add_argument("--log-completions", action="store_true")
    args = parser.parse_args(argv)
    spec = json.loads(args.spec) if args.spec.lstrip().startswith("{") else read_json(args.spec)
    runtime = Runtime(args.save_steps, args.keep_checkpoints, args.log_completions)
    train(
        spec, args.base_model, args.questions, args.dataset, args.output, args.checkpoints, runtime
    )


if __name__ == "__main__":
    main()
