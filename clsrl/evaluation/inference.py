"""Batched greedy generation through the model's own processor and chat template.

The user turn holds the image first, then the text, and no system message (Qwen2-VL's template adds
its default system turn), as in protocol section 4. What differs between model families comes from
their entry in clsrl.models.families: generation never emits the family's image placeholder tokens,
and an answer is the reply after the template's reply separator.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import Image

from clsrl.models.families import family_for, suppressed_token_ids


def load_image(path: str | Path, resize: int) -> Image.Image:
    """Open an image as RGB, resized to `resize` x `resize` with LANCZOS when `resize` > 0."""
    with Image.open(path) as image:
        image = image.convert("RGB")
    if resize > 0 and image.size != (resize, resize):
        image = image.resize((resize, resize), Image.Resampling.LANCZOS)
    return image


def user_message(prompt: str) -> list[dict]:
    """The conversation for one question: a user turn with the image, then the prompt text."""
    return [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}]


def generate(
    model, processor, images: Sequence[Image.Image], prompts: Sequence[str], max_new_tokens: int
) -> list[str]:
    """Greedy answers for a batch of (image, prompt) pairs; halves the batch when memory runs out.

    Outputs are decoded without special tokens, as the rewards and metrics expect.
    """
    try:
        return _generate_batch(model, processor, images, prompts, max_new_tokens)
    except torch.OutOfMemoryError:
        if len(prompts) == 1:
            raise
        torch.cuda.empty_cache()
        half = len(prompts) // 2
        return generate(model, processor, images[:half], prompts[:half], max_new_tokens) + generate(
            model, processor, images[half:], prompts[half:], max_new_tokens
        )


def _generate_batch(model, processor, images, prompts, max_new_tokens) -> list[str]:
    inputs = prompt_inputs(processor, images, prompts).to(model.device)
    with torch.inference_mode():
        output = model.generate(
            **inputs,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            suppress_tokens=suppressed_token_ids(model.config, processor.tokenizer),
        )
    completions = output[:, inputs["input_ids"].shape[1] :]
    family = family_for(model.config.model_type)
    return [
        family.reply(text) for text in processor.batch_decode(completions, skip_special_tokens=True)
    ]


def prompt_inputs(processor, images: Sequence[Image.Image], prompts: Sequence[str]):
    """The model inputs of a batch of (image, prompt) pairs, left-padded: each prompt's user turn
    rendered by the chat template, each prompt given its own image list (as TRL passes them), and
    the tokenizer's special tokens left out when the template already starts with its bos."""
    texts = [
        processor.apply_chat_template(user_message(p), add_generation_prompt=True, tokenize=False)
        for p in prompts
    ]
    return processor(
        text=texts,
        images=[[image] for image in images],
        padding=True,
        return_tensors="pt",
        add_special_tokens=not template_adds_bos(processor.tokenizer, texts),
    )


def template_adds_bos(tokenizer, texts: Sequence[str]) -> bool:
    """Whether the rendered chat template already starts with the tokenizer's bos (Gemma 3's
    `{{ bos_token }}`), so that tokenizing must not add it again, as transformers' own
    `apply_chat_template(tokenize=True)` decides.

    >>> class Tokenizer:
    ...     bos_token = "<bos>"
    >>> template_adds_bos(Tokenizer(), ["<bos><start_of_turn>user"]), template_adds_bos(None, ["x"])
    (True, False)
    """
    bos = getattr(tokenizer, "bos_token", None)
    return bool(bos) and all(text.startswith(bos) for text in texts)


class TransformersGenerator:
    """The default evaluation backend: `generate` with a loaded transformers model, as a callable
    `(images, prompts, max_new_tokens) -> answers`, like
    `clsrl.evaluation.vllm_backend.VllmGenerator`."""

    def __init__(self, model, processor):
        self.model, self.processor = model, processor
        self.device = str(model.device)
        self.dtype = str(model.dtype).removeprefix("torch.")

    def __call__(
        self, images: Sequence[Image.Image], prompts: Sequence[str], max_new_tokens: int
    ) -> list[str]:
        return generate(self.model, self.processor, images, prompts, max_new_tokens)
