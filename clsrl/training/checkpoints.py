"""Checkpoints that are bound to their spec, committed atomically, and saved on SIGTERM.

A training job's checkpoints live in `<checkpoints>/spec-<hash>/checkpoint-<step>`, where the hash
is the job's spec: a rerun after a change of any setting that shapes the model finds no checkpoint
of its own and starts fresh (it says so), instead of resuming one trained with other settings.

TRL's trainer writes a checkpoint's files one after the other; a crash or a full disk can leave
half of them. A checkpoint counts only once `COMMIT_FILE` is written in it, atomically and after
every process has saved its part (`CommitCheckpoints`); it lists every file with its size, and
older checkpoints are deleted only then. Resuming takes the newest committed checkpoint whose
files are still those it committed (`checkpoint_problem`), and removes the others; what it
restores is checked there (clsrl.training.restore).

SLURM sends SIGTERM ahead of a time limit (the profile asks for it) and on preemption.
`StopOnSignal` turns it into a checkpoint at the end of the current optimizer step and a stop:
the job then exits with `TrainingStopped`, and its rerun resumes there, no completed step lost.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
from collections.abc import Callable
from pathlib import Path

import torch
from transformers import TrainerCallback

from clsrl.io import honour_umask, write_json
from clsrl.training.spec import TrainingSpec, spec_checkpoint_dir

COMMIT_FILE = "clsrl_commit.json"
CHECKPOINT_PATTERN = re.compile(r"^checkpoint-(\d+)$")
STOP_SIGNALS = (signal.SIGTERM,)


class TrainingStopped(RuntimeError):
    """Training stopped on a signal after saving a checkpoint; rerun the job to resume."""


def checkpoints_in(folder: Path) -> list[tuple[int, Path]]:
    """(step, folder) of every checkpoint-N below `folder`, oldest first."""
    if not folder.is_dir():
        return []
    found = [(int(m[1]), p) for p in folder.iterdir() if (m := CHECKPOINT_PATTERN.match(p.name))]
    return sorted(found)


def checkpoint_step(checkpoint: Path) -> int:
    """The global step of a checkpoint-N folder.

    >>> checkpoint_step(Path("spec-abc/checkpoint-40"))
    40
    """
    return int(CHECKPOINT_PATTERN.match(Path(checkpoint).name)[1])


def is_committed(checkpoint: Path) -> bool:
    return (checkpoint / COMMIT_FILE).is_file()


def file_sizes(checkpoint: Path) -> dict[str, int]:
    """{path relative to the checkpoint: size in bytes} of every file in it but the commit."""
    return {
        str(path.relative_to(checkpoint)): path.stat().st_size
        for path in sorted(checkpoint.rglob("*"))
        if path.is_file() and path.name != COMMIT_FILE
    }


def checkpoint_problem(checkpoint: Path, spec: TrainingSpec) -> str | None:
    """Why a checkpoint cannot be resumed (never committed; committed for another spec or step;
    a file missing or of another size than at its commit), or None when it can."""
    if not is_committed(checkpoint):
        return "never committed (a crash or a full disk during its save)"
    commit = json.loads((checkpoint / COMMIT_FILE).read_text())
    if commit.get("spec_hash") != spec.hash or commit.get("global_step") != checkpoint_step(
        checkpoint
    ):
        return f"its commit names another job or step ({commit})"
    committed, now = commit.get("files", {}), file_sizes(checkpoint)
    changed = sorted(n for n in committed.keys() | now.keys() if committed.get(n) != now.get(n))
    if changed:
        sizes = [f"{n}: {now.get(n)} bytes, committed {committed.get(n)}" for n in changed[:3]]
        return f"its files changed since its commit ({'; '.join(sizes)})"
    return None


def resumable_checkpoint(
    checkpoint_root: Path, spec: TrainingSpec, log: Callable[[str], None] = print
) -> Path | None:
    """The newest committed, intact checkpoint of this spec, after removing the others; None
    (and a line saying why) when there is none."""
    folder = spec_checkpoint_dir(checkpoint_root, spec)
    for _, checkpoint in checkpoints_in(folder):
        if problem := checkpoint_problem(checkpoint, spec):
            log(f"removing {checkpoint}: {problem}")
            shutil.rmtree(checkpoint, ignore_errors=True)
    committed = checkpoints_in(folder)
    others = sorted(p.name for p in Path(checkpoint_root).glob("spec-*") if p != folder)
    if committed:
        return committed[-1][1]
    if others:
        log(
            f"starting fresh: the checkpoints in {checkpoint_root} ({', '.join(others)}) were "
            f"trained with another spec than this job's (spec-{spec.hash}); they are "
            "removed when this job finishes"
        )
    return None


class CommitCheckpoints(TrainerCallback):
    """After the trainer saved checkpoint-N: wait for every process, commit it (write
    COMMIT_FILE, with every file's size, atomically), then delete the older checkpoints."""

    def __init__(self, accelerator, spec: TrainingSpec):
        self.accelerator, self.spec_hash = accelerator, spec.hash

    def on_save(self, args, state, control, **kwargs):
        self.accelerator.wait_for_everyone()
        if state.is_world_process_zero:
            folder = Path(args.output_dir)
            current = folder / f"checkpoint-{state.global_step}"
            honour_umask(current)
            commit = {"global_step": state.global_step, "spec_hash": self.spec_hash}
            write_json(current / COMMIT_FILE, {**commit, "files": file_sizes(current)})
            for _, older in checkpoints_in(folder):
                if older != current:
                    shutil.rmtree(older, ignore_errors=True)
        self.accelerator.wait_for_everyone()


class StopOnSignal(TrainerCallback):
    """On SIGTERM: save a checkpoint at the end of the current step, then stop training. Every
    process stops at the same step (the request is reduced over processes)."""

    def __init__(self, accelerator, log: Callable[[str], None] = print):
        self.accelerator, self.log = accelerator, log
        self.received: int | None = None  # the signal
        self.stopped_at: int | None = None  # the step saved before stopping
        for number in STOP_SIGNALS:
            signal.signal(number, self._receive)

    def _receive(self, number, frame) -> None:
        self.received = number

    def _requested(self) -> bool:
        flag = torch.tensor([1.0 if self.received else 0.0], device=self.accelerator.device)
        if self.accelerator.num_processes > 1:
            flag = self.accelerator.reduce(flag, reduction="sum")
        return bool(flag.item() > 0)

    def on_step_end(self, args, state, control, **kwargs):
        if self._requested():
            name = signal.Signals(self.received).name if self.received else "a signal"
            self.log(
                f"{name} received: saving a checkpoint after step {state.global_step}, then "
                "stopping; rerun the job to resume from it"
            )
            control.should_save = True
            control.should_training_stop = True
            self.stopped_at = state.global_step
        return control

    def restore(self) -> None:
        """Give the signals their default handling back."""
        for number in STOP_SIGNALS:
            signal.signal(number, signal.SIG_DFL)
