"""Glue for the thin scripts in workflow_scripts/: send all of a job's output to its log file, and
run a job's own process so that signals reach it.

with job_log(snakemake.log[0]):
    ...  # everything printed, warned or raised here lands in the log
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


@contextlib.contextmanager
def job_log(path: str | Path):
    """Redirect stdout and stderr (file descriptors too, for C extensions) to `path`.

    An exception is written to the log with its traceback, then raised again, so Snakemake marks
    the job failed and points to the log.
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
        except BaseException:
            traceback.print_exc()
            raise
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


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
