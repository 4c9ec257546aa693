"""Small file helpers: every result is written atomically, so a crash never leaves half a file,
and with the permissions `open()` would give it under the process's umask (0644 under umask 022;
a temporary file from mkstemp, and some library writers, make 0600 files that collaborators on a
shared cluster could not read).

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "a" / "b.json"
>>> write_json(path, {"x": 1}); read_json(path)
{'x': 1}
"""

from __future__ import annotations

import functools
import glob
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@functools.cache
def umask() -> int:
    """The process's umask (read without changing it where /proc says it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    current = os.umask(0)
    os.umask(current)
    return current


def honour_umask(path: str | Path) -> None:
    """Give a file, or a folder and everything in it, the mode `open()` and `mkdir()` would."""
    path = Path(path)
    if not path.is_dir():
        os.chmod(path, 0o666 & ~umask())
        return
    os.chmod(path, 0o777 & ~umask())
    for folder, subfolders, files in os.walk(path):
        for name in subfolders:
            os.chmod(Path(folder) / name, 0o777 & ~umask())
        for name in files:
            os.chmod(Path(folder) / name, 0o666 & ~umask())


def write_atomic(path: str | Path, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        honour_umask(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@contextmanager
def folder_written_atomically(path: str | Path) -> Iterator[Path]:
    """Yield a hidden sibling folder to fill; when the block ends it replaces `path`, and when the
    block fails it is removed, so a crash never leaves a half-written folder at `path`. Staging
    folders of `path` that a killed process left (`.NAME.partial-PID`) are removed first: only
    one job writes an output at a time (Snakemake's lock), so none of them is in use.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "model"
    >>> with folder_written_atomically(target) as staging:
    ...     staging.mkdir(); _ = (staging / "weights").write_text("w")
    >>> sorted(p.name for p in target.parent.iterdir()), (target / "weights").read_text()
    (['model'], 'w')
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{glob.escape(path.name)}.partial-*"):
        shutil.rmtree(stale, ignore_errors=True)
    staging = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        yield staging
        honour_umask(staging)
        if path.exists():
            shutil.rmtree(path)
        os.replace(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_json(path: str | Path, data) -> None:
    """Write `data` as indented JSON, atomically."""
    write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def read_json(path: str | Path):
    """Read a JSON file."""
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def read_jsonl(path: str | Path) -> list:
    """Read a JSON Lines file (one value per non-empty line)."""
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def looks_like_local_path(name_or_path: str) -> bool:
    """True for what can only be a folder: it exists, or it is absolute, `./`, `~` or deeper than
    a hub id's `org/name`.

    >>> [looks_like_local_path(n) for n in ("Qwen/Qwen2-VL-2B-Instruct", "/models/x", "a/b/c")]
    [False, True, True]
    """
    path = Path(name_or_path).expanduser()
    return (
        path.exists()
        or path.is_absolute()
        or name_or_path.startswith((".", "~"))
        or len(path.parts) > 2
    )


def subfolders(folder: str | os.PathLike) -> list[str]:
    """Sorted names of the sub-folders of `folder` but the hidden ones (`.name`)."""
    with os.scandir(folder) as entries:
        return sorted(e.name for e in entries if e.is_dir() and not e.name.startswith("."))
