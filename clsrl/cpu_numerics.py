"""Pinned CPU numerics: the same bits from a training run on every x86-64 CPU.

PyTorch picks its CPU kernels by the instruction set the CPU has (AVX-512, AVX2 or neither), and
so do MKL (matrix products) and oneDNN (convolutions). Kernels of different widths add in
different orders, so two machines' logits differ in the last bits; a GRPO run samples its
completions from those logits, and after a few dozen steps two machines' runs part ways. Measured
on the project's 2-core AMD EPYC (AVX-512), 2026-11-28: 40 No-Thinking steps from the shipped toy
model end in different weights with ATen's AVX2 kernels than with its AVX-512 ones.

Pinned, a process uses ATen's portable kernels, MKL's conditional numerical reproducibility
(`MKL_CBWR=COMPATIBLE,STRICT`), no oneDNN and one thread: the same weights whatever instruction
set MKL or oneDNN are allowed (tests/toy/test_toy_world.py checks it), about 1.5x slower. The toy
world's learning tests run pinned, so they rest on the pinned toy model and these numerics, not
on the machine; so does the toy study (bench/toy_study.py), whose table the README quotes.

The environment variables are read when torch starts, so they go to a new process, and a process
started with them pins itself when it loads a model (clsrl.models.loading calls `pin_if_asked`):

    python -m clsrl.cpu_numerics snakemake --cores all   # any command, pinned
    with pinned_environment():                           # the processes started inside
        pool = ProcessPoolExecutor(mp_context=get_context("spawn"), initializer=pin_process)
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence

MARKER = "CLSRL_CPU_NUMERICS"
PINNED_ENV = {
    "ATEN_CPU_CAPABILITY": "default",  # ATen's portable kernels, not AVX2 or AVX-512 ones
    "MKL_CBWR": "COMPATIBLE,STRICT",  # MKL's code path for every CPU, aligned or not
    MARKER: "pinned",  # a process that loads a model pins itself (pin_if_asked)
}


class UnpinnedError(RuntimeError):
    """A process meant to run pinned started without the pinned environment."""


@contextlib.contextmanager
def pinned_environment() -> Iterator[None]:
    """Set PINNED_ENV in os.environ (inherited by the processes started inside), then restore."""
    saved = {name: os.environ.get(name) for name in PINNED_ENV}
    os.environ.update(PINNED_ENV)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def pin_process() -> None:
    """In a process started with PINNED_ENV: one thread and no oneDNN; raise UnpinnedError when
    the environment or ATen's kernels are not the pinned ones (torch started before the
    variables were set)."""
    import torch

    wrong = {name: os.environ.get(name) for name, value in PINNED_ENV.items()}
    wrong = {name: value for name, value in wrong.items() if value != PINNED_ENV[name]}
    if wrong or torch.backends.cpu.get_cpu_capability() != "DEFAULT":
        raise UnpinnedError(
            f"this process is not pinned (environment {wrong or 'as pinned'}, ATen kernels "
            f"{torch.backends.cpu.get_cpu_capability()}): start it inside pinned_environment()"
        )
    torch.set_num_threads(1)
    torch.backends.mkldnn.enabled = False


def numerics_in_effect() -> str:
    """What this process's CPU numerics are, checked: `pinned` when it runs as pin_process()
    leaves it (the pinned environment, one thread, no oneDNN, ATen's DEFAULT kernels), `native`
    when it was not asked to pin, and a sentence naming what differs when it was asked but the
    pinning is not in effect (it never loaded a model through clsrl, say)."""
    import torch

    state = {
        "environment": all(os.environ.get(name) == value for name, value in PINNED_ENV.items()),
        "threads": torch.get_num_threads(),
        "oneDNN": torch.backends.mkldnn.enabled,
        "kernels": torch.backends.cpu.get_cpu_capability(),
    }
    pinned = {"environment": True, "threads": 1, "oneDNN": False, "kernels": "DEFAULT"}
    if state == pinned:
        return "pinned"
    if os.environ.get(MARKER) != "pinned":
        return "native"
    differ = ", ".join(f"{key} {state[key]}" for key in pinned if state[key] != pinned[key])
    return f"asked to pin, not in effect ({differ})"


def pin_if_asked() -> None:
    """pin_process() in a process started with PINNED_ENV (its marker set), else nothing."""
    if os.environ.get(MARKER) == "pinned":
        pin_process()


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m clsrl.cpu_numerics COMMAND [ARG...]`: run COMMAND with pinned CPU numerics."""
    command = list(sys.argv[1:] if argv is None else argv)
    if not command or command[0] in ("-h", "--help"):
        print(__doc__, file=sys.stderr)
        return 0 if command else 2
    try:
        return subprocess.run(command, env={**os.environ, **PINNED_ENV}).returncode
    except FileNotFoundError:
        print(f"clsrl.cpu_numerics: no command {command[0]!r} found on PATH", file=sys.stderr)
        return 127


if __name__ == "__main__":
    sys.exit(main())
