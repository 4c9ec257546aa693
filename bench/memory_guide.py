"""Which settings fit a base model on a 24, 40, 48, 80 or 141 GB card: computed, not measured.

    python bench/memory_guide.py                      # Qwen2-VL-2B (the README's table)
    python bench/memory_guide.py --base-model MODEL   # any model: hub name, folder, builtin:NAME

The estimate of clsrl/compute/gpu_memory.py from the model's architecture (its config.json, read by
clsrl.models.size; no weights are loaded) and the study's sizes (384x384 images; prompts with a
100-name option list): weights, gradients and AdamW states, the reference model, activations kept
for the backward pass, logits, the key/value cache. A setting "fits" when it stays under 90% of the
card (CUDA context, fragmentation). Where a GPU ran bench/gpu_check.py, its peaks
(bench/RESULTS.md) are the measured check of these numbers.
"""

from __future__ import annotations

import argparse

from clsrl.compute.gpu_memory import TrainingShape, evaluation_gib, fits, training_gib
from clsrl.models.size import ModelSize, billions, model_size

CARDS = (24, 40, 48, 80, 141)
LORA_RANK = 64  # training.lora.r's default


def rows(size: ModelSize) -> list[tuple[str, float]]:
    """(setting, GiB per GPU) of the GRPO settings a study chooses between, then evaluation."""
    found = []
    for lora, label in ((None, "full fine-tuning, fp32 master weights"), (LORA_RANK, "LoRA r=64")):
        for checkpointing in (False, True):
            for completion, micro_batch in ((256, 4), (1024, 4), (1024, 2)):
                shape = TrainingShape("grpo", lora, completion, micro_batch, checkpointing, 1)
                setting = (
                    f"GRPO, {label}, {completion}-token completions, micro-batch {micro_batch}, "
                    f"gradient checkpointing {'on' if checkpointing else 'off'}"
                )
                found.append((setting, training_gib(size, shape)))
    for batch in (32, 64, 128):
        found.append(
            (f"evaluation, batch {batch}, 1,024 new tokens", evaluation_gib(size, batch, 1024))
        )
    return found


def guide(size: ModelSize) -> str:
    """The Markdown table: one row per setting, one column per card."""
    header = "| setting | GiB | " + " | ".join(f"{card} GB" for card in CARDS) + " |"
    lines = [header, "|---|---|" + "---|" * len(CARDS)]
    for setting, gib in rows(size):
        cells = " | ".join("yes" if fits(gib, card) else "no" for card in CARDS)
        lines.append(f"| {setting} | {gib:.0f} | {cells} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-model", default="Qwen/Qwen2-VL-2B-Instruct")
    parser.add_argument("--image-side", type=int, default=384, help="images.resize")
    args = parser.parse_args(argv)
    size = model_size(args.base_model, args.image_side)
    print(f"{args.base_model}: {billions(size.parameters)} parameters (from {size.source})\n")
    print(guide(size))


if __name__ == "__main__":
    main()
