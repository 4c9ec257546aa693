"""Every check of a dataset's images and classes, in one place.

Where a dataset is written from its source (clsrl.datasets.writer) it is checked fully, once:
every listed image exists (`missing_images`) and decodes (`unreadable_images`), and the classes
make a dataset a classifier can learn (`check_classes`: at least 2, no two names equal but for
case, every class with training and test images). A job that later loads the prepared dataset
checks its manifest only (clsrl.datasets.canonical.load_dataset), unless asked for the full check.
Each error names the file, line or class, and the fix:

>>> rows = [{"label": 0, "split": "train"}, {"label": 0, "split": "test"}]
>>> check_classes(["cat", "Cat"], rows, "my-pets")
Traceback (most recent call last):
...
clsrl.datasets.checks.DatasetCheckError: my-pets: classes 'cat' and 'Cat' differ only in case; ...
"""

from __future__ import annotations

import os
import struct
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath

from PIL import Image

MAX_LISTED = 5  # names shown in one message; the rest are counted
DECODE_CHUNK = 64  # images per thread-pool task
# What PIL raises on a corrupt or truncated file; anything else is a real bug and propagates.
CORRUPT_IMAGE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    struct.error,
    Image.DecompressionBombError,
)


class DatasetFormatError(ValueError):
    """A dataset folder (or the data given to write it) is wrong; the message names what."""


class DatasetCheckError(DatasetFormatError):
    """A dataset no classifier could learn as it is; the message names the class and the fix."""


class MissingImagesError(DatasetFormatError):
    """Images listed in a split are not on disk."""


class UnreadableImagesError(DatasetFormatError):
    """Images that exist but cannot be decoded (corrupt or truncated)."""


def listed(
    names: Iterable,
    limit: int = MAX_LISTED,
    quote: bool = False,
    sep: str = ", ",
    total: int | None = None,
) -> str:
    """The first `limit` names, then how many more (`total`: how many there are, when `names`
    holds only the first ones).

    >>> listed(["a", "b", "c"], limit=2), listed(["a"], quote=True)
    ('a, b and 1 more', "'a'")
    >>> listed(["row 1", "row 2"], sep="; ", total=40)
    'row 1; row 2 and 38 more'
    """
    names = list(names)
    total = len(names) if total is None else total
    shown = names[:limit]
    text = sep.join(repr(name) if quote else str(name) for name in shown)
    return text + (f" and {total - len(shown)} more" if total > len(shown) else "")


def first_repeat(names: Sequence, allowed: Iterable = (), key=None) -> tuple[int, int] | None:
    """The positions (first, repeat) of the first name that repeats an earlier one (compared by
    `key`, e.g. ignoring case), but for the `allowed` names; None when there is none: the one
    duplicate test of every class list (the dataset checks, the canonical format, conversion).

    >>> first_repeat(["cat", "dog", "cat"]), first_repeat(["cat", "cat"], allowed=["cat"])
    ((0, 2), None)
    >>> first_repeat(["cat", "Cat"], key=str.casefold)
    (0, 1)
    """
    allowed, first = set(allowed), {}
    for position, name in enumerate(names):
        compared = key(name) if key else name
        if compared in first and name not in allowed:
            return first[compared], position
        first.setdefault(compared, position)
    return None


def missing_images(root: Path, images: Sequence[str]) -> list[str]:
    """The listed images (paths relative to `root`) not on disk, in order: one directory listing
    per folder, and a file check only for a path no listing matches (e.g. `a/./b.png`)."""
    by_folder: dict[str, set[str] | None] = {}
    missing = []
    for image in images:
        path = PurePosixPath(image)
        folder = str(path.parent)
        if folder not in by_folder:
            try:
                by_folder[folder] = set(os.listdir(Path(root) / folder))
            except (FileNotFoundError, NotADirectoryError):
                by_folder[folder] = None
        present = by_folder[folder]
        if present is None or (path.name not in present and not (Path(root) / image).exists()):
            missing.append(image)
    return missing


def unreadable_images(root: Path, images: Sequence[str], threads: int = 1) -> list[str]:
    """The images PIL cannot fully decode, in order (`threads` decode at once: PIL releases
    the GIL while decoding)."""
    chunks = [images[i : i + DECODE_CHUNK] for i in range(0, len(images), DECODE_CHUNK)]
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        found = pool.map(lambda chunk: [i for i in chunk if image_problem(Path(root) / i)], chunks)
        return [image for chunk in found for image in chunk]


def image_problem(path: Path) -> str | None:
    """Why PIL cannot decode `path`, or None if it can."""
    try:
        with Image.open(path) as image:
            image.verify()  # checksums and structure
        with Image.open(path) as image:  # verify() leaves the image unusable: reopen to decode
            image.load()
    except CORRUPT_IMAGE_ERRORS as error:
        return f"{type(error).__name__}: {error}"
    return None


def check_classes(
    classnames: Sequence[str], rows: Iterable[dict], name: str, shared_names: Sequence[str] = ()
) -> None:
    """Raise DatasetCheckError unless the dataset has at least 2 classes, no two names equal
    (but the `shared_names` the dataset declares) or equal but for case, and every class has
    training and test images (`rows`: label and split)."""
    if len(classnames) < 2:
        raise DatasetCheckError(
            f"{name}: {len(classnames)} class ({listed(classnames, quote=True)}); a classifier "
            "needs at least 2 classes: add the other classes' images (one folder or label per "
            "class)"
        )
    if repeat := first_repeat(classnames, allowed=shared_names):
        first, label = repeat
        raise DatasetCheckError(
            f"{name}: class {classnames[label]!r} is duplicated (labels {first} and {label}); "
            "class names must be unique: rename one, merge the two classes, or keep both under "
            "one name that every answer shares "
            f"(custom_datasets.{name}.shared_classnames: [{classnames[label]}])"
        )
    distinct = list(dict.fromkeys(classnames))  # a shared name once
    if repeat := first_repeat(distinct, key=lambda classname: classname.strip().casefold()):
        first, other = (distinct[position] for position in repeat)
        raise DatasetCheckError(
            f"{name}: classes {first!r} and {other!r} differ only in case; rewards and metrics "
            "compare class names ignoring case, so no answer could tell them apart: merge the "
            "two classes, or rename one (custom_datasets.<name>.classnames)"
        )
    counts = Counter((row["label"], row["split"]) for row in rows)
    for split, fix in (
        ("train", "add training images to it, or remove the class"),
        ("test", "add test images to it (with a ratio split, more images in all), or remove it"),
    ):
        empty = [c for label, c in enumerate(classnames) if not counts[(label, split)]]
        if empty:
            raise DatasetCheckError(
                f"{name}: {len(empty)} class(es) have no {split} images: "
                f"{listed(empty, quote=True)}; every class is listed as an option, trained on and "
                f"tested: {fix}"
            )
