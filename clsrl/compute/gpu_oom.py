"""A job that ran out of GPU memory: reported as such, and never retried as it was.

Snakemake retries a failed job (the profiles' `retries`) with more host memory and time, which
cannot help a job that overflowed its GPU. So a CUDA out-of-memory error ends the job with
`GpuOutOfMemory`, whose message names the card, the job's estimate and the ways out
(clsrl.compute.sizing), and leaves a mark: a training job's in its spec checkpoint folder (a changed
spec gets a new folder, so the mark concerns these exact settings), an evaluation's in its output
folder, named by its batch size. A retry with the same settings stops at once with that message,
before loading the model, and asks no more host memory (rules/resources.smk); delete the mark to
try the same settings again, e.g. on a larger card.

>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> earlier_out_of_memory(folder) is None
True
>>> record_out_of_memory(folder, "GPU out of memory on a 24 GiB card.")
>>> print(earlier_out_of_memory(folder))  # doctest: +ELLIPSIS
An earlier attempt of this job, with these same settings, ran out of GPU memory: GPU out of ...
"""

from __future__ import annotations

from pathlib import Path

from clsrl.compute.gpu_memory import TrainingShape, training_gib
from clsrl.compute.resources import size_of_model
from clsrl.compute.sizing import ways_out

MARK = "gpu_out_of_memory.txt"


class GpuOutOfMemory(RuntimeError):
    """A job overflowed its GPU (a known error: its message names the ways out)."""


def evaluation_mark(batch_size: int) -> str:
    """The mark of an evaluation that ran out of GPU memory at `batch_size`."""
    return f"gpu_out_of_memory.batch{batch_size}.txt"


def record_out_of_memory(folder: str | Path, message: str, mark: str = MARK) -> None:
    """Leave the mark of an out-of-memory failure in `folder` (a spec's, an evaluation's)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / mark).write_text(message + "\n", encoding="utf-8")


def earlier_out_of_memory(folder: str | Path, mark: str = MARK) -> str | None:
    """The refusal of a retry, where an earlier attempt with these settings ran out of GPU
    memory."""
    mark = Path(folder) / mark
    if not mark.is_file():
        return None
    return (
        "An earlier attempt of this job, with these same settings, ran out of GPU memory: "
        f"{mark.read_text(encoding='utf-8').strip()} A retry with more host memory or time "
        "cannot help, so none is made. Change a setting named above (changed settings start "
        f"afresh), or, to try these same settings again (e.g. on a larger card), delete {mark}."
    )


def out_of_memory_message(spec, error: BaseException) -> str:
    """What ran out, the card, this job's estimate (from its clsrl.training.spec.TrainingSpec)
    and the ways out (clsrl.compute.sizing)."""
    card_gib = gpu_memory_gib()
    size = size_of_model(spec.base_model, spec.image_resize)
    shape = TrainingShape.of_spec(spec)
    card = f"a {card_gib:.0f} GiB card" if card_gib else "its GPU"
    return (
        f"training ran out of GPU memory on {card} ({first_line(error)}). The estimate for this "
        f"job ({shape.describe()}) is about {training_gib(size, shape):.0f} GiB per GPU. "
        f"{ways_out(size, shape, card_gib)}"
    )


def evaluation_out_of_memory_message(batch_size: int, error: BaseException) -> str:
    """What ran out in an evaluation, and the way out: a smaller batch."""
    return (
        f"evaluation ran out of GPU memory with evaluation.batch_size: {batch_size} "
        f"({first_line(error)}). Lower evaluation.batch_size (e.g. {max(1, batch_size // 2)}): "
        "the key/value cache of a batch grows with it (clsrl/compute/gpu_memory.py)."
    )


def first_line(error: BaseException) -> str:
    """An error's first line, without its full stop."""
    text = str(error).strip()
    return text.splitlines()[0].rstrip(".") if text else type(error).__name__


def gpu_memory_gib() -> float | None:
    """The memory of the job's first GPU, in GiB; None without one."""
    import torch

    if not torch.cuda.is_available():
        return None
    return torch.cuda.get_device_properties(0).total_memory / 2**30
