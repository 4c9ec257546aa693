"""Load a vision-language model and its processor, from the hub (cache) or a local folder: the one
loader of training and evaluation.

Precision has one vocabulary everywhere (`training.precision`, `evaluation.precision`): `auto`
(bf16 on a GPU that supports it, else fp32), `bf16`, `fp32`, `fp16`.

>>> resolve_device("auto", cuda_available=False)
'cpu'
>>> resolve_precision("auto", "cuda", bf16_supported=True), resolve_precision("fp32")
(torch.bfloat16, torch.float32)
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import torch
from transformers import AutoModelForImageTextToText, AutoProcessor

from clsrl.cpu_numerics import pin_if_asked
from clsrl.io import looks_like_local_path
from clsrl.models.families import family_for

PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
AUTO = "auto"
MODEL_CONFIG_FILE = "config.json"
TINY_MODEL_HINT = "build a tiny offline model with `python -m clsrl.models.tiny PATH`"


def resolve_device(device: str = AUTO, *, cuda_available: bool | None = None) -> str:
    """`"auto"` -> "cuda" when a GPU is visible, else "cpu"; any other torch device name as is."""
    if device != AUTO:
        torch.device(device)  # raises a clear RuntimeError on a malformed name
        return device
    if cuda_available is None:
        cuda_available = torch.cuda.is_available()
    return "cuda" if cuda_available else "cpu"


def resolve_precision(
    precision: str | torch.dtype = AUTO, device: str = "cpu", *, bf16_supported: bool | None = None
) -> torch.dtype:
    """`"auto"` -> bfloat16 on a GPU that supports it, else float32; `bf16`, `fp32`, `fp16` ->
    their dtype; a torch dtype as it is."""
    if isinstance(precision, torch.dtype):
        return precision
    if precision != AUTO:
        if precision not in PRECISIONS:
            raise ValueError(
                f"unknown precision {precision!r}; use 'auto' or one of {', '.join(PRECISIONS)}"
            )
        return PRECISIONS[precision]
    if not device.startswith("cuda"):
        return torch.float32
    if bf16_supported is None:
        bf16_supported = torch.cuda.is_bf16_supported()
    return torch.bfloat16 if bf16_supported else torch.float32


def attention_implementation() -> str:
    """flash_attention_2 where it is installed and a GPU is visible, else PyTorch's sdpa."""
    has_flash = importlib.util.find_spec("flash_attn") is not None
    return "flash_attention_2" if has_flash and torch.cuda.is_available() else "sdpa"


def check_local_model(name_or_path: str) -> None:
    """Raise FileNotFoundError, naming the path and the fix, unless it is a model folder."""
    path = Path(name_or_path).expanduser()
    if not path.exists():
        problem = "does not exist"
    elif not (path / MODEL_CONFIG_FILE).is_file():
        problem = f"is not a model folder (no {MODEL_CONFIG_FILE})"
    else:
        return
    raise FileNotFoundError(
        f"model path {str(path)!r} {problem}: point it at a folder written by `save_pretrained`, "
        f"{TINY_MODEL_HINT}, or give a hub id such as 'Qwen/Qwen2-VL-2B-Instruct'"
    )


def load_model_and_processor(
    name_or_path: str,
    device: str = AUTO,
    precision: str | torch.dtype = AUTO,
    attn_implementation: str | None = None,
):
    """(model in eval mode on `device`, processor with left padding) for a hub id or a folder;
    training (clsrl.training.train) loads through here too, and its trainer sets train mode. A
    process started with pinned CPU numerics pins itself here (clsrl.cpu_numerics)."""
    pin_if_asked()
    if looks_like_local_path(name_or_path):
        check_local_model(name_or_path)
        name_or_path = str(Path(name_or_path).expanduser())
    device = resolve_device(device)
    kwargs = {"dtype": resolve_precision(precision, device)}
    if attn_implementation is not None:
        kwargs["attn_implementation"] = attn_implementation
    try:
        model = AutoModelForImageTextToText.from_pretrained(name_or_path, **kwargs)
        processor = AutoProcessor.from_pretrained(name_or_path)
    except OSError as error:
        offline = os.environ.get("HF_HUB_OFFLINE", "0")
        raise OSError(
            f"cannot load model {name_or_path!r} (HF_HUB_OFFLINE={offline}): download it into the "
            f"hub cache first, or {TINY_MODEL_HINT}"
        ) from error
    family_for(model.config.model_type, name_or_path)  # names an unsupported family
    processor.tokenizer.padding_side = "left"
    return model.to(device).eval(), processor
