"""Class-level checks of a dataset being prepared: what no reward or metric could recover from.

`check_classes` runs where a dataset is written from its source (clsrl.datasets.writer), so a bad
dataset stops at preparation, before any split, training or evaluation job, naming the class and
the fix:

>>> rows = [{"label": 0, "split": "train"}, {"label": 0, "split": "test"}]
>>> check_classes(["cat", "Cat"], rows, "my-pets")
Traceback (most recent call last):
...
clsrl.datasets.checks.DatasetCheckError: my-pets: classes 'cat' and 'Cat' differ only in case; ...
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from clsrl.datasets.canonical import DatasetFormatError

MAX_LISTED = 5


class DatasetCheckError(DatasetFormatError):
    """A dataset cannot be used as it is; the message names the class and the fix."""


def listed(names: Iterable[str], limit: int = MAX_LISTED) -> str:
    """The first `limit` names, then how many more.

    >>> listed(["a", "b", "c"], limit=2)
    "'a', 'b' and 1 more"
    """
    names = list(names)
    shown = ", ".join(repr(name) for name in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def check_classes(classnames: Sequence[str], rows: Iterable[dict], name: str) -> None:
    """Raise DatasetCheckError unless the dataset has at least 2 classes, no two names equal but
    for case, and every class has training and test images (`rows`: label and split)."""
    if len(classnames) < 2:
        raise DatasetCheckError(
            f"{name}: {len(classnames)} class ({listed(classnames)}); a classifier needs at least "
            "2 classes: add the other classes' images (one folder or label per class)"
        )
    first_of: dict[str, int] = {}
    for label, classname in enumerate(classnames):
        folded = classname.strip().casefold()
        if folded in first_of and classnames[first_of[folded]] == classname:
            raise DatasetCheckError(
                f"{name}: class {classname!r} is duplicated (labels {first_of[folded]} and "
                f"{label}); class names must be unique: rename one, or merge the two classes"
            )
        if folded in first_of:
            raise DatasetCheckError(
                f"{name}: classes {classnames[first_of[folded]]!r} and {classname!r} differ only "
                "in case; rewards and metrics compare class names ignoring case, so no answer "
                "could tell them apart: merge the two classes, or rename one "
                "(custom_datasets.<name>.classnames)"
            )
        first_of[folded] = label
    counts = Counter((row["label"], row["split"]) for row in rows)
    for split, fix in (
        ("train", "add training images to it, or remove the class"),
        ("test", "add test images to it (with a ratio split, more images in all), or remove it"),
    ):
        empty = [c for label, c in enumerate(classnames) if not counts[(label, split)]]
        if empty:
            raise DatasetCheckError(
                f"{name}: {len(empty)} class(es) have no {split} images: {listed(empty)}; every "
                f"class is listed as an option, trained on and tested: {fix}"
            )
