"""A full disk said in words: which disk, which path, how much is free and how much a save needs.

A save that hits a full disk fails with whatever the writer says: `OSError: [Errno 28] No space
left on device`, or, from torch.save's zip writer, `RuntimeError: [enforce fail at
inline_container.cc:672] . unexpected pos 356608 vs 356496`, which never names the disk.

    with disk_full_explained(folder, needed_bytes=2 << 30, what="checkpoint-8"):
        trainer.save_model(folder)

>>> human_bytes(3 * 1024**3), human_bytes(1536)
('3.0 GiB', '1.5 KiB')
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

FULL_DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT)  # a full disk, or a full quota (clusters)
# What torch.save's zip writer and safetensors' Rust writer say when a write comes up short.
FULL_DISK_WORDS = ("unexpected pos", "file write failed", "os error 28", "No space left")


class DiskFull(OSError):
    """A save ran out of disk space; the message names the disk, the path and the space needed."""


def human_bytes(count: float) -> str:
    units = ("B", "KiB", "MiB", "GiB", "TiB")
    power = 0
    while count >= 1024 and power < len(units) - 1:
        count, power = count / 1024, power + 1
    return f"{count:.0f} B" if power == 0 else f"{count:.1f} {units[power]}"


def mount_point(path: Path) -> Path:
    """The mount point of the file system holding `path` (or its nearest existing parent)."""
    path = Path(path).resolve()
    while not path.exists():
        path = path.parent
    while not os.path.ismount(path):
        path = path.parent
    return path


def is_full_disk_error(error: BaseException, path: Path, needed_bytes: int) -> bool:
    """Whether `error` is a write that failed for want of space at `path`: an ENOSPC or EDQUOT
    OSError, or a writer's short-write message while less than `needed_bytes` are free."""
    if isinstance(error, OSError) and error.errno in FULL_DISK_ERRNOS:
        return True
    if not any(words in str(error) for words in FULL_DISK_WORDS):
        return False
    return shutil.disk_usage(mount_point(path)).free < needed_bytes


@contextmanager
def disk_full_explained(path: str | Path, needed_bytes: int, what: str) -> Iterator[None]:
    """Raise `DiskFull`, naming the disk, `path`, the free space and `needed_bytes`, when the
    block fails for want of space; any other error passes unchanged."""
    try:
        yield
    except Exception as error:
        if isinstance(error, DiskFull) or not is_full_disk_error(error, Path(path), needed_bytes):
            raise
        disk = mount_point(Path(path))
        usage = shutil.disk_usage(disk)
        raise DiskFull(
            errno.ENOSPC,
            f"the disk {disk} is full: saving {what} to {path} needs about "
            f"{human_bytes(needed_bytes)}, and {human_bytes(usage.free)} of "
            f"{human_bytes(usage.total)} are free. Free space on {disk} (or move the results "
            "folder to a larger disk), then rerun: the job resumes from its last committed "
            f"checkpoint ({type(error).__name__}: {error})",
        ) from error
