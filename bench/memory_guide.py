"""Which settings fit Qwen2-VL-2B on a 24, 40, 48 or 80 GB card: computed, not measured.

    python bench/memory_guide.py            # the table in README "Memory guide"

An estimate from the architecture (Qwen2-VL-2B-Instruct's config) and the study's sizes (384x384
images: 784 vision patches, 196 image tokens; prompts of about 1,450 tokens with a 100-name option
list, as clsrl.rehearsal measures them with the project's tokenizer), counting what training keeps
for the backward pass. Each figure is GiB of GPU memory; a setting "fits" when it stays under 90%
of the card (CUDA context, fragmentation). Where a GPU ran bench/gpu_check.py, its peaks
(bench/RESULTS.md) are the measured check of these numbers.
"""

from __future__ import annotations

import argparse

GIB = 2**30
PARAMETERS = 2_208_985_600  # Qwen2-VL-2B-Instruct
LAYERS, HIDDEN, INTERMEDIATE, KV_WIDTH, VOCAB = 28, 1536, 8960, 2 * 128, 151_936
VISION_BLOCKS, VISION_HIDDEN, VISION_MLP, PATCHES = 32, 1280, 5120, 784
PROMPT_TOKENS = 1450  # a 100-name question with its image (clsrl.rehearsal, thinking prompt)
LORA_PARAMETERS = 120_000_000  # rank 64 on every linear layer (training.lora defaults)
CARDS = (24, 40, 48, 80)
HEADROOM = 0.9


def lm_activation_bytes(tokens: int, checkpointing: bool) -> float:
    """Bytes the language model keeps per sequence for the backward pass.

    Per token and layer, in bf16 unless said: the attention block's inputs and outputs (q, k, v,
    rotated q and k, the attention output), two RMSNorm inputs in fp32 and the linear layers'
    bf16 inputs (about 18 x hidden bytes plus the key/value width), and SwiGLU's gate, up,
    activation and product (4 x intermediate x 2 bytes). Checkpointing keeps each layer's fp32
    input only, and recomputes one layer at a time.
    """
    per_layer = 18 * HIDDEN + 4 * KV_WIDTH + 8 * INTERMEDIATE
    if checkpointing:
        return tokens * (LAYERS * 4 * HIDDEN + per_layer)
    return tokens * LAYERS * per_layer


def vision_activation_bytes(checkpointing: bool) -> float:
    """Bytes the vision tower keeps per image (784 patches) for the backward pass."""
    per_block = 18 * VISION_HIDDEN + 4 * VISION_MLP
    if checkpointing:
        return PATCHES * (VISION_BLOCKS * 4 * VISION_HIDDEN + per_block)
    return PATCHES * VISION_BLOCKS * per_block


def logits_bytes(completion: int) -> float:
    """The completion tokens' logits (bf16) and their fp32 log-softmax, per sequence."""
    return completion * VOCAB * (2 + 4)


def training_gib(method: str, completion: int, micro_batch: int, checkpointing: bool) -> float:
    """Peak GiB of a training step: weights, gradients and AdamW states, the reference model
    (GRPO, full fine-tuning), autocast's bf16 weight copies, activations and logits."""
    if method == "full":
        static = PARAMETERS * (4 + 4 + 8)  # fp32 master weights, gradients, two AdamW states
        static += PARAMETERS * 2  # the frozen bf16 reference model (GRPO)
        static += PARAMETERS * 2  # autocast's cached bf16 copies of the weights in a step
    else:  # LoRA: a bf16 frozen base, which also serves as the reference (adapters disabled)
        static = PARAMETERS * 2 + LORA_PARAMETERS * 16
    tokens = PROMPT_TOKENS + completion
    per_sequence = (
        lm_activation_bytes(tokens, checkpointing)
        + vision_activation_bytes(checkpointing)
        + logits_bytes(completion)
    )
    return (static + micro_batch * per_sequence) / GIB


def evaluation_gib(batch: int, new_tokens: int) -> float:
    """Peak GiB of greedy generation: bf16 weights, the key/value cache of the whole batch and the
    prefill's widest intermediate (SwiGLU's gate, up and activation for every prompt token)."""
    kv_per_token = LAYERS * 2 * KV_WIDTH * 2
    cache = batch * (PROMPT_TOKENS + new_tokens) * kv_per_token
    prefill = batch * PROMPT_TOKENS * INTERMEDIATE * 2 * 3
    return (PARAMETERS * 2 + cache + prefill) / GIB


def fits(gib: float, card: int) -> str:
    return "yes" if gib <= HEADROOM * card else "no"


def guide() -> str:
    """The Markdown table: one row per setting, one column per card."""
    header = "| setting | GiB | " + " | ".join(f"{card} GB" for card in CARDS) + " |"
    lines = [header, "|---|---|" + "---|" * len(CARDS)]
    for method, label in (("full", "full fine-tuning, fp32 master weights"), ("lora", "LoRA r=64")):
        for checkpointing in (False, True):
            for completion, micro_batch in ((256, 4), (1024, 4), (1024, 2)):
                gib = training_gib(method, completion, micro_batch, checkpointing)
                setting = (
                    f"GRPO, {label}, {completion}-token completions, micro-batch {micro_batch}, "
                    f"gradient checkpointing {'on' if checkpointing else 'off'}"
                )
                cells = " | ".join(fits(gib, card) for card in CARDS)
                lines.append(f"| {setting} | {gib:.0f} | {cells} |")
    for batch in (32, 64, 128):
        gib = evaluation_gib(batch, 1024)
        cells = " | ".join(fits(gib, card) for card in CARDS)
        lines.append(f"| evaluation, batch {batch}, 1,024 new tokens | {gib:.0f} | {cells} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    print(guide())


if __name__ == "__main__":
    main()
