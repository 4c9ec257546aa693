"""GPU memory of a training or evaluation job, estimated from the model's size: computed, not
measured.

Counts what a step keeps on each GPU: weights, gradients and AdamW states (fp32 master weights
under full fine-tuning; a bf16 frozen base and fp32 adapters under LoRA), GRPO's reference model,
autocast's bf16 weight copies, the activations the backward pass needs and the completion logits.
With several processes (FSDP, training.gpus) the weights, gradients and states are sharded over
them. A setting fits a card when it stays under `HEADROOM` of its memory (CUDA context,
fragmentation). Where a GPU ran bench/gpu_check.py, its peaks (bench/RESULTS.md) are the measured
check of these numbers.

>>> from clsrl.models.size import model_size
>>> size = model_size("Qwen/Qwen2-VL-2B-Instruct", image_side=384)
>>> round(training_gib(size, TrainingShape("grpo", None, 1024, 4, False, 1)))
75
>>> round(training_gib(size, TrainingShape("grpo", 64, 1024, 4, True, 1)))
12
>>> round(evaluation_gib(size, batch=64, new_tokens=1024))
13
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from clsrl.models.size import ModelSize

GIB = 2**30
HEADROOM = 0.9
SFT_ANSWER_TOKENS = 32  # an SFT target: the answer tags and a class name


@dataclass(frozen=True)
class TrainingShape:
    """What sets a training job's memory: trainer, LoRA rank (None: full fine-tuning), completion
    tokens (GRPO), sequences per micro-batch, gradient checkpointing, processes (GPUs)."""

    trainer: str
    lora_rank: int | None
    completion: int
    micro_batch: int
    checkpointing: bool
    processes: int

    @classmethod
    def of_spec(cls, spec) -> TrainingShape:
        """The shape of a training job's spec (a clsrl.training.spec.TrainingSpec)."""
        trl = spec.trl
        return cls(
            trainer=spec.trainer,
            lora_rank=spec.lora["r"] if spec.lora else None,
            completion=trl.get("max_completion_length", 0) if spec.trainer == "grpo" else 0,
            micro_batch=trl["per_device_train_batch_size"],
            checkpointing=bool(trl["gradient_checkpointing"]),
            processes=spec.processes,
        )

    def describe(self) -> str:
        """The settings in words, for a message."""
        tuning = f"LoRA r={self.lora_rank}" if self.lora_rank else "full fine-tuning"
        per_device = "completions" if self.trainer == "grpo" else "examples"
        words = [tuning, f"{self.micro_batch} {per_device} per device"]
        if self.trainer == "grpo":
            words.append(f"{self.completion}-token completions")
        words.append(f"gradient checkpointing {'on' if self.checkpointing else 'off'}")
        words.append(f"{self.processes} GPU{'s' if self.processes > 1 else ''}")
        return ", ".join(words)

    def but(self, **changes) -> TrainingShape:
        return replace(self, **changes)


def lm_activation_bytes(size: ModelSize, tokens: int, checkpointing: bool) -> float:
    """Bytes the language model keeps per sequence for the backward pass.

    Per token and layer, in bf16 unless said: the attention block's inputs and outputs (q, k, v,
    rotated q and k, the attention output), two RMSNorm inputs in fp32 and the linear layers'
    bf16 inputs (about 18 x hidden bytes plus the key/value width), and SwiGLU's gate, up,
    activation and product (4 x intermediate x 2 bytes). Checkpointing keeps each layer's fp32
    input only, and recomputes one layer at a time.
    """
    per_layer = 18 * size.hidden + 4 * size.kv_width + 8 * size.intermediate
    if checkpointing:
        return tokens * (size.layers * 4 * size.hidden + per_layer)
    return tokens * size.layers * per_layer


def vision_activation_bytes(size: ModelSize, checkpointing: bool) -> float:
    """Bytes the vision tower keeps per image for the backward pass."""
    per_block = 18 * size.vision_hidden + 4 * size.vision_mlp
    if checkpointing:
        return size.patches * (size.vision_blocks * 4 * size.vision_hidden + per_block)
    return size.patches * size.vision_blocks * per_block


def training_gib(size: ModelSize, shape: TrainingShape) -> float:
    """Peak GiB on each GPU of a training step."""
    parameters = size.parameters
    if shape.lora_rank:  # a bf16 frozen base (also GRPO's reference: adapters off), fp32 adapters
        static = parameters * 2 + shape.lora_rank * size.lora_width * 16
    else:
        static = parameters * (4 + 4 + 8)  # fp32 master weights, gradients, two AdamW states
        static += parameters * 2  # autocast's cached bf16 copies of the weights in a step
        if shape.trainer == "grpo":
            static += parameters * 2  # the frozen bf16 reference model
    if shape.trainer == "grpo":
        tokens, logit_tokens = size.prompt_tokens + shape.completion, shape.completion
    else:  # SFT: the logits of every position
        tokens = logit_tokens = size.prompt_tokens + SFT_ANSWER_TOKENS
    per_sequence = (
        lm_activation_bytes(size, tokens, shape.checkpointing)
        + vision_activation_bytes(size, shape.checkpointing)
        + logit_tokens * size.vocab * (2 + 4)  # bf16 logits and their fp32 log-softmax
    )
    return (static / shape.processes + shape.micro_batch * per_sequence) / GIB


def evaluation_gib(size: ModelSize, batch: int, new_tokens: int) -> float:
    """Peak GiB of greedy generation: bf16 weights, the key/value cache of the whole batch and the
    prefill's widest intermediate (SwiGLU's gate, up and activation for every prompt token)."""
    kv_per_token = size.layers * 2 * size.kv_width * 2
    cache = batch * (size.prompt_tokens + new_tokens) * kv_per_token
    prefill = batch * size.prompt_tokens * size.intermediate * 2 * 3
    return (size.parameters * 2 + cache + prefill) / GIB


def fits(gib: float, card_gb: float) -> bool:
    """Whether `gib` stays under HEADROOM of a card of `card_gb` GB (taken as GiB, as
    nvidia-smi reports them)."""
    return gib <= HEADROOM * card_gb
