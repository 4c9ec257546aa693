"""`python -m clsrl.tiny_model OUTPUT_DIR [--seed N] [--shape NAME]`: a random Qwen VLM, offline.

The folder it writes reloads with `AutoModelForImageTextToText` and `AutoProcessor` under
`HF_HUB_OFFLINE=1` exactly as a hub checkpoint would, so tests and the CPU demo take the same code
path as `Qwen/Qwen2-VL-2B-Instruct`:

- a byte-level BPE tokenizer (up to 1024 tokens) trained on the protocol's prompt texts plus any
  caller corpus, with the Qwen special tokens first, left padding and eos `<|im_end|>`;
- Qwen2-VL's real chat template (default system turn, one `<|vision_start|><|image_pad|>
  <|vision_end|>` block per image, expanded by the processor);
- random weights of one of four shapes (`SHAPES`), the output layer tied to the input embeddings
  as in Qwen2-VL-2B:
  - `tiny` (builtin:tiny-qwen2-vl, the demo and tests): a 2-layer text model and a 2-block vision
    tower (~220k parameters); a 56x56 image gives 16 patches and 4 image tokens after the 2x2 merge;
  - `rehearsal` (the scale rehearsal, clsrl.rehearsal): the same narrow text model with
    Qwen2-VL-2B's vision geometry and image processor (patch 14, 2x2 merge, up to 12.8 M pixels:
    a 384x384 image becomes 392x392, 784 patches, 196 image tokens);
  - `qwen2-vl-2b` (builtin:qwen2-vl-2b-random): the published Qwen2-VL-2B-Instruct architecture
    (hidden 1536, 28 layers, vision depth 32, vocabulary 151,936; ~2.2 B parameters, saved in
    bfloat16 like the real checkpoint), its tokenizer padded with filler tokens to the full
    vocabulary so that every id a random model samples decodes. For rehearsals and GPU
    measurements only: loading `Qwen/Qwen2-VL-2B-Instruct` stays the real path;
  - `tiny-qwen2.5-vl` (builtin:tiny-qwen2.5-vl): a Qwen2.5-VL (`Qwen2_5_VLForConditionalGeneration`,
    `Qwen2_5_VLProcessor`; windowed vision attention, its merger's output sized to the text model)
    of the `tiny` sizes; Qwen2.5-VL's Instruct checkpoints ship Qwen2-VL's chat template.

The same seed gives bit-identical weights.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    GenerationConfig,
    PreTrainedTokenizerFast,
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2_5_VLProcessor,
    Qwen2VLConfig,
    Qwen2VLForConditionalGeneration,
    Qwen2VLImageProcessor,
    Qwen2VLProcessor,
    Qwen2VLVideoProcessor,
)

from clsrl.io import folder_written_atomically
from clsrl.prompts import PROMPT_TEMPLATES

# --- tokenizer -------------------------------------------------------------------------------
ENDOFTEXT = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
VISION_START = "<|vision_start|>"
VISION_END = "<|vision_end|>"
IMAGE_PAD = "<|image_pad|>"
VIDEO_PAD = "<|video_pad|>"
# Qwen's special tokens, given the first ids in this order.
SPECIAL_TOKENS = (ENDOFTEXT, IM_START, IM_END, VISION_START, VISION_END, IMAGE_PAD, VIDEO_PAD)
# BPE target size, and the model's embedding rows (fixed, so weights depend on seed only).
VOCAB_SIZE = 1024
MODEL_MAX_LENGTH = 32768
DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."

# Qwen/Qwen2-VL-2B-Instruct's chat template, verbatim.
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}"
    "{{ message['content'] }}<|im_end|>\n{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# The protocol's dataset questions (section 1) and other texts the tiny model sees.
QUESTIONS = (
    "What type of object is in the photo?",
    "What type of aircraft is in the photo?",
    "What type of texture is in the photo?",
    "What type of object is in the centered satellite photo?",
    "What actions is the person performing in the photo?",
)
SAMPLE_OPTIONS = "cat, dog, airplane, banded, dotted, Annual Crop Land, grilled_cheese_sandwich"
EXTRA_TEXTS = (
    DEFAULT_SYSTEM_PROMPT,
    "Output the thinking process in <think> </think> and final answer in <answer> </answer> tags.",
    "<think> </think> <answer> </answer> <reason> </reason>",
    "<think>The photo shows a small animal with fur, so it is a cat.</think> <answer>cat</answer>",
    "the a an of in on is it this that and or to with for from by as at photo image picture object",
    "0 1 2 3 4 5 6 7 8 9 10 100 1000 2024 3.14 50%",
    ". , ; : ! ? ' \" ( ) [ ] { } - _ / \\ * + = < > | # @ & ~ ` ^ $",
    "The quick brown fox jumps over the lazy dog. THE QUICK BROWN FOX!",
)


# --- model ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelShape:
    """The architecture of a random Qwen2-VL and its processor's pixel range."""

    text: dict
    vision: dict
    vocab_size: int = VOCAB_SIZE  # embedding rows; the tokenizer is padded up to them if asked
    min_pixels: int = 56 * 56
    max_pixels: int = 56 * 56
    pad_tokenizer: bool = False
    dtype: str = "float32"  # the dtype the weights are saved in
    architecture: str = "qwen2_vl"  # its model_type: a key of ARCHITECTURES


# Each model_type's config, model and processor classes.
ARCHITECTURES = {
    "qwen2_vl": (Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLProcessor),
    "qwen2_5_vl": (Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor),
}


TEXT_CONFIG = {
    "num_hidden_layers": 2,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": MODEL_MAX_LENGTH,
    # mrope_section sums to head_dim / 2 = (64 / 4) / 2 = 8
    "rope_parameters": {"rope_type": "default", "rope_theta": 1e6, "mrope_section": [2, 3, 3]},
}
VISION_CONFIG = {
    "depth": 2,
    "embed_dim": 32,
    "hidden_size": 64,  # the merger's output size: must equal the text hidden size
    "num_heads": 2,
    "mlp_ratio": 2,
    "patch_size": 14,
    "spatial_merge_size": 2,
    "temporal_patch_size": 2,
}
QWEN2_5_VL_VISION_CONFIG = {
    "depth": 2,
    "hidden_size": 32,  # Qwen2.5-VL: the ViT's width (Qwen2-VL's embed_dim)
    "intermediate_size": 64,
    "num_heads": 2,
    "out_hidden_size": 64,  # the merger's output size: must equal the text hidden size
    "patch_size": 14,
    "spatial_merge_size": 2,
    "temporal_patch_size": 2,
    "window_size": 112,  # pixels: 4 x 4 merged patches, as Qwen2.5-VL-3B
    "fullatt_block_indexes": [1],  # the last block attends to the whole image, as in the 3B
}
DEFAULT_PIXELS = 56 * 56  # one 56x56 image: 4x4 patches of 14 px, 4 tokens after the 2x2 merge
# Qwen/Qwen2-VL-2B-Instruct's config.json and preprocessor_config.json.
QWEN2_VL_2B_TEXT = {
    "num_hidden_layers": 28,
    "hidden_size": 1536,
    "intermediate_size": 8960,
    "num_attention_heads": 12,
    "num_key_value_heads": 2,
    "max_position_embeddings": MODEL_MAX_LENGTH,
    "rms_norm_eps": 1e-6,
    "rope_parameters": {
        "rope_type": "default",
        "rope_theta": 1e6,
        "mrope_section": [16, 24, 24],
    },
}
QWEN2_VL_2B_VISION = {
    "depth": 32,
    "embed_dim": 1280,
    "hidden_size": 1536,
    "num_heads": 16,
    "mlp_ratio": 4,
    "patch_size": 14,
    "spatial_merge_size": 2,
    "temporal_patch_size": 2,
}
QWEN2_VL_2B_VOCAB = 151_936
QWEN2_VL_MIN_PIXELS = 56 * 56
QWEN2_VL_MAX_PIXELS = 28 * 28 * 16384  # 12,845,056
SHAPES = {
    "tiny": ModelShape(TEXT_CONFIG, VISION_CONFIG),
    "rehearsal": ModelShape(
        TEXT_CONFIG,
        {**VISION_CONFIG, "embed_dim": 32, "num_heads": 2},
        min_pixels=QWEN2_VL_MIN_PIXELS,
        max_pixels=QWEN2_VL_MAX_PIXELS,
    ),
    "qwen2-vl-2b": ModelShape(
        QWEN2_VL_2B_TEXT,
        QWEN2_VL_2B_VISION,
        vocab_size=QWEN2_VL_2B_VOCAB,
        min_pixels=QWEN2_VL_MIN_PIXELS,
        max_pixels=QWEN2_VL_MAX_PIXELS,
        pad_tokenizer=True,
        dtype="bfloat16",
    ),
    "tiny-qwen2.5-vl": ModelShape(TEXT_CONFIG, QWEN2_5_VL_VISION_CONFIG, architecture="qwen2_5_vl"),
}
FILLER_TOKEN = "Ġfill{index}"  # a byte-level BPE entry that decodes to " fill<index>"


def training_corpus(extra: Iterable[str] = ()) -> list[str]:
    """The texts the tokenizer learns from: prompts, questions, tags, common words, and `extra`."""
    problems = [
        f"{question}\nPlease choose one from list [ {SAMPLE_OPTIONS}]." for question in QUESTIONS
    ]
    prompts = [
        template.format(question=problem)
        for wordings in PROMPT_TEMPLATES.values()
        for template in wordings.values()
        for problem in problems
    ]
    return [*QUESTIONS, *prompts, *EXTRA_TEXTS, *extra]


def build_tokenizer(corpus: Iterable[str] = ()) -> PreTrainedTokenizerFast:
    """A deterministic byte-level BPE tokenizer with Qwen's special tokens at ids 0..6."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(training_corpus(corpus), trainer=trainer)
    return _wrapped(tokenizer)


def _wrapped(tokenizer: Tokenizer) -> PreTrainedTokenizerFast:
    """A `tokenizers` tokenizer as Qwen's: left padding, eos `<|im_end|>`, the chat template."""
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token=IM_END,
        pad_token=ENDOFTEXT,
        padding_side="left",
        model_max_length=MODEL_MAX_LENGTH,
        clean_up_tokenization_spaces=False,
        chat_template=CHAT_TEMPLATE,
    )
    wrapped.add_special_tokens({"additional_special_tokens": list(SPECIAL_TOKENS[1:])})
    return wrapped


def pad_vocabulary(tokenizer: PreTrainedTokenizerFast, size: int) -> PreTrainedTokenizerFast:
    """The tokenizer with filler entries appended to its BPE vocabulary until it has `size`
    tokens. Encoding never produces them (no merge leads there); every id below `size` decodes."""
    data = json.loads(tokenizer.backend_tokenizer.to_str())
    vocab = data["model"]["vocab"]
    missing = size - len(tokenizer)
    if missing < 0:
        raise ValueError(f"the tokenizer has {len(tokenizer)} tokens, more than {size}")
    first = max(vocab.values()) + 1
    vocab.update({FILLER_TOKEN.format(index=i): first + i for i in range(missing)})
    return _wrapped(Tokenizer.from_str(json.dumps(data)))


def build_processor(
    tokenizer: PreTrainedTokenizerFast,
    min_pixels: int,
    max_pixels: int,
    architecture: str = "qwen2_vl",
) -> Qwen2VLProcessor:
    """The architecture's processor at toy size (transformers 5 also needs a video processor)."""
    pixels = {"min_pixels": min_pixels, "max_pixels": max_pixels}
    processor_class = ARCHITECTURES[architecture][2]
    return processor_class(
        image_processor=Qwen2VLImageProcessor(**pixels),
        tokenizer=tokenizer,
        video_processor=Qwen2VLVideoProcessor(**pixels),
        chat_template=CHAT_TEMPLATE,
    )


def build_config(
    tokenizer: PreTrainedTokenizerFast, shape: ModelShape = SHAPES["tiny"]
) -> Qwen2VLConfig:
    """The config of a shape (its architecture's class), its token ids taken from `tokenizer`."""
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in SPECIAL_TOKENS}
    if len(tokenizer) > shape.vocab_size:
        raise ValueError(
            f"tokenizer has {len(tokenizer)} tokens, more than the vocabulary ({shape.vocab_size})"
        )
    token_ids = {
        "vocab_size": shape.vocab_size,
        "bos_token_id": ids[ENDOFTEXT],
        "eos_token_id": ids[IM_END],
        "pad_token_id": ids[ENDOFTEXT],
    }
    config_class = ARCHITECTURES[shape.architecture][0]
    return config_class(
        text_config={**shape.text, **token_ids},
        vision_config=dict(shape.vision),
        image_token_id=ids[IMAGE_PAD],
        video_token_id=ids[VIDEO_PAD],
        vision_start_token_id=ids[VISION_START],
        vision_end_token_id=ids[VISION_END],
        tie_word_embeddings=True,  # as Qwen2-VL-2B-Instruct
        **token_ids,
    )


def build_model(
    config: Qwen2VLConfig, seed: int, dtype: torch.dtype = torch.float32
) -> Qwen2VLForConditionalGeneration:
    """Random weights fixed by `seed`; a greedy generation config that stops at `<|im_end|>`."""
    torch.manual_seed(seed)
    model_class = ARCHITECTURES[config.model_type][1]
    model = model_class._from_config(config, dtype=dtype)
    model.generation_config = GenerationConfig(
        do_sample=False,
        bos_token_id=config.text_config.bos_token_id,
        eos_token_id=config.text_config.eos_token_id,
        pad_token_id=config.text_config.pad_token_id,
    )
    return model.eval()


def build_tiny_model(
    output_dir: str | os.PathLike,
    seed: int = 0,
    corpus: Iterable[str] = (),
    image_min_pixels: int | None = None,
    image_max_pixels: int | None = None,
    shape: str = "tiny",
) -> Path:
    """Build and save a random Qwen2-VL of a shape (`SHAPES`; model, tokenizer, processor) to
    `output_dir`; return it. The image pixel range defaults to the shape's.

    The folder is written beside `output_dir` and renamed into place at the end, so a crash never
    leaves a half-written model there; an existing `output_dir` is replaced.
    """
    output = Path(output_dir).resolve()
    spec = SHAPES[shape]
    tokenizer = build_tokenizer(corpus)
    if spec.pad_tokenizer:
        tokenizer = pad_vocabulary(tokenizer, spec.vocab_size)
    processor = build_processor(
        tokenizer,
        image_min_pixels or spec.min_pixels,
        image_max_pixels or spec.max_pixels,
        spec.architecture,
    )
    model = build_model(build_config(tokenizer, spec), seed, getattr(torch, spec.dtype))
    with folder_written_atomically(output) as staging:
        model.save_pretrained(staging)
        processor.save_pretrained(staging)
    return output


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: `python -m clsrl.tiny_model OUTPUT_DIR [--seed N] [--shape NAME]`."""
    parser = argparse.ArgumentParser(
        prog="python -m clsrl.tiny_model",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("output_dir", type=Path, help="folder to write the model to")
    parser.add_argument("--seed", type=int, default=0, help="weight initialisation seed")
    parser.add_argument("--shape", choices=list(SHAPES), default="tiny", help="the architecture")
    args = parser.parse_args(argv)
    print(build_tiny_model(args.output_dir, seed=args.seed, shape=args.shape))


if __name__ == "__main__":
    main()
