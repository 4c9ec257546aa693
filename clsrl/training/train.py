"""Train one model (SFT or GRPO through TRL's own trainers) from a job spec.

    python -m clsrl.training.train --spec SPEC.json --questions TRAIN.jsonl --dataset DATA_DIR \\
        --output MODEL_DIR --checkpoints CHECKPOINT_DIR
    accelerate launch --num_processes 8 --config_file envs/accelerate/ddp.yaml -m
    clsrl.training.train ...

The spec (clsrl.training.spec) says what to train; this module only carries it out. Checkpoints go
to CHECKPOINT_DIR/spec-<hash>, outside the output, so a killed or preempted job, rerun with the
same spec, resumes from its newest committed checkpoint (clsrl.training.checkpoints): weights,
optimizer, scheduler, RNG states and step, each checked (clsrl.training.restore). SIGTERM saves one
and exits with status 75. The final model is written to a temporary sibling folder and renamed into
place, so an incomplete folder is never taken for a finished model; a model whose trained weights
still equal the base model's after steps that had gradients is never published
(clsrl.training.publish). A full disk is said in words (clsrl.compute.disk_space). Beside the model:
the spec, provenance with what was restored, and the per-step log (`log_history.csv`: loss, rewards
per function, reward std, lengths, KL).
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import datasets
import torch

from clsrl.compute.disk_space import disk_full_explained
from clsrl.compute.gpu_oom import (
    GpuOutOfMemory,
    earlier_out_of_memory,
    out_of_memory_message,
    record_out_of_memory,
)
from clsrl.config import default_config
from clsrl.evaluation.inference import load_image, template_adds_bos, user_message
from clsrl.evaluation.vllm_backend import suppression_bias
from clsrl.io import read_json
from clsrl.joblog import EXIT_KNOWN_ERROR, is_known_error, known_error_line
from clsrl.models.families import family_for, suppressed_token_ids
from clsrl.models.loading import (
    attention_implementation,
    load_model_and_processor,
    resolve_precision,
)
from clsrl.prompts import render_prompt
from clsrl.questions import read_questions
from clsrl.training.checkpoints import (
    CommitCheckpoints,
    StopOnSignal,
    TrainingStopped,
    checkpoint_step,
    resumable_checkpoint,
)
from clsrl.training.publish import (  # noqa: F401 (the file names are clsrl.training.train's too)
    LOG_HISTORY_FILE,
    RECORD_FILE,
    SPEC_FILE,
    check_weights_changed,
    dtype_name,
    save_final_model,
    whole_trained_model,
)
from clsrl.training.restore import CheckpointRestore, trainable_weights, weight_checksums
from clsrl.training.rewards import reward_functions
from clsrl.training.runtime import TrainingRuntime, training_runtime
from clsrl.training.spec import TrainingSpec, spec_checkpoint_dir

EXIT_STOPPED = 75  # EX_TEMPFAIL: stopped on a signal with a checkpoint saved; rerun to resume


def runtime_from(save_steps: int | None = None, **changes) -> TrainingRuntime:
    """The config schema's runtime settings (clsrl.training.runtime), with `changes`.

    >>> runtime_from(save_steps=3).save_steps, runtime_from().keep_checkpoints
    (3, False)
    """
    runtime = training_runtime(default_config())
    if save_steps is not None:
        changes["save_steps"] = save_steps
    return replace(runtime, **changes)


def training_rows(questions: list[dict], dataset_root: Path, spec: TrainingSpec) -> list[dict]:
    """One training example per question: conversational prompt, image, class name (and for SFT
    the target completion). The trainer inserts the image before the text in the user turn."""
    rows = []
    for question in questions:
        row = {
            "prompt": [
                {
                    "role": "user",
                    "content": render_prompt(spec.prompt_style, question["problem"]),
                }
            ],
            "image": load_image(dataset_root / question["image"], spec.image_resize),
            "classname": question["classname"],
        }
        if spec.trainer == "sft":
            row["completion"] = [{"role": "assistant", "content": question["classname"]}]
        rows.append(row)
    return rows


# Trainable weights (and so the optimizer's states) stay in float32 whatever the compute dtype:
# an update of lr 1e-6 is ~100x smaller than bf16's spacing near |w| = 0.02 and would round away.
# bf16 is the compute dtype (autocast), as with DeepSpeed ZeRO's fp32 master weights. The learning
# test swaps this for bfloat16 as its control (tests/training/test_train.py).
MASTER_WEIGHTS_DTYPE = torch.float32


def use_bf16(precision: str) -> bool:
    """Whether to compute in bf16: asked for, or `auto` on a GPU that supports it.

    `bf16` on the CPU runs under CPU autocast (slow, but it lets a test take the GPU's path).
    """
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if precision == "bf16" and device == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError(
            "training.precision is bf16 but this GPU does not support bf16; use auto or fp32"
        )
    return resolve_precision(precision, device) == torch.bfloat16  # evaluation's rule


def weights_dtype(spec: TrainingSpec, bf16: bool) -> torch.dtype:
    """The dtype the base model is loaded in: the master dtype for full fine-tuning; with LoRA the
    frozen base may stay in the compute dtype (peft keeps the trainable adapters in float32)."""
    if spec.lora is not None and bf16:
        return torch.bfloat16
    return MASTER_WEIGHTS_DTYPE


def trainer_arguments(
    spec: TrainingSpec, checkpoint_dir: Path, runtime: TrainingRuntime, bf16: bool
) -> dict:
    """The TRL config arguments: the spec's plus where and how to save and log."""
    arguments = {
        **spec.trl,
        "output_dir": str(checkpoint_dir),
        "bf16": bf16,
        "use_cpu": not torch.cuda.is_available(),
        "save_strategy": "steps",
        "save_steps": runtime.save_steps,  # older ones go once a newer is committed
        "logging_steps": 1,
        "report_to": list(runtime.report_to),  # log_history.csv is written whatever this says
        **({"run_name": runtime.run_name} if runtime.run_name else {}),
    }
    if spec.trainer == "grpo":
        arguments["log_completions"] = runtime.log_completions
        # TRL loads the frozen reference model itself, with these settings (the policy we pass
        # already loaded): the compute dtype is enough for a model that is never updated.
        arguments["model_init_kwargs"] = {
            "dtype": "bfloat16" if bf16 else "float32",
            "attn_implementation": attention_implementation(),
        }
    return arguments


def with_suppressed_tokens(arguments: dict, token_ids: list[int]) -> dict:
    """GRPO's arguments with `token_ids` added to its sampling's `suppress_tokens` (in
    `generation_kwargs`, beside any the spec sets), so that a completion never holds an image
    placeholder token: the trainer's forward pass over it would find an image token without
    features and fail. The spec itself is not changed (it names the job's outputs).

    With `use_vllm`, TRL gives `generation_kwargs` to vLLM's `SamplingParams` (colocate) or to
    its server's completions request, which take no `suppress_tokens`: the tokens get vLLM's
    lowest logit bias instead (`logit_bias`, see clsrl.evaluation.vllm_backend.SUPPRESSION_BIAS).

    >>> with_suppressed_tokens({"generation_kwargs": {"min_new_tokens": 2}}, [5, 3])
    {'generation_kwargs': {'min_new_tokens': 2, 'suppress_tokens': [3, 5]}}
    >>> with_suppressed_tokens({"use_vllm": True}, [5, 3])["generation_kwargs"]
    {'logit_bias': {3: -100.0, 5: -100.0}}
    """
    generation = dict(arguments.get("generation_kwargs") or {})
    if arguments.get("use_vllm"):
        generation["logit_bias"] = suppression_bias(token_ids, generation.get("logit_bias"))
    else:
        suppressed = set(generation.get("suppress_tokens") or []) | set(token_ids)
        generation["suppress_tokens"] = sorted(suppressed)
    return {**arguments, "generation_kwargs": generation}


def processor_for_grpo(processor):
    """The processor GRPO's trainer gets: `processor`, unless its tokenizer prepends a bos that the
    chat template already writes (Gemma 3's). TRL 1.16 tokenizes the rendered prompts again for
    the image inputs of its forward pass, with the tokenizer's special tokens: a second bos there
    shifts the image token types by one position against the prompt it generated from. Such a
    tokenizer is given to the trainer as a copy that does not prepend it; the model is saved with
    the processor as it was loaded."""
    tokenizer = processor.tokenizer
    prompt = processor.apply_chat_template(
        user_message(""), add_generation_prompt=True, tokenize=False
    )
    prepends_bos = tokenizer.bos_token_id is not None and (
        tokenizer("x")["input_ids"][:1] == [tokenizer.bos_token_id]
    )
    if not (prepends_bos and template_adds_bos(tokenizer, [prompt])):
        return processor
    trainer_processor = copy.deepcopy(processor)
    trainer_processor.tokenizer.add_bos_token = False  # rebuilds its post-processor without bos
    return trainer_processor


def lora_config(spec: TrainingSpec):
    """A peft LoraConfig for the spec's LoRA settings, or None for full fine-tuning."""
    if spec.lora is None:
        return None
    from peft import LoraConfig

    lora = spec.lora
    return LoraConfig(
        r=lora["r"],
        lora_alpha=lora["alpha"],
        lora_dropout=lora["dropout"],
        target_modules=lora["target_modules"],
        task_type="CAUSAL_LM",
    )


def build_trainer(spec: TrainingSpec, model, processor, dataset, arguments: dict):
    """TRL's GRPOTrainer or SFTTrainer, as the spec names. GRPO's rewards read each completion
    as the reply the model's chat template holds (clsrl.models.families: after its reply
    separator)."""
    if spec.trainer == "grpo":
        from trl import GRPOConfig, GRPOTrainer

        separator = family_for(model.config.model_type).reply_separator
        return GRPOTrainer(
            model=model,
            reward_funcs=reward_functions(spec.rewards, reply_separator=separator),
            args=GRPOConfig(**arguments),
            train_dataset=dataset,
            processing_class=processor_for_grpo(processor),
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


def prepare_trainer(
    spec: TrainingSpec,
    base_model: str,
    questions_path: str | Path,
    dataset_dir: str | Path,
    checkpoint_dir: str | Path,
    runtime: TrainingRuntime | None = None,
):
    """(TRL trainer, processor) for a spec, ready to train: the base model loaded with float32
    master weights, the training rows, the trainer's settings (GRPO's sampling never emits the
    model family's image placeholder tokens)."""
    runtime = runtime or runtime_from()
    bf16 = use_bf16(spec.precision)
    model, processor = load_model_and_processor(
        base_model,
        device="cpu",  # the trainer places it
        precision=weights_dtype(spec, bf16),
        attn_implementation=attention_implementation(),
    )
    rows = training_rows(read_questions(questions_path), Path(dataset_dir), spec)
    arguments = trainer_arguments(spec, Path(checkpoint_dir), runtime, bf16)
    if spec.trainer == "grpo":
        arguments = with_suppressed_tokens(
            arguments, suppressed_token_ids(model.config, processor.tokenizer)
        )
    trainer = build_trainer(spec, model, processor, datasets.Dataset.from_list(rows), arguments)
    return trainer, processor


def dtypes_in_training(trainer) -> dict:
    """The dtypes a training job ran with, for its record."""
    trainable = [p.dtype for p in trainer.model.parameters() if p.requires_grad]
    reference = getattr(trainer, "ref_model", None)
    return {
        "weights_dtype": dtype_name(trainable[0]) if trainable else None,
        "compute_dtype": "bfloat16" if trainer.args.bf16 else "float32",
        "reference_dtype": dtype_name(reference.dtype) if reference is not None else None,
    }


def checkpoint_bytes(model) -> int:
    """About what one checkpoint of `model` takes: the weights it saves (under LoRA the adapter
    only) and AdamW's two moments per trainable weight."""
    from peft import PeftModel

    trainable = list(trainable_weights(model).values())
    saved = trainable if isinstance(model, PeftModel) else list(model.parameters())
    return sum(p.numel() * p.element_size() for p in saved) + 2 * sum(
        p.numel() * p.element_size() for p in trainable
    )


def train(
    spec: TrainingSpec,
    base_model: str,
    questions_path: str | Path,
    dataset_dir: str | Path,
    output_dir: str | Path,
    checkpoint_dir: str | Path,
    runtime: TrainingRuntime | None = None,
) -> Path:
    """Train as the spec says, resuming this spec's newest committed checkpoint (checked, see
    clsrl.training.restore); write the model atomically. Raises TrainingStopped when SIGTERM stopped
    it (after saving a checkpoint), DiskFull when a save found no space."""
    output_dir, checkpoint_dir = Path(output_dir), Path(checkpoint_dir)
    runtime = runtime or runtime_from()
    resume_from = resumable_checkpoint(checkpoint_dir, spec)
    spec_checkpoints = spec_checkpoint_dir(checkpoint_dir, spec)
    refusal = earlier_out_of_memory(spec_checkpoints)
    if refusal:  # a retry would overflow the GPU again (clsrl.compute.gpu_oom)
        raise GpuOutOfMemory(refusal)
    trainer, processor = prepare_trainer(
        spec, base_model, questions_path, dataset_dir, spec_checkpoints, runtime
    )
    dtypes = dtypes_in_training(trainer)
    print(f"training with {dtypes}", flush=True)
    base_checksums = weight_checksums(trainable_weights(trainer.model))
    restore = None
    if resume_from:
        print(f"resuming from {resume_from}", flush=True)
        restore = CheckpointRestore(trainer, resume_from, checkpoint_step(resume_from))
        trainer.add_callback(restore)
    trainer.add_callback(CommitCheckpoints(trainer.accelerator, spec))
    stop = StopOnSignal(trainer.accelerator)
    trainer.add_callback(stop)
    try:
        with disk_full_explained(spec_checkpoints, checkpoint_bytes(trainer.model), "a checkpoint"):
            trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    except torch.OutOfMemoryError as error:
        message = out_of_memory_message(spec, error)
        record_out_of_memory(spec_checkpoints, message)
        raise GpuOutOfMemory(message) from None
    finally:
        stop.restore()
    if stop.stopped_at is not None:
        raise TrainingStopped(
            f"stopped by a signal after step {stop.stopped_at}, whose checkpoint is committed in "
            f"{spec_checkpoints}: rerun the job to resume from it"
        )
    model = whole_trained_model(trainer, lambda: fresh_trainable_model(spec, base_model))
    if model is not None:  # the main process
        check_weights_changed(trainer.state, model, base_checksums)
        restored = restore.record() if restore else None
        save_final_model(model, trainer, processor, spec, output_dir, restored, dtypes)
        if not runtime.keep_checkpoints:
            shutil.rmtree(checkpoint_dir, ignore_errors=True)
    return output_dir


def fresh_trainable_model(spec: TrainingSpec, base_model: str):
    """The base model as training starts from it, on the CPU: float32 master weights and, for a
    LoRA job, its adapter (what FSDP's gathered weights load into, clsrl.training.publish)."""
    model, _ = load_model_and_processor(base_model, device="cpu", precision=MASTER_WEIGHTS_DTYPE)
    if spec.lora is None:
        return model
    from peft import get_peft_model

    return get_peft_model(model, lora_config(spec))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train one model from a job spec.")
    parser.add_argument("--spec", required=True, help="the job spec, a JSON file or JSON text")
    parser.add_argument("--base-model", required=True, help="hub name or model folder")
    parser.add_argument("--questions", required=True, help="training questions (JSON lines)")
    parser.add_argument("--dataset", required=True, help="the dataset folder (canonical format)")
    parser.add_argument("--output", required=True, help="where the final model goes")
    parser.add_argument("--checkpoints", required=True, help="where checkpoints go")
    parser.add_argument("--save-steps", type=int, help="default: the config schema's")
    parser.add_argument("--keep-checkpoints", action="store_true")
    parser.add_argument("--log-completions", action="store_true")
    parser.add_argument("--report-to", default="", help="trackers, comma-separated (tensorboard)")
    parser.add_argument("--run-name", help="the trackers' name of the run")
    args = parser.parse_args(argv)
    mapping = json.loads(args.spec) if args.spec.lstrip().startswith("{") else read_json(args.spec)
    spec = TrainingSpec.from_mapping(mapping)
    runtime = runtime_from(
        args.save_steps,
        keep_checkpoints=args.keep_checkpoints,
        log_completions=args.log_completions,
        report_to=tuple(filter(None, args.report_to.split(","))),
        run_name=args.run_name,
    )
    try:
        train(
            spec,
            args.base_model,
            args.questions,
            args.dataset,
            args.output,
            args.checkpoints,
            runtime,
        )
    except TrainingStopped as stopped:
        print(stopped, file=sys.stderr, flush=True)
        sys.exit(EXIT_STOPPED)
    except Exception as error:
        if not is_known_error(error):
            raise
        print(known_error_line(error), file=sys.stderr, flush=True)
        sys.exit(EXIT_KNOWN_ERROR)


if __name__ == "__main__":
    main()
