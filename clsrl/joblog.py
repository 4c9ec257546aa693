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
import threading
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


def run_forwarding_signals(
    command: list[str], env: dict | None = None, stop_after_s: float | None = None
) -> int:
    """Run `command` and wait for it, passing SIGTERM and SIGINT on to it; return its exit code.
    With `stop_after_s`, send SIGTERM then to it and every process it started
    (`time_limit_stop`: ahead of the job's time limit).

    SLURM signals every process of a job step on preemption or scancel; a script that died at
    once would let its step end while the training process is still saving its checkpoint. This
    one waits for the child, which saves and exits (clsrl.training.train: status 75).
    """
    # its own process group, so that the timer reaches every process of it, as SLURM's signal
    # does (accelerate's launcher and each GPU's process, which all save)
    process = subprocess.Popen(command, env=env, start_new_session=True)
    previous = {number: signal.getsignal(number) for number in FORWARDED_SIGNALS}

    def forward(number, frame):
        if process.poll() is None:
            process.send_signal(number)

    def stop_every_process():
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)

    for number in FORWARDED_SIGNALS:
        signal.signal(number, forward)
    timer = None
    if stop_after_s is not None:
        timer = threading.Timer(stop_after_s, stop_every_process)
        timer.daemon = True
        timer.start()
    try:
        return process.wait()
    finally:
        if timer is not None:
            timer.cancel()
        for number, handler in previous.items():
            signal.signal(number, handler)


def slurm_duration_s(text: str) -> int | None:
    """Seconds of a SLURM duration as squeue prints it (`%l`, `%L`): [D-]HH:MM:SS, MM:SS or M;
    None for UNLIMITED, NOT_SET, INVALID.

    >>> [slurm_duration_s(t) for t in ("1-02:03:04", "10:00", "1:00:00", "5", "UNLIMITED")]
    [93784, 600, 3600, 300, None]
    """
    days, _, clock = text.rpartition("-")
    try:
        parts = [int(part) for part in clock.split(":")]
        day_count = int(days) if days else 0
    except ValueError:
        return None
    if len(parts) == 1:  # minutes
        return day_count * 86400 + parts[0] * 60
    hours, minutes, seconds = [0] * (3 - len(parts)) + parts
    return day_count * 86400 + hours * 3600 + minutes * 60 + seconds


def slurm_time_limit() -> tuple[int, int] | None:
    """(time limit, time left) in seconds of the SLURM job this process runs in, as SLURM holds
    them now (a --set-resources runtime, an scontrol update included); None outside SLURM, or
    when squeue cannot tell."""
    job = os.environ.get("SLURM_JOB_ID")
    if not job:
        return None
    try:
        done = subprocess.run(
            ["squeue", "-h", "-j", job, "-o", "%l %L"],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    fields = done.stdout.split()
    if len(fields) != 2:
        return None
    limit, left = (slurm_duration_s(field) for field in fields)
    return (limit, left) if limit is not None and left is not None else None


def time_limit_stop(lead_s_of) -> float | None:
    """Seconds from now at which a job should send its training SIGTERM, so it saves a
    checkpoint before SLURM's time limit: the time left minus `lead_s_of(limit in minutes)`
    (clsrl.compute.resources.signal_lead_seconds). One runtime, one signal: read from the job as it
    runs, so a --set-resources runtime moves the signal with it. None outside SLURM."""
    limit = slurm_time_limit()
    if limit is None:
        return None
    limit_s, left_s = limit
    lead = lead_s_of(max(1, limit_s // 60))
    stop_after = max(0.0, float(left_s - lead))
    print(
        f"SLURM time limit {limit_s // 60} min, {left_s} s left: SIGTERM to the training in "
        f"{stop_after:.0f} s ({lead} s ahead), which then saves a checkpoint",
        flush=True,
    )
    return stop_after


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
