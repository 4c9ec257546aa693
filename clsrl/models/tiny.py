"""`python -m clsrl.models.tiny OUTPUT_DIR [--seed N] [--shape NAME]`: a random VLM, offline.

The folder it writes reloads with `AutoModelForImageTextToText` and `AutoProcessor` under
`HF_HUB_OFFLINE=1` exactly as a hub checkpoint of its family would, so tests and the CPU demo take
the same code path as `Qwen/Qwen2-VL-2B-Instruct` (or `google/gemma-3-4b-it`, ...). Each family
(`ARCHITECTURES`, keyed by `model_type`) is described once: its config, model and processor
classes, its tokenizer's special tokens (`Vocabulary`) and its real chat template (both in
clsrl.models.family_vocabularies), and how its config and processor are made at toy size. Every
build has:

- a byte-level BPE tokenizer (up to 1024 tokens) trained on the protocol's prompt texts plus any
  caller corpus, with the family's special tokens first, left padding and the family's eos;
- the family's real chat template (Qwen2-VL: a default system turn, one `<|vision_start|>
  <|image_pad|><|vision_end|>` block per image, expanded by the processor);
- random weights of one of the shapes (`SHAPES`), the output layer tied to the input embeddings:
  - `tiny` (builtin:tiny-qwen2-vl, the demo and tests): a 2-layer text model and a 2-block vision
    tower (~220k parameters); a 56x56 image gives 16 patches and 4 image tokens after the 2x2 merge;
  - `rehearsal` (the scale rehearsal, bench/rehearsal.py): the same narrow text model with
    Qwen2-VL-2B's vision geometry and image processor (patch 14, 2x2 merge, up to 12.8 M pixels:
    a 384x384 image becomes 392x392, 784 patches, 196 image tokens);
  - `qwen2-vl-2b` (builtin:qwen2-vl-2b-random): the published Qwen2-VL-2B-Instruct architecture
    (hidden 1536, 28 layers, vision depth 32, vocabulary 151,936; ~2.2 B parameters, saved in
    bfloat16 like the real checkpoint), its tokenizer padded with filler tokens to the full
    vocabulary so that every id a random model samples decodes. For rehearsals and GPU
    measurements only: loading `Qwen/Qwen2-VL-2B-Instruct` stays the real path;
  - `tiny-qwen2.5-vl` (builtin:tiny-qwen2.5-vl): a Qwen2.5-VL (`Qwen2_5_VLForConditionalGeneration`,
    `Qwen2_5_VLProcessor`; windowed vision attention, its merger's output sized to the text model)
    of the `tiny` sizes; Qwen2.5-VL's Instruct checkpoints ship Qwen2-VL's chat template;
  - `tiny-qwen3-vl` (builtin:tiny-qwen3-vl): a Qwen3-VL (`Qwen3VLForConditionalGeneration`,
    `Qwen3VLProcessor`): patch 16 (a 56x56 image is resized to 64x64: 16 patches, 4 tokens),
    interleaved multimodal rope, deepstack features, learned position embeddings; Qwen3-VL's
    template (no default system turn);
  - `tiny-gemma3` (builtin:tiny-gemma3): a Gemma 3 (`Gemma3ForConditionalGeneration`,
    `Gemma3Processor`): a SigLIP tower on 56x56 images (16 patches of 14 px, pooled to 4 soft
    tokens), sliding and full attention layers; its tokenizer prepends `<bos>`, its template
    starts with `<bos>`, has no system turn and calls the assistant `model`;
  - `tiny-idefics3` (builtin:tiny-idefics3): an Idefics3 / SmolVLM
    (`Idefics3ForConditionalGeneration`, `Idefics3Processor`, a Llama text model): a SigLIP-like
    tower on 56x56 images, pixel shuffle by 2 (4 image tokens), no image splitting; SmolVLM's
    template (`User:` / `Assistant:` turns; a reply follows `Assistant:` after a space).

The pixel range (`image_min_pixels`, `image_max_pixels`) sets the processors that have one (the
Qwen families); Gemma 3's and Idefics3's processors resize to their vision tower's fixed size.
The same seed gives bit-identical weights.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    Gemma3Config,
    Gemma3ForConditionalGeneration,
    Gemma3ImageProcessor,
    Gemma3Processor,
    GenerationConfig,
    Idefics3Config,
    Idefics3ForConditionalGeneration,
    Idefics3ImageProcessor,
    Idefics3Processor,
    PretrainedConfig,
    PreTrainedTokenizerFast,
    ProcessorMixin,
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2_5_VLProcessor,
    Qwen2VLConfig,
    Qwen2VLForConditionalGeneration,
    Qwen2VLImageProcessor,
    Qwen2VLProcessor,
    Qwen2VLVideoProcessor,
    Qwen3VLConfig,
    Qwen3VLForConditionalGeneration,
    Qwen3VLProcessor,
    Qwen3VLVideoProcessor,
)

from clsrl.io import folder_written_atomically
from clsrl.models.family_vocabularies import (
    BOI,
    CHAT_TEMPLATE,
    DEFAULT_SYSTEM_PROMPT,
    EOI,
    GEMMA3_CHAT_TEMPLATE,
    GEMMA3_VOCABULARY,
    IDEFICS3_CHAT_TEMPLATE,
    IDEFICS3_VOCABULARY,
    IMAGE_PAD,
    IMAGE_SOFT,
    QWEN3_VL_CHAT_TEMPLATE,
    QWEN3_VL_VOCABULARY,
    QWEN_VOCABULARY,
    VIDEO_PAD,
    VISION_END,
    VISION_START,
    Vocabulary,
)
from clsrl.prompts import PROMPT_TEMPLATES

# --- tokenizers ------------------------------------------------------------------------------
# BPE target size, and the model's embedding rows (fixed, so weights depend on seed only).
VOCAB_SIZE = 1024
MODEL_MAX_LENGTH = 32768


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
    """The architecture of a random model and its processor's pixel range."""

    text: dict
    vision: dict
    vocab_size: int = VOCAB_SIZE  # embedding rows; the tokenizer is padded up to them if asked
    min_pixels: int = 56 * 56  # the processor's pixel range, for the families that have one
    max_pixels: int = 56 * 56
    pad_tokenizer: bool = False
    dtype: str = "float32"  # the dtype the weights are saved in
    architecture: str = "qwen2_vl"  # its model_type: a key of ARCHITECTURES
    # how image features reach the text model (Gemma 3's pooled tokens, Idefics3's pixel shuffle)
    connector: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Architecture:
    """How to build one model_type offline: its classes, tokenizer, chat template, and the
    factories of its config (from a tokenizer and a shape) and processor (from a tokenizer, a
    shape and a pixel range)."""

    config_class: type[PretrainedConfig]
    model_class: type
    processor_class: type[ProcessorMixin]
    vocabulary: Vocabulary
    chat_template: str
    config: Callable[[Architecture, PreTrainedTokenizerFast, ModelShape], PretrainedConfig]
    processor: Callable[
        [Architecture, PreTrainedTokenizerFast, ModelShape, int, int], ProcessorMixin
    ]


def token_ids(tokenizer: PreTrainedTokenizerFast, vocabulary: Vocabulary) -> dict[str, int]:
    """Each special token's id in `tokenizer`."""
    return {token: tokenizer.convert_tokens_to_ids(token) for token in vocabulary.special_tokens}


def _eos_ids(ids: dict[str, int], vocabulary: Vocabulary) -> int | list[int]:
    """The eos id, or eos and the stop tokens' ids as the family's generation config lists them."""
    if not vocabulary.stop:
        return ids[vocabulary.eos]
    return [ids[vocabulary.eos], *(ids[token] for token in vocabulary.stop)]


def _text_ids(ids: dict[str, int], vocabulary: Vocabulary, shape: ModelShape) -> dict:
    """The text config's vocabulary size and special token ids (a family without a bos token,
    Qwen's, uses its pad token, <|endoftext|>, as bos)."""
    return {
        "vocab_size": shape.vocab_size,
        "bos_token_id": ids[vocabulary.bos or vocabulary.pad],
        "eos_token_id": _eos_ids(ids, vocabulary),
        "pad_token_id": ids[vocabulary.pad],
    }


def _qwen_config(
    arch: Architecture, tokenizer, shape: ModelShape, top_level_ids: bool = True
) -> PretrainedConfig:
    """Qwen2-VL, Qwen2.5-VL and Qwen3-VL: vision start/end and image/video pads, bos =
    <|endoftext|>, tied embeddings as their 2B models'; Qwen3-VL keeps the text token ids in its
    text config only (`top_level_ids=False`)."""
    ids = token_ids(tokenizer, arch.vocabulary)
    text_ids = _text_ids(ids, arch.vocabulary, shape)
    return arch.config_class(
        text_config={**shape.text, **text_ids},
        vision_config=dict(shape.vision),
        image_token_id=ids[IMAGE_PAD],
        video_token_id=ids[VIDEO_PAD],
        vision_start_token_id=ids[VISION_START],
        vision_end_token_id=ids[VISION_END],
        tie_word_embeddings=True,
        **(text_ids if top_level_ids else {}),
    )


def _qwen3_vl_config(arch: Architecture, tokenizer, shape: ModelShape) -> PretrainedConfig:
    return _qwen_config(arch, tokenizer, shape, top_level_ids=False)


def _gemma3_config(arch: Architecture, tokenizer, shape: ModelShape) -> PretrainedConfig:
    """Gemma 3: begin/end of image and the soft image token; tied embeddings as Gemma's."""
    vocabulary = arch.vocabulary
    ids = token_ids(tokenizer, vocabulary)
    text_ids = _text_ids(ids, vocabulary, shape)
    return arch.config_class(
        text_config={**shape.text, **text_ids},
        vision_config=dict(shape.vision),
        boi_token_index=ids[BOI],
        eoi_token_index=ids[EOI],
        image_token_index=ids[IMAGE_SOFT],
        **shape.connector,
    )


def _idefics3_config(arch: Architecture, tokenizer, shape: ModelShape) -> PretrainedConfig:
    """Idefics3: a Llama text model, the <image> token, the pixel-shuffle scale factor."""
    vocabulary = arch.vocabulary
    ids = token_ids(tokenizer, vocabulary)
    text_ids = _text_ids(ids, vocabulary, shape)
    return arch.config_class(
        text_config={"model_type": "llama", **shape.text, **text_ids},
        vision_config=dict(shape.vision),
        image_token_id=ids["<image>"],
        pad_token_id=ids[vocabulary.pad],
        tie_word_embeddings=True,
        **shape.connector,
    )


def _qwen_processor(arch, tokenizer, shape, min_pixels: int, max_pixels: int) -> ProcessorMixin:
    """Qwen2-VL's image and video processors (patch 14) with the pixel range."""
    pixels = {"min_pixels": min_pixels, "max_pixels": max_pixels}
    return arch.processor_class(
        image_processor=Qwen2VLImageProcessor(**pixels),
        tokenizer=tokenizer,
        video_processor=Qwen2VLVideoProcessor(**pixels),
        chat_template=arch.chat_template,
    )


def _qwen3_vl_processor(arch, tokenizer, shape, min_pixels: int, max_pixels: int):
    """Qwen3-VL's processors (preprocessor_config.json): patch 16, mean and std 0.5, the pixel
    range as `size` {shortest_edge, longest_edge} in pixels."""
    patches = {
        "size": {"shortest_edge": min_pixels, "longest_edge": max_pixels},
        "patch_size": shape.vision["patch_size"],
        "temporal_patch_size": shape.vision["temporal_patch_size"],
        "merge_size": shape.vision["spatial_merge_size"],
        "image_mean": [0.5, 0.5, 0.5],
        "image_std": [0.5, 0.5, 0.5],
    }
    return arch.processor_class(
        image_processor=Qwen2VLImageProcessor(**patches),
        tokenizer=tokenizer,
        video_processor=Qwen3VLVideoProcessor(**patches),
        chat_template=arch.chat_template,
    )


def _gemma3_processor(arch, tokenizer, shape, min_pixels: int, max_pixels: int):
    """Gemma 3's: images resized to the SigLIP tower's square size, `mm_tokens_per_image` soft
    tokens each (no pan and scan, as the checkpoints' default)."""
    side = shape.vision["image_size"]
    return arch.processor_class(
        image_processor=Gemma3ImageProcessor(size={"height": side, "width": side}),
        tokenizer=tokenizer,
        chat_template=arch.chat_template,
        image_seq_length=shape.connector["mm_tokens_per_image"],
    )


def _idefics3_processor(arch, tokenizer, shape, min_pixels: int, max_pixels: int):
    """Idefics3's: no image splitting, so an image is resized to the vision tower's square size
    and gives (side / patch)^2 / scale_factor^2 <image> tokens."""
    side, patch = shape.vision["image_size"], shape.vision["patch_size"]
    return arch.processor_class(
        image_processor=Idefics3ImageProcessor(
            size={"longest_edge": 2 * side},
            max_image_size={"longest_edge": side},
            do_image_splitting=False,
        ),
        tokenizer=tokenizer,
        image_seq_len=(side // patch) ** 2 // shape.connector["scale_factor"] ** 2,
        chat_template=arch.chat_template,
    )


# Each model_type's classes, tokenizer, chat template, config and processor.
ARCHITECTURES = {
    "qwen2_vl": Architecture(
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
        Qwen2VLProcessor,
        QWEN_VOCABULARY,
        CHAT_TEMPLATE,
        _qwen_config,
        _qwen_processor,
    ),
    "qwen2_5_vl": Architecture(
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        QWEN_VOCABULARY,
        CHAT_TEMPLATE,
        _qwen_config,
        _qwen_processor,
    ),
    "qwen3_vl": Architecture(
        Qwen3VLConfig,
        Qwen3VLForConditionalGeneration,
        Qwen3VLProcessor,
        QWEN3_VL_VOCABULARY,
        QWEN3_VL_CHAT_TEMPLATE,
        _qwen3_vl_config,
        _qwen3_vl_processor,
    ),
    "gemma3": Architecture(
        Gemma3Config,
        Gemma3ForConditionalGeneration,
        Gemma3Processor,
        GEMMA3_VOCABULARY,
        GEMMA3_CHAT_TEMPLATE,
        _gemma3_config,
        _gemma3_processor,
    ),
    "idefics3": Architecture(
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3Processor,
        IDEFICS3_VOCABULARY,
        IDEFICS3_CHAT_TEMPLATE,
        _idefics3_config,
        _idefics3_processor,
    ),
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
# Qwen3-VL at the `tiny` sizes, with Qwen3-VL-2B-Instruct's structure: an explicit head_dim,
# interleaved multimodal rope (mrope_section sums to head_dim / 2), rope_theta 5e6.
QWEN3_VL_TEXT_CONFIG = {
    **{key: TEXT_CONFIG[key] for key in ("num_hidden_layers", "hidden_size", "intermediate_size")},
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "max_position_embeddings": MODEL_MAX_LENGTH,
    "rope_parameters": {
        "rope_type": "default",
        "rope_theta": 5e6,
        "mrope_section": [4, 2, 2],
        "mrope_interleaved": True,
    },
}
QWEN3_VL_VISION_CONFIG = {
    "depth": 2,
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_heads": 2,
    "out_hidden_size": 64,  # the merger's output size: must equal the text hidden size
    "patch_size": 16,
    "spatial_merge_size": 2,
    "temporal_patch_size": 2,
    "num_position_embeddings": 16,  # a square: a 4 x 4 grid of learned positions, interpolated
    "deepstack_visual_indexes": [0],  # blocks whose features are added to the first text layers
}
QWEN3_VL_PIXELS = 64 * 64  # a 56x56 image is resized to 64x64 (multiples of 2 x 16 px)
# Gemma 3 at the `tiny` sizes: sliding then full attention (gemma-3-4b: five sliding per full
# one), head_dim 16 and query_pre_attn_scalar = head_dim, as in the 4B (256 and 256).
GEMMA3_TEXT_CONFIG = {
    **{key: TEXT_CONFIG[key] for key in ("num_hidden_layers", "hidden_size", "intermediate_size")},
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "query_pre_attn_scalar": 16,
    "sliding_window": 512,
    "layer_types": ["sliding_attention", "full_attention"],
    "max_position_embeddings": MODEL_MAX_LENGTH,
}
SIGLIP_VISION_CONFIG = {  # Gemma 3's and Idefics3's vision towers: a SigLIP encoder
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "image_size": 56,
    "patch_size": 14,  # 4 x 4 patches
}
GEMMA3_VISION_CONFIG = {**SIGLIP_VISION_CONFIG, "vision_use_head": False}
# Idefics3 (SmolVLM): a Llama text model at the `tiny` sizes.
LLAMA_TEXT_CONFIG = {
    **{key: TEXT_CONFIG[key] for key in ("num_hidden_layers", "hidden_size", "intermediate_size")},
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": MODEL_MAX_LENGTH,
    "rope_parameters": {"rope_type": "default", "rope_theta": 1e5},
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
    "tiny-qwen3-vl": ModelShape(
        QWEN3_VL_TEXT_CONFIG,
        QWEN3_VL_VISION_CONFIG,
        min_pixels=QWEN3_VL_PIXELS,
        max_pixels=QWEN3_VL_PIXELS,
        architecture="qwen3_vl",
    ),
    "tiny-gemma3": ModelShape(
        GEMMA3_TEXT_CONFIG,
        GEMMA3_VISION_CONFIG,
        architecture="gemma3",
        connector={"mm_tokens_per_image": 4},  # a square: 4 x 4 patches average-pooled to 2 x 2
    ),
    "tiny-idefics3": ModelShape(
        LLAMA_TEXT_CONFIG,
        SIGLIP_VISION_CONFIG,
        architecture="idefics3",
        connector={"scale_factor": 2},  # pixel shuffle: 4 x 4 patches -> 4 tokens
    ),
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


def build_tokenizer(
    corpus: Iterable[str] = (), architecture: str = "qwen2_vl"
) -> PreTrainedTokenizerFast:
    """A deterministic byte-level BPE tokenizer with the family's special tokens at ids 0.. (Qwen:
    0..6)."""
    vocabulary = ARCHITECTURES[architecture].vocabulary
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=list(vocabulary.special_tokens),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(training_corpus(corpus), trainer=trainer)
    return _wrapped(tokenizer, architecture)


def _wrapped(tokenizer: Tokenizer, architecture: str = "qwen2_vl") -> PreTrainedTokenizerFast:
    """A `tokenizers` tokenizer as the family's: left padding, its bos/eos/pad (Qwen: eos
    `<|im_end|>`, pad `<|endoftext|>`, no bos), its named special tokens, its chat template."""
    arch = ARCHITECTURES[architecture]
    vocabulary = arch.vocabulary
    roles = {"bos_token": vocabulary.bos, "unk_token": vocabulary.unk}
    options = {name: token for name, token in roles.items() if token is not None}
    if vocabulary.prepend_bos:
        options["add_bos_token"] = True
    if vocabulary.named:
        options["extra_special_tokens"] = dict(vocabulary.named)
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token=vocabulary.eos,
        pad_token=vocabulary.pad,
        padding_side="left",
        model_max_length=MODEL_MAX_LENGTH,
        clean_up_tokenization_spaces=False,
        chat_template=arch.chat_template,
        **options,
    )
    wrapped.add_special_tokens({"additional_special_tokens": vocabulary.additional})
    return wrapped


def pad_vocabulary(
    tokenizer: PreTrainedTokenizerFast, size: int, architecture: str = "qwen2_vl"
) -> PreTrainedTokenizerFast:
    """The tokenizer with filler entries appended to its BPE vocabulary until it has `size`
    tokens. Encoding never produces them (no merge leads there); every id below `size` decodes."""
    data = json.loads(tokenizer.backend_tokenizer.to_str())
    vocab = data["model"]["vocab"]
    missing = size - len(tokenizer)
    if missing < 0:
        raise ValueError(f"the tokenizer has {len(tokenizer)} tokens, more than {size}")
    first = max(vocab.values()) + 1
    vocab.update({FILLER_TOKEN.format(index=i): first + i for i in range(missing)})
    return _wrapped(Tokenizer.from_str(json.dumps(data)), architecture)


def build_processor(
    tokenizer: PreTrainedTokenizerFast,
    min_pixels: int,
    max_pixels: int,
    architecture: str = "qwen2_vl",
    shape: ModelShape | None = None,
) -> ProcessorMixin:
    """The architecture's processor at toy size (transformers 5 also needs a Qwen video processor);
    `shape` defaults to the architecture's first in SHAPES."""
    shape = shape or next(s for s in SHAPES.values() if s.architecture == architecture)
    arch = ARCHITECTURES[architecture]
    return arch.processor(arch, tokenizer, shape, min_pixels, max_pixels)


def build_config(
    tokenizer: PreTrainedTokenizerFast, shape: ModelShape = SHAPES["tiny"]
) -> PretrainedConfig:
    """The config of a shape (its architecture's class), its token ids taken from `tokenizer`."""
    if len(tokenizer) > shape.vocab_size:
        raise ValueError(
            f"tokenizer has {len(tokenizer)} tokens, more than the vocabulary ({shape.vocab_size})"
        )
    arch = ARCHITECTURES[shape.architecture]
    return arch.config(arch, tokenizer, shape)


def build_model(config: PretrainedConfig, seed: int, dtype: torch.dtype = torch.float32):
    """Random weights fixed by `seed`; a greedy generation config that stops at the family's eos
    (Qwen2-VL: `<|im_end|>`)."""
    torch.manual_seed(seed)
    model_class = ARCHITECTURES[config.model_type].model_class
    model = model_class._from_config(config, dtype=dtype)
    text = config.get_text_config()
    model.generation_config = GenerationConfig(
        do_sample=False,
        bos_token_id=text.bos_token_id,
        eos_token_id=text.eos_token_id,
        pad_token_id=text.pad_token_id,
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
    """Build and save a random model of a shape (`SHAPES`; model, tokenizer, processor) to
    `output_dir`; return it. The image pixel range defaults to the shape's (it sets the processors
    that have one: the Qwen families').

    The folder is written beside `output_dir` and renamed into place at the end, so a crash never
    leaves a half-written model there; an existing `output_dir` is replaced.
    """
    output = Path(output_dir).resolve()
    spec = SHAPES[shape]
    tokenizer = build_tokenizer(corpus, spec.architecture)
    if spec.pad_tokenizer:
        tokenizer = pad_vocabulary(tokenizer, spec.vocab_size, spec.architecture)
    processor = build_processor(
        tokenizer,
        image_min_pixels or spec.min_pixels,
        image_max_pixels or spec.max_pixels,
        spec.architecture,
        spec,
    )
    model = build_model(build_config(tokenizer, spec), seed, getattr(torch, spec.dtype))
    with folder_written_atomically(output) as staging:
        model.save_pretrained(staging)
        processor.save_pretrained(staging)
    return output


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: `python -m clsrl.models.tiny OUTPUT_DIR [--seed N] [--shape NAME]`."""
    parser = argparse.ArgumentParser(
        prog="python -m clsrl.models.tiny",
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
