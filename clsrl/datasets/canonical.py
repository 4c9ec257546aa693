"""The canonical on-disk dataset format that every dataset is converted to, and its checks.

Check a dataset folder from the shell (add `--check-images` to also decode every image):

    python -m clsrl.datasets.canonical DATASET_DIR [--check-images]

A dataset folder holds three files, and its images anywhere below it (usually `images/`):

- `classnames.txt`: one class name per line, UTF-8; line i (from 0) names label i. Names are raw
  (spaces and underscores kept, e.g. `grilled_cheese_sandwich`).
- `manifest.csv`: columns `image,label,split`: the image path relative to the folder (POSIX
  separators), the integer label, and the split (`train`, `val` or `test`). Extra columns are kept.
- `dataset.json`: `{"name", "question", "num_classes", "splits": {"train": n, "val": n, "test": n},
  "source", "format_version": 1}`; extra keys are allowed (e.g. `skipped_images`).
  `shared_classnames`, where present, lists the names that two or more classes may share
  (ImageNet's "missile" and "sunglasses"); any other repeated name is an error.

`load_dataset` validates all of it and raises `DatasetFormatError` naming the offending file, line,
class or image and saying how to fix it. `write_dataset` runs the same checks before writing, with
every listed image's existence (clsrl.datasets.checks holds the image and class checks).

>>> import tempfile
>>> from PIL import Image
>>> root = Path(tempfile.mkdtemp())
>>> (root / "images").mkdir()
>>> Image.new("RGB", (4, 4)).save(root / "images" / "a.png")
>>> rows = [{"image": "images/a.png", "label": 1, "split": "test"}]
>>> written = write_dataset(root, name="toy", question="What is it?", classnames=["cat", "dog"],
...                         items=rows, source="doctest")
>>> loaded = load_dataset(root, check_images=True)
>>> loaded.classnames, loaded.num_classes, len(loaded.split("test")), len(loaded.split("val"))
(['cat', 'dog'], 2, 1, 0)
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from clsrl.datasets.checks import (
    MAX_LISTED,
    DatasetFormatError,
    first_repeat,
    listed,
    missing_images,
    unreadable_images,
)
from clsrl.io import write_atomic, write_json

CLASSNAMES_FILE = "classnames.txt"
MANIFEST_FILE = "manifest.csv"
METADATA_FILE = "dataset.json"
FORMAT_VERSION = 1
SPLITS = ("train", "val", "test")
MANIFEST_COLUMNS = ("image", "label", "split")
REQUIRED_METADATA = ("name", "question", "num_classes", "splits", "format_version")
CSV_HEADER_LINES = 1  # manifest line of item 0 is this + 1 (lines count from 1)
SHARED_NAMES_KEY = "shared_classnames"  # dataset.json: names several classes may share


@dataclass(frozen=True, eq=False)  # eq=False: DataFrames have no single truth value
class CanonicalDataset:
    """A dataset in the canonical format: its class names and its items (image, label, split).

    `metadata` is the content of `dataset.json` (empty for a dataset built in memory).
    """

    root: Path
    name: str
    question: str
    classnames: list[str]
    items: pd.DataFrame
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))

    @property
    def num_classes(self) -> int:
        """How many classes (labels run from 0 to num_classes - 1)."""
        return len(self.classnames)

    def split(self, name: str) -> pd.DataFrame:
        """The items of one split, in manifest order (empty if the split has none, e.g. ImageNet
        val)."""
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; use one of {', '.join(SPLITS)}")
        return self.items[self.items["split"] == name].reset_index(drop=True)

    def image_path(self, relative: str | os.PathLike) -> Path:
        """The full path of an image listed in the manifest."""
        return self.root / relative

    def split_counts(self) -> dict[str, int]:
        """Items per split, every split named (0 when absent)."""
        counts = self.items["split"].value_counts()
        return {split: int(counts.get(split, 0)) for split in SPLITS}


# ---------------------------------------------------------------------------------------------
# Writing


def write_dataset(
    root: str | Path,
    *,
    name: str,
    question: str,
    classnames: Sequence[str],
    items: pd.DataFrame | Sequence[Mapping],
    source: str,
    extra: Mapping | None = None,
    shared_names: Sequence[str] = (),
) -> CanonicalDataset:
    """Validate, then write `classnames.txt`, `manifest.csv` and `dataset.json` into `root`.

    `items` holds `image` (relative to root; the images must already be there), `label` and
    `split`; extra columns are written too. `extra` adds keys to `dataset.json`;
    `shared_names` are names several classes may have (recorded as `shared_classnames`). Each
    file is written atomically and `dataset.json` last, so its presence marks a complete dataset.
    """
    root = Path(root)
    classnames = list(classnames)
    _check_text_field(name, "name")
    _check_text_field(question, "question")
    shared = sorted({n for n in shared_names if classnames.count(n) > 1})
    _check_classnames(classnames, where="classnames", shared=shared)
    if shared:
        extra = {**(extra or {}), SHARED_NAMES_KEY: shared}
    frame = pd.DataFrame(list(items)) if not isinstance(items, pd.DataFrame) else items
    frame = _check_items(frame, len(classnames), origin=_ROWS_OF_ITEMS)
    _check_images_exist(root, frame["image"], origin="items")
    metadata = _metadata(name, question, classnames, frame, source, extra)
    root.mkdir(parents=True, exist_ok=True)
    write_atomic(root / CLASSNAMES_FILE, "".join(f"{line}\n" for line in classnames))
    write_atomic(root / MANIFEST_FILE, frame.to_csv(index=False, lineterminator="\n"))
    write_json(root / METADATA_FILE, metadata)
    return CanonicalDataset(root, name, question, classnames, frame, metadata)


def _check_text_field(value, key: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise DatasetFormatError(f"dataset {key} must be a non-empty string, got {value!r}")


def _metadata(name, question, classnames, frame, source, extra) -> dict:
    """The content of dataset.json."""
    metadata = {
        "name": name,
        "question": question,
        "num_classes": len(classnames),
        "splits": _split_counts(frame),
        "source": source,
        "format_version": FORMAT_VERSION,
    }
    clashes = sorted(set(extra or {}) & set(metadata))
    if clashes:
        raise DatasetFormatError(f"extra keys {clashes} would overwrite the format's own keys")
    return {**metadata, **(extra or {})}


def _split_counts(frame: pd.DataFrame) -> dict[str, int]:
    counts = frame["split"].value_counts()
    return {split: int(counts.get(split, 0)) for split in SPLITS}


# ---------------------------------------------------------------------------------------------
# Loading


def load_dataset(root: str | Path, *, check_images: bool = False) -> CanonicalDataset:
    """Read and validate a dataset folder.

    The manifest, class names and dataset.json are checked against each other (cheap: the images
    were checked when the dataset was written, clsrl.datasets.checks). `check_images=True` also
    checks that every listed image exists and decodes (slow on big datasets). Raises
    `DatasetFormatError` naming what is wrong and how to fix it.
    """
    root = Path(root)
    _check_files_present(root)
    metadata = _read_metadata(root / METADATA_FILE)
    classnames = _read_classnames(root / CLASSNAMES_FILE, metadata.get(SHARED_NAMES_KEY, ()))
    items = _read_manifest(root / MANIFEST_FILE)
    items = _check_items(items, len(classnames), origin=_lines_of(root / MANIFEST_FILE))
    _check_metadata_agrees(root, metadata, classnames, items)
    if check_images:
        _check_images_exist(root, items["image"], origin=str(root / MANIFEST_FILE))
        _check_images_decode(root, items["image"])
    return CanonicalDataset(
        root, metadata["name"], metadata["question"], classnames, items, metadata
    )


def _check_files_present(root: Path) -> None:
    if not root.is_dir():
        raise DatasetFormatError(f"dataset folder {root} does not exist or is not a folder")
    required = (CLASSNAMES_FILE, MANIFEST_FILE, METADATA_FILE)
    missing = [name for name in required if not (root / name).is_file()]
    if missing:
        raise DatasetFormatError(
            f"{root} is not a canonical dataset: missing {', '.join(missing)}. A dataset folder "
            f"needs {CLASSNAMES_FILE}, {MANIFEST_FILE} and {METADATA_FILE}; (re)build it with "
            "clsrl.datasets.canonical.write_dataset or the workflow's data rules"
        )


def _read_classnames(path: Path, shared=()) -> list[str]:
    """Class names, one per line; trailing blank lines are ignored; `shared` may repeat."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise DatasetFormatError(f"{path} is not valid UTF-8 ({error}); save it as UTF-8") from None
    names = text.rstrip("\n").split("\n") if text.strip() else []
    _check_classnames(names, where=str(path), shared=shared)
    return names


def _check_classnames(names: list[str], *, where: str, shared=()) -> None:
    """Non-empty, no blank, padded, multi-line or duplicated names (but the `shared` ones);
    `where` names the source."""
    if not names:
        raise DatasetFormatError(f"{where}: no class names; write one class name per line")
    for line, name in enumerate(names, start=1):
        if not isinstance(name, str) or not name.strip():
            raise DatasetFormatError(
                f"{where}: class name on line {line} is empty; every line (from line 1 = "
                "label 0) must name one class, so remove the blank line or fill in the name"
            )
        if name != name.strip() or "\n" in name or "\r" in name:
            raise DatasetFormatError(
                f"{where}: class name {name!r} on line {line} has leading/trailing whitespace "
                "or a line break; the rewards compare stripped names, so remove it"
            )
    if repeat := first_repeat(names, allowed=shared):
        first, other = repeat
        raise DatasetFormatError(
            f"{where}: class {names[other]!r} is duplicated on lines {first + 1} and {other + 1}; "
            "class names must be unique (rename one, or merge the two classes' images)"
        )


def _read_metadata(path: Path) -> dict:
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise DatasetFormatError(f"{path} is not valid JSON ({error}); fix or rewrite it") from None
    if not isinstance(metadata, dict):
        raise DatasetFormatError(f"{path} must hold a JSON object, not {type(metadata).__name__}")
    missing = [key for key in REQUIRED_METADATA if key not in metadata]
    if missing:
        raise DatasetFormatError(
            f"{path} lacks key(s) {', '.join(missing)}; it needs {', '.join(REQUIRED_METADATA)}"
        )
    if metadata["format_version"] != FORMAT_VERSION:
        raise DatasetFormatError(
            f"{path} has format_version {metadata['format_version']!r}; this clsrl reads "
            f"format_version {FORMAT_VERSION}: rebuild the dataset with this version"
        )
    for key in ("name", "question"):
        _check_text_field(metadata[key], f"{key} in {path}")
    return metadata


def _read_manifest(path: Path) -> pd.DataFrame:
    """The manifest as a DataFrame; labels parsed as int64 in C (fast path) when they all are."""
    options = {"keep_default_na": False, "na_filter": False}
    try:
        return pd.read_csv(path, dtype={"image": str, "split": str, "label": "int64"}, **options)
    except pd.errors.EmptyDataError:
        raise DatasetFormatError(
            f"{path} is empty; it needs a header line {','.join(MANIFEST_COLUMNS)} and one line "
            "per image"
        ) from None
    except pd.errors.ParserError as error:
        raise DatasetFormatError(
            f"{path} is not a well-formed CSV ({error}); quote fields that contain commas"
        ) from None
    except ValueError:  # a label that is not an integer: read as text, `_check_items` names it
        return pd.read_csv(path, dtype=str, **options)


# ---------------------------------------------------------------------------------------------
# Checks shared by writing and loading


@dataclass(frozen=True)
class _RowOrigin:
    """How to name item i in a message: `manifest.csv line i + 2` or `items row i`."""

    source: str
    unit: str
    offset: int

    def name(self, position: int) -> str:
        return f"{self.unit} {position + self.offset}"


_ROWS_OF_ITEMS = _RowOrigin(source="items", unit="row", offset=0)


def _lines_of(path: Path) -> _RowOrigin:
    return _RowOrigin(source=str(path), unit="line", offset=CSV_HEADER_LINES + 1)


def _check_items(frame: pd.DataFrame, num_classes: int, *, origin: _RowOrigin) -> pd.DataFrame:
    """Validate columns, labels, splits and image paths; return the normalized frame."""
    missing = [column for column in MANIFEST_COLUMNS if column not in frame.columns]
    if missing:
        raise DatasetFormatError(
            f"{origin.source}: missing column(s) {', '.join(missing)} (found "
            f"{', '.join(map(str, frame.columns)) or 'none'}); the header must be "
            f"{','.join(MANIFEST_COLUMNS)}"
        )
    if frame.empty:
        raise DatasetFormatError(f"{origin.source}: lists no images; add one row per image")
    extra = [column for column in frame.columns if column not in MANIFEST_COLUMNS]
    frame = frame[[*MANIFEST_COLUMNS, *extra]].reset_index(drop=True)
    labels = _integer_labels(frame, origin)
    _fail_on_rows(
        frame,
        (labels < 0) | (labels >= num_classes),
        origin,
        f"label out of range: labels run from 0 to {num_classes - 1} ({num_classes} classes); "
        "fix the label or add the class to classnames.txt",
    )
    splits = frame["split"].astype(str)
    _fail_on_rows(
        frame,
        ~splits.isin(SPLITS),
        origin,
        f"unknown split value; use one of {', '.join(SPLITS)} (lower case)",
    )
    _check_image_paths(frame, origin)
    return frame.assign(image=frame["image"].astype(str), label=labels, split=splits)


def _integer_labels(frame: pd.DataFrame, origin: _RowOrigin) -> pd.Series:
    """Labels as int64; rows whose label is not a whole number are an error."""
    column = frame["label"]
    if pd.api.types.is_integer_dtype(column) and not column.hasnans:
        return column.astype("int64")
    numbers = pd.to_numeric(column, errors="coerce")
    not_whole = numbers.isna() | (numbers.round() != numbers)
    _fail_on_rows(frame, not_whole, origin, "label is not an integer; write the class index")
    return numbers.astype("int64")


def _check_image_paths(frame: pd.DataFrame, origin: _RowOrigin) -> None:
    images = frame["image"].astype(str)
    empty = frame["image"].isna() | (images == "")
    _fail_on_rows(frame, empty, origin, "empty image path; fill it in")
    _fail_on_rows(
        frame,
        images.str.startswith("/") | images.str.contains("\\", regex=False),
        origin,
        "image path must be relative to the dataset folder, with / separators",
    )
    codes, uniques = pd.factorize(images)  # faster than `duplicated` on Arrow-backed strings
    if len(uniques) == len(images):
        return
    _fail_on_rows(
        frame,
        pd.Series(codes).duplicated(keep="first"),
        origin,
        "image listed twice (each image belongs to one split, once); remove the duplicate row",
    )


def _fail_on_rows(frame: pd.DataFrame, bad: pd.Series, origin: _RowOrigin, problem: str) -> None:
    """Raise naming up to MAX_LISTED offending rows (their line and image) if any row is bad."""
    positions = np.flatnonzero(bad.to_numpy(dtype=bool))
    if positions.size == 0:
        return
    rows = [
        f"{origin.name(p)} (image {_plain(frame['image'].iat[p])!r}, label "
        f"{_plain(frame['label'].iat[p])!r}, split {_plain(frame['split'].iat[p])!r})"
        for p in positions[:MAX_LISTED]
    ]
    rows = listed(rows, sep="; ", total=positions.size)
    raise DatasetFormatError(f"{origin.source}: {problem}: {rows}")


def _plain(value):
    """A numpy scalar as the Python value it holds (`6`, not `np.int64(6)`, in messages)."""
    return value.item() if isinstance(value, np.generic) else value


def _check_metadata_agrees(root: Path, metadata: dict, classnames, items) -> None:
    path = root / METADATA_FILE
    if metadata["num_classes"] != len(classnames):
        raise DatasetFormatError(
            f"{path} says num_classes {metadata['num_classes']!r} but {root / CLASSNAMES_FILE} "
            f"lists {len(classnames)} classes; fix whichever is wrong (rebuilding the dataset "
            "rewrites both)"
        )
    declared = metadata["splits"]
    actual = _split_counts(items)
    if not isinstance(declared, dict) or any(declared.get(s, 0) != n for s, n in actual.items()):
        raise DatasetFormatError(
            f"{path} says splits {declared!r} but {root / MANIFEST_FILE} has {actual}; the "
            "manifest was changed without dataset.json: rebuild the dataset"
        )


def _check_images_exist(root: Path, images: pd.Series, *, origin: str) -> None:
    """Every listed image exists under root (one listing per folder)."""
    missing = missing_images(root, list(images.astype(str)))
    if missing:
        raise DatasetFormatError(
            f"{origin}: {len(missing)} listed image(s) missing under {root}: {listed(missing)}; "
            "put the files there or drop their rows (and rebuild the dataset)"
        )


def _check_images_decode(root: Path, images: pd.Series) -> None:
    """Decode every image fully and name those that fail."""
    broken = unreadable_images(root, list(images.astype(str)))
    if broken:
        raise DatasetFormatError(
            f"{root}: {len(broken)} corrupt or truncated image(s): {listed(broken)}; replace the "
            "files or drop their rows (and rebuild the dataset)"
        )


def main(argv: list[str] | None = None) -> None:
    """Command line: validate a dataset folder and print a one-line summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset_dir")
    parser.add_argument("--check-images", action="store_true", help="also decode every image")
    args = parser.parse_args(argv)
    dataset = load_dataset(args.dataset_dir, check_images=args.check_images)
    print(
        f"{dataset.name}: {dataset.num_classes} classes, splits {dataset.split_counts()}; "
        f"format OK{' (images decoded)' if args.check_images else ''}"
    )


if __name__ == "__main__":
    main()
