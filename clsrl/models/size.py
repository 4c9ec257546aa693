"""The size of a base model, read from its architecture: what the resource estimates scale with.

A model's `config.json` (a local folder's, the hub cache's, or fetched from the hub once) gives its
parameter count and the shapes that set its memory: the language model's layers, widths and
vocabulary, the vision tower's blocks and the patches and tokens of one study image. Nothing is
loaded but that file; no weights, no torch module is built.

>>> size = model_size("Qwen/Qwen2-VL-2B-Instruct", image_side=384)  # the shipped reference config
>>> size.parameters, size.patches, size.image_tokens
(2208985600, 784, 196)
>>> model_size("builtin:tiny-gemma3", image_side=384).parameters  # the built-in tiny builds
178496
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from clsrl.io import looks_like_local_path
from clsrl.models.base_models import BUILTIN_MODELS, BUILTIN_PREFIX
from clsrl.models.hub import hub_offline

# Qwen/Qwen2-VL-2B-Instruct's config.json, shipped: the paper's model (used without a hub cache)
# and builtin:qwen2-vl-2b-random's architecture.
REFERENCE_MODEL = "Qwen/Qwen2-VL-2B-Instruct"
REFERENCE_CONFIG = "model_configs/Qwen2-VL-2B-Instruct"
# The built-in models copying a real model's architecture; the tiny ones' parameter counts (their
# memory and time are floors, whatever their shapes).
REFERENCE_BUILTINS = tuple(name for name, model in BUILTIN_MODELS.items() if not model.parameters)
TINY_PARAMETERS = {
    name: model.parameters for name, model in BUILTIN_MODELS.items() if model.parameters
}
# A question's text without its image: the instruction and a 100-name option list, in tokens of
# Qwen2-VL's tokenizer (bench/rehearsal.py measures 1,450 with the image's 196 tokens).
PROMPT_TEXT_TOKENS = 1254
GATED_VISION_MLP = ("qwen2_5_vl",)  # vision towers whose MLP has a gate (SwiGLU)


@dataclass(frozen=True)
class ModelSize:
    """What the estimates need of one architecture; `source` says where the figures come from."""

    model: str
    source: str
    parameters: int
    layers: int
    hidden: int
    intermediate: int
    kv_width: int  # keys (or values) per token and layer: key/value heads x head width
    vocab: int
    vision_blocks: int
    vision_hidden: int
    vision_mlp: int
    patches: int  # vision patches of one study image
    image_tokens: int  # the tokens one study image becomes in the prompt
    lora_width: int = 0  # sum of (inputs + outputs) of every linear layer: LoRA's params per rank
    tiny: bool = False

    @property
    def prompt_tokens(self) -> int:
        """Tokens of one question: its text and its image."""
        return PROMPT_TEXT_TOKENS + self.image_tokens


class ModelSizeUnknown(LookupError):
    """A base model whose config.json is not at hand."""


@cache
def model_size(base_model: str, image_side: int) -> ModelSize:
    """The size of `base_model` (hub name, folder or builtin:NAME) for images of `image_side` px;
    raise ModelSizeUnknown when its config.json cannot be read (not cached, no network)."""
    name = base_model.removeprefix(BUILTIN_PREFIX)
    if base_model.startswith(BUILTIN_PREFIX) and name in TINY_PARAMETERS:
        return tiny_size(base_model)
    folder, source = config_folder(base_model)
    from transformers import AutoConfig  # ~1.5 s of imports: only for a model of real size

    config = AutoConfig.from_pretrained(folder, local_files_only=True)
    return size_of(config, base_model, source, image_side)


def tiny_size(base_model: str) -> ModelSize:
    """A built-in tiny model: its parameter count, and shapes too small to matter."""
    name = base_model.removeprefix(BUILTIN_PREFIX)
    return ModelSize(
        base_model, "built-in tiny model", TINY_PARAMETERS[name], 2, 64, 128, 32, 1024, 2, 32, 64,
        16, 4, tiny=True,
    )  # fmt: skip


def config_folder(base_model: str) -> tuple[str, str]:
    """A folder holding `base_model`'s config.json, and where it comes from."""
    name = base_model.removeprefix(BUILTIN_PREFIX)
    reference = str(resources.files("clsrl").joinpath(REFERENCE_CONFIG))
    if base_model.startswith(BUILTIN_PREFIX) and name in REFERENCE_BUILTINS:
        return reference, f"{REFERENCE_MODEL}'s config.json, shipped with clsrl"
    if looks_like_local_path(base_model):
        path = Path(base_model).expanduser()
        if not (path / "config.json").is_file():
            raise ModelSizeUnknown(f"{path / 'config.json'} does not exist")
        return str(path), f"{path / 'config.json'}"
    from huggingface_hub import hf_hub_download, try_to_load_from_cache

    cached = try_to_load_from_cache(base_model, "config.json")
    if isinstance(cached, str):
        return str(Path(cached).parent), "its config.json in the hub cache"
    if base_model == REFERENCE_MODEL:
        return reference, f"{REFERENCE_MODEL}'s config.json, shipped with clsrl"
    if hub_offline():
        raise ModelSizeUnknown("its config.json is not in the hub cache and HF_HUB_OFFLINE=1")
    try:
        return str(Path(hf_hub_download(base_model, "config.json")).parent), "the hub's config.json"
    except Exception as error:  # no network, gated, unknown: the caller says what it assumes
        raise ModelSizeUnknown(
            f"fetching its config.json failed ({type(error).__name__})"
        ) from None


def size_of(config, model: str, source: str, image_side: int) -> ModelSize:
    """The ModelSize of a transformers config (a vision-language model's)."""
    text, vision = config.get_text_config(), config.vision_config
    heads = text.num_attention_heads
    head_dim = getattr(text, "head_dim", None) or text.hidden_size // heads
    kv_heads = getattr(text, "num_key_value_heads", None) or heads
    tied = getattr(config, "tie_word_embeddings", None)
    tied = getattr(text, "tie_word_embeddings", True) if tied is None else tied
    vision_shape = vision_shapes(config, vision, image_side)
    text_params, text_lora = text_parameters(text, config.model_type, heads, kv_heads, head_dim)
    embeddings = text.vocab_size * text.hidden_size * (1 if tied else 2)
    return ModelSize(
        model=model,
        source=source,
        parameters=embeddings + text_params + vision_shape["parameters"],
        layers=text.num_hidden_layers,
        hidden=text.hidden_size,
        intermediate=text.intermediate_size,
        kv_width=kv_heads * head_dim,
        vocab=text.vocab_size,
        vision_blocks=vision_shape["blocks"],
        vision_hidden=vision_shape["hidden"],
        vision_mlp=vision_shape["mlp"],
        patches=vision_shape["patches"],
        image_tokens=vision_shape["image_tokens"],
        lora_width=text_lora + vision_shape["lora_width"],
    )


def text_parameters(text, model_type: str, heads: int, kv_heads: int, head_dim: int) -> tuple:
    """Parameters of the language model's layers and final norm (no embeddings), and the sum of
    its linear layers' inputs and outputs."""
    hidden, inter, layers = text.hidden_size, text.intermediate_size, text.num_hidden_layers
    q, kv = heads * head_dim, kv_heads * head_dim
    attention = hidden * q + 2 * hidden * kv + q * hidden
    if model_type in ("qwen2_vl", "qwen2_5_vl"):  # Qwen2's q, k and v have biases
        attention += q + 2 * kv
    norms = 2 * hidden
    if model_type == "gemma3":  # pre- and post-norms around both blocks, q and k norms
        norms = 4 * hidden + 2 * head_dim
    elif model_type == "qwen3_vl":  # q and k norms
        norms += 2 * head_dim
    per_layer = attention + 3 * hidden * inter + norms
    lora = (hidden + q) * 2 + (hidden + kv) * 2 + (hidden + inter) * 3
    return layers * per_layer + hidden, layers * lora


def vision_shapes(config, vision, image_side: int) -> dict:
    """The vision tower's blocks, widths, parameters and the patches and tokens of one image."""
    model_type = config.model_type
    if hasattr(vision, "spatial_merge_size"):  # the Qwen towers: any image size, merged 2 x 2
        width = getattr(vision, "embed_dim", None) or vision.hidden_size
        mlp = getattr(vision, "intermediate_size", None) or width * vision.mlp_ratio
        out = getattr(vision, "out_hidden_size", None) or vision.hidden_size
        blocks, patch, merge = vision.depth, vision.patch_size, vision.spatial_merge_size
        side = max(patch * merge, round(image_side / (patch * merge)) * patch * merge)
        patches = (side // patch) ** 2
        tokens = patches // merge**2
        embed = 3 * vision.temporal_patch_size * patch * patch * width
        merged = width * merge**2
        merger = merged * merged + merged + merged * out + out
        if model_type == "qwen3_vl":  # a patch bias, learned positions, deepstack mergers
            embed += width + vision.num_position_embeddings * width
            deep = len(getattr(vision, "deepstack_visual_indexes", []))
            merger = (merger + 2 * width) + deep * (merger + 2 * merged)
        elif model_type == "qwen2_5_vl":
            merger += width  # an RMSNorm before the merge
        else:
            merger += 2 * width  # a LayerNorm before the merge
        norms = 2 * width if model_type == "qwen2_5_vl" else 4 * width
        extra = embed + merger
    else:  # a SigLIP tower: a fixed image size, its own positions
        width, mlp, blocks = vision.hidden_size, vision.intermediate_size, vision.num_hidden_layers
        patch = vision.patch_size
        patches = (vision.image_size // patch) ** 2
        scale = getattr(config, "scale_factor", 1)
        tokens = getattr(config, "mm_tokens_per_image", None) or patches // scale**2
        hidden = config.get_text_config().hidden_size
        connector = width * hidden + width if model_type == "gemma3" else width * scale**2 * hidden
        extra = 3 * patch * patch * width + width + patches * width + 2 * width + connector
        norms = 4 * width
    gated = model_type in GATED_VISION_MLP
    mlp_params = (3 * width * mlp + 2 * mlp + width) if gated else (2 * width * mlp + mlp + width)
    attention = 4 * width * width + 4 * width
    lora = (width + 3 * width) + 2 * width + (width + mlp) * (3 if gated else 2)
    return {
        "blocks": blocks,
        "hidden": width,
        "mlp": mlp,
        "patches": patches,
        "image_tokens": tokens,
        "parameters": blocks * (attention + mlp_params + norms) + extra,
        "lora_width": blocks * lora,
    }


def billions(parameters: int) -> str:
    """A parameter count for people.

    >>> billions(2_208_985_600), billions(219_392)
    ('2.21 B', '0.22 M')
    """
    if parameters >= 10**8:
        return f"{parameters / 1e9:.2f} B"
    return f"{parameters / 1e6:.2f} M"
