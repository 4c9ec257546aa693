"""Glue for the thin scripts in workflow_scripts/: send all of a job's output to its log file, and
run a job's own process so that signals reach it.

with job_log(snakemake.log[0]):
    ...  # everything printed, warned or raised here lands in the log

A known error (an exception class of clsrl's own, whose message names the file, key or class and
the fix) ends the log with one line, `clsrl error: <message>`, and no traceback; the workflow's
`onerror` handler (`failed_job_messages`) repeats these lines at the end of the run's output.
Any other exception is logged with its traceback.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import traceback
from pathlib import Path

FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT)
ERROR_PREFIX = "clsrl error: "  # the line a known error leaves at the end of its job's log
EXIT_KNOWN_ERROR = 1


def is_known_error(error: BaseException) -> bool:
    """Whether `error` is one of clsrl's own exceptions (its message names the fix).

    >>> from clsrl.fewshot import NotEnoughImagesError
    >>> is_known_error(NotEnoughImagesError("x")), is_known_error(ValueError("x"))
    (True, False)
    """
    return type(error).__module__.split(".")[0] == "clsrl"


def known_error_line(error: BaseException) -> str:
    """The one line (the message may span lines) a known error leaves at the end of a log."""
    return f"{ERROR_PREFIX}{type(error).__name__}: {error}"


@contextlib.contextmanager
def job_log(path: str | Path):
    """Redirect stdout and stderr (file descriptors too, for C extensions) to `path`.

    A known error (`is_known_error`) ends the log with `known_error_line` and exits with status 1;
    any other exception is written with its traceback, then raised again. Either way Snakemake
    marks the job failed and points to the log.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "a", encoding="utf-8") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        except BaseException as error:
            sys.stdout.flush()  # what the job printed comes before the error
            sys.stderr.flush()
            if not (isinstance(error, Exception) and is_known_error(error)):
                traceback.print_exc(file=log)
                raise
            print(known_error_line(error), file=log, flush=True)
            raise SystemExit(EXIT_KNOWN_ERROR) from None
        finally:
            log.flush()
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def failed_job_messages(log_dir: str | Path, since: float) -> list[str]:
    """The known-error lines of the job logs under `log_dir` written since `since` (a time
    stamp), each with its log's path: what the run's `onerror` handler prints last."""
    messages = []
    for path in sorted(Path(log_dir).rglob("*.log")):
        if path.stat().st_mtime < since:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        where = text.rfind(ERROR_PREFIX)
        if where >= 0:
            messages.append(f"{text[where:].strip()}\n  (log: {path})")
    return messages


def run_forwarding_signals(command: list[str], env: dict | None = None) -> int:
    """Run `command` and wait for it, passing SIGTERM and SIGINT on to it; return its exit code.

    SLURM signals every process of a job step ahead of its time limit; a script that died at once
    would let its step end while the training process is still saving its checkpoint. This one
    waits for the child, which saves and exits (clsrl.train: status 75).
    """
    process = subprocess.Popen(command, env=env)
    previous = {number: signal.getsignal(number) for number in FORWARDED_SIGNALS}

    def forward(number, frame):
        if process.poll() is None:
            process.send_signal(number)

    for number in FORWARDED_SIGNALS:
        signal.signal(number, forward)
    try:
        return process.wait()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def remove_empty_folders(root: str | Path) -> None:
    """Remove every empty folder below `root`, deepest first, and `root` itself if it is left
    empty; a folder holding a file stays.

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp()) / "checkpoints"
    >>> (root / "m/cls-rl/x/4shot/seed1").mkdir(parents=True)
    >>> (root / "m/sft/x/4shot/seed1").mkdir(parents=True)
    >>> _ = (root / "m/sft/x/4shot/seed1/checkpoint-3.txt").write_text("kept")
    >>> remove_empty_folders(root)
    >>> sorted(str(p.relative_to(root)) for p in root.rglob("*"))[:2], (root / "m/cls-rl").exists()
    (['m', 'm/sft'], False)
    """
    root = Path(root)
    if not root.is_dir():
        return
    for folder in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        with contextlib.suppress(OSError):  # not empty
            folder.rmdir()
    with contextlib.suppress(OSError):
        root.rmdir()
