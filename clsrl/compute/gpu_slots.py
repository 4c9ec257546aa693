"""Pin a job to free GPUs on a local multi-GPU machine: one lock file per GPU id.

Snakemake caps the GPUs in use (`--resources gpu=N`) but never says which ones a job should use.
A GPU job of the workflow therefore claims `count` free GPU ids, each by an exclusive `flock` on
`<lock_dir>/gpu<id>.lock` (released by the kernel when the job ends, even if it is killed), and
sets `CUDA_VISIBLE_DEVICES` to them for itself and the processes it starts. Where a scheduler has
already chosen (SLURM sets `CUDA_VISIBLE_DEVICES`), nothing is claimed.

    with gpu_slots(snakemake.resources.gpu):
        ...  # CUDA_VISIBLE_DEVICES names this job's GPUs

>>> import tempfile
>>> lock_dir, gpus = tempfile.mkdtemp(), ["0", "1", "2"]
>>> job1, job2 = {}, {}  # the environments of two concurrent jobs
>>> with gpu_slots(2, devices=gpus, lock_dir=lock_dir, environ=job1) as first:
...     with gpu_slots(1, devices=gpus, lock_dir=lock_dir, environ=job2) as second:
...         print(first, second, job1, job2)
['0', '1'] ['2'] {'CUDA_VISIBLE_DEVICES': '0,1'} {'CUDA_VISIBLE_DEVICES': '2'}
>>> job1, job2
({}, {})
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, MutableMapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO

VISIBLE = "CUDA_VISIBLE_DEVICES"
GPU_IDS_VARIABLE = "CLSRL_GPUS"  # e.g. "0,2,3": the GPU ids jobs may use (default: all)
LOCK_DIR_VARIABLE = "CLSRL_GPU_LOCK_DIR"  # default: <tmp>/clsrl-gpu-locks, shared by all runs
WAIT_S = 6 * 3600
POLL_S = 5.0


def local_gpu_ids(environ: MutableMapping[str, str] | None = None) -> list[str]:
    """The GPU ids jobs may use: $CLSRL_GPUS if set, else every GPU `nvidia-smi -L` lists.

    >>> local_gpu_ids({"CLSRL_GPUS": "0, 2"})
    ['0', '2']
    """
    environ = os.environ if environ is None else environ
    if environ.get(GPU_IDS_VARIABLE, "").strip():
        return [gpu.strip() for gpu in environ[GPU_IDS_VARIABLE].split(",") if gpu.strip()]
    if shutil.which("nvidia-smi") is None:
        return []
    listed = subprocess.run(
        ["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"],
        capture_output=True,
        text=True,
        check=True,
    )
    return [line.strip() for line in listed.stdout.splitlines() if line.strip()]


def _try_lock(path: Path) -> IO | None:
    """The open lock file if this process now holds its exclusive lock, else None."""
    handle = path.open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


@contextmanager
def gpu_slots(
    count: int,
    *,
    devices: list[str] | None = None,
    lock_dir: str | Path | None = None,
    wait_s: float = WAIT_S,
    poll_s: float = POLL_S,
    environ: MutableMapping[str, str] | None = None,
) -> Iterator[list[str]]:
    """Hold `count` free GPUs and set CUDA_VISIBLE_DEVICES to them; yields their ids.

    Yields without claiming anything when `count` is 0, when CUDA_VISIBLE_DEVICES is already set
    (a scheduler chose: yields those ids) or when the machine has no GPU (a CPU run). Waits up to
    `wait_s` seconds for GPUs held by other jobs, then raises TimeoutError.
    """
    environ = os.environ if environ is None else environ
    if count <= 0:
        yield []
        return
    if environ.get(VISIBLE) is not None:
        yield [gpu for gpu in environ[VISIBLE].split(",") if gpu]
        return
    devices = local_gpu_ids(environ) if devices is None else devices
    if not devices:
        yield []
        return
    if count > len(devices):
        raise ValueError(
            f"this job needs {count} GPUs but only {len(devices)} may be used ({devices}); "
            "lower training.gpus or free more GPUs ($CLSRL_GPUS)"
        )
    lock_dir = Path(
        lock_dir or environ.get(LOCK_DIR_VARIABLE) or Path(tempfile.gettempdir(), "clsrl-gpu-locks")
    )
    lock_dir.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_s
    with ExitStack() as held:
        while True:
            claimed = []
            for gpu in devices:
                handle = _try_lock(lock_dir / f"gpu{gpu}.lock")
                if handle is not None:
                    held.callback(handle.close)
                    claimed.append(gpu)
                    if len(claimed) == count:
                        break
            if len(claimed) == count:
                break
            held.close()  # give back a partial claim so that two jobs never wait on each other
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"no {count} free GPU(s) among {devices} after {wait_s:.0f} s: other jobs hold "
                    f"their locks in {lock_dir}; run with --resources gpu=N (N = your GPUs)"
                )
            time.sleep(poll_s)
        environ[VISIBLE] = ",".join(claimed)
        try:
            yield claimed
        finally:
            del environ[VISIBLE]
