"""Read a benchmark dataset in CoOp's folder layout: class names and (image, label, split) rows.

One reader per layout, chosen by the registry's `converter` field (CONVERTERS):

- `coop_split`: CoOp's `split_zhou_<Dataset>.json`, `{"train"|"val"|"test": [[impath, label,
  classname], ...]}` with image paths relative to `image_dir` (nine datasets);
- `fgvc_variants`: FGVC-Aircraft's own `variants.txt` and `images_variant_<split>.txt`
  (`<image id> <variant name>` per line; images `images/<id>.jpg`), as CoOp reads them;
- `imagenet_folders`: `images/train/<wnid>/*` and `images/val/<wnid>/*` with CoOp's
  `classnames.txt` (`<wnid> <class name>` per line); labels follow the sorted wnids; val is the
  test split, as in CoOp.

Every reader raises DatasetConversionError naming the file, line, class or label and the fix.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from clsrl.datasets.benchmarks import Benchmark
from clsrl.datasets.checks import first_repeat, listed
from clsrl.io import subfolders

COOP_SPLITS = ("train", "val", "test")
FGVC_SPLIT_FILE = "images_variant_{split}.txt"
FGVC_IMAGE_SUFFIX = ".jpg"
IMAGENET_SPLITS = {"train": "train", "val": "test"}  # folder -> canonical split (CoOp)


class DatasetConversionError(ValueError):
    """The source files of a dataset are inconsistent; the message names what and how to fix."""


@dataclass(frozen=True)
class Converted:
    """A dataset read from its source: images are `image_root / row.image`."""

    classnames: list[str]
    rows: list[dict]  # {"image": path relative to image_root, "label": int, "split": str}
    image_root: Path
    listed_in: str  # the file (or folder) that lists the images, for messages
    shared_names: tuple[str, ...] = ()  # names two classes may share (clsrl.datasets.checks)


def read_coop_split(benchmark: Benchmark, coop_dir: Path) -> Converted:
    """CoOp's split file: rows in file order, class names from the items, renamed/dropped."""
    path = coop_dir / benchmark.split_file
    split = _read_json(path)
    names: dict[int, str] = {}
    rows = []
    for split_name in COOP_SPLITS:
        items = split.get(split_name)
        if not isinstance(items, list):
            raise DatasetConversionError(
                f"{path}: no '{split_name}' list; CoOp's split files hold train, val and test "
                "lists: download the file again"
            )
        for position, item in enumerate(items):
            image, label, classname = _split_item(item, path, split_name, position)
            classname = benchmark.rename_classes.get(classname, classname)
            _name_label(names, label, classname, path)
            rows.append({"image": image, "label": label, "split": split_name})
    classnames = _classnames_by_label(names, path, benchmark.shared_names)
    classnames, rows = _drop_classes(classnames, rows, benchmark.drop_classes)
    return Converted(
        classnames, rows, coop_dir / benchmark.image_dir, str(path), benchmark.shared_names
    )


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise DatasetConversionError(
            f"{path} is not valid JSON ({error}); it is truncated or not the split file: delete "
            "it and rerun to download it again"
        ) from None
    if not isinstance(data, dict):
        raise DatasetConversionError(f"{path} must hold a JSON object with train/val/test lists")
    return data


def _split_item(item, path: Path, split: str, position: int) -> tuple[str, int, str]:
    valid = (
        isinstance(item, list)
        and len(item) == 3
        and isinstance(item[0], str)
        and isinstance(item[1], int)
        and isinstance(item[2], str)
    )
    if not valid:
        raise DatasetConversionError(
            f"{path}: {split}[{position}] is {item!r}; each item must be [image path, integer "
            "label, class name]"
        )
    return item[0], item[1], item[2]


def _name_label(names: dict[int, str], label: int, classname: str, path: Path) -> None:
    """Record label -> class name; one label with two names is an error."""
    known = names.setdefault(label, classname)
    if known != classname:
        raise DatasetConversionError(
            f"{path}: label {label} is named both {known!r} and {classname!r}; a split file "
            "gives each label one class name: fix or replace the file"
        )


def _classnames_by_label(names: dict[int, str], listed_in, shared=()) -> list[str]:
    """Class names in label order; labels must run 0..n-1 and names must be unique, but for
    the `shared` names (the benchmark's `shared_names`)."""
    labels = sorted(names)
    if labels != list(range(len(labels))):
        gaps = sorted(set(range(labels[-1] + 1)) - set(labels))[:5] if labels else []
        raise DatasetConversionError(
            f"{listed_in}: labels must run from 0 to n-1 without gaps; missing label(s) {gaps} "
            "(a class with no image): fix the file or add the class's images"
        )
    classnames = [names[label] for label in labels]
    if repeat := first_repeat(classnames, allowed=shared):
        other, label = repeat
        allowed = f" (only {listed(shared, quote=True)} may be shared)" if shared else ""
        raise DatasetConversionError(
            f"{listed_in}: class name {classnames[label]!r} is duplicated (labels {other} and "
            f"{label}){allowed}; class names must be unique: the file is not the "
            "benchmark's own, download it again, or rename one class or merge the two"
        )
    return classnames


def _drop_classes(classnames, rows, drop) -> tuple[list[str], list[dict]]:
    """Remove the named classes and renumber the others, keeping their order."""
    dropped = {label for label, name in enumerate(classnames) if name in set(drop)}
    if not dropped:
        return classnames, rows
    kept = [label for label in range(len(classnames)) if label not in dropped]
    relabel = {old: new for new, old in enumerate(kept)}
    rows = [{**row, "label": relabel[row["label"]]} for row in rows if row["label"] in relabel]
    return [classnames[label] for label in kept], rows


def read_fgvc_variants(benchmark: Benchmark, coop_dir: Path) -> Converted:
    """FGVC-Aircraft's variant lists, as CoOp reads them."""
    class_file = coop_dir / benchmark.class_file
    classnames = [line.strip() for line in _lines(class_file) if line.strip()]
    if repeat := first_repeat(classnames):
        first, other = repeat
        raise DatasetConversionError(
            f"{class_file}: class {classnames[other]!r} is duplicated (lines {first + 1} and "
            f"{other + 1}); each variant must be listed once"
        )
    label_of = {name: label for label, name in enumerate(classnames)}
    rows = []
    for split in COOP_SPLITS:
        split_file = coop_dir / FGVC_SPLIT_FILE.format(split=split)
        for line_number, line in enumerate(_lines(split_file), start=1):
            image_id, _, variant = line.strip().partition(" ")
            if not image_id:
                continue
            if variant not in label_of:
                raise DatasetConversionError(
                    f"{split_file} line {line_number}: unknown class {variant!r} (not in "
                    f"{class_file}); the two files come from different releases: unpack "
                    "fgvc-aircraft-2013b again"
                )
            rows.append(
                {"image": image_id + FGVC_IMAGE_SUFFIX, "label": label_of[variant], "split": split}
            )
    return Converted(classnames, rows, coop_dir / benchmark.image_dir, str(coop_dir))


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DatasetConversionError(f"{path} is missing; place it or rerun the download") from None


def read_imagenet_folders(benchmark: Benchmark, coop_dir: Path) -> Converted:
    """ImageNet's class folders and CoOp's classnames.txt; the val folders are the test split."""
    class_file = coop_dir / benchmark.class_file
    name_of: dict[str, str] = {}
    for line in _lines(class_file):
        wnid, _, name = line.strip().partition(" ")
        if wnid:
            name_of[wnid] = name.strip()
    image_root = coop_dir / benchmark.image_dir
    wnids = _subfolders(image_root / "train")
    unknown = [wnid for wnid in wnids if wnid not in name_of]
    if unknown:
        raise DatasetConversionError(
            f"{image_root / 'train'}: unknown class folder(s) {unknown[:5]} (not in "
            f"{class_file}); remove stray folders or use CoOp's classnames.txt"
        )
    label_of = {wnid: label for label, wnid in enumerate(wnids)}
    rows = []
    for folder, split in IMAGENET_SPLITS.items():
        for wnid in _subfolders(image_root / folder):
            if wnid not in label_of:
                raise DatasetConversionError(
                    f"{image_root / folder / wnid}: unknown class (no such folder in "
                    f"{image_root / 'train'}); the val images must be sorted into the training "
                    "class folders"
                )
            for name in sorted(os.listdir(image_root / folder / wnid)):
                if not name.startswith("."):
                    rows.append(
                        {
                            "image": f"{folder}/{wnid}/{name}",
                            "label": label_of[wnid],
                            "split": split,
                        }
                    )
    classnames = [name_of[wnid] for wnid in wnids]
    _classnames_by_label(dict(enumerate(classnames)), class_file, benchmark.shared_names)
    return Converted(classnames, rows, image_root, str(image_root), benchmark.shared_names)


def _subfolders(folder: Path) -> list[str]:
    """Sorted names of the non-hidden sub-folders; a missing folder named with its fix."""
    if not folder.is_dir():
        raise DatasetConversionError(f"{folder} is missing; place the class folders there")
    return subfolders(folder)


Reader = Callable[[Benchmark, Path], Converted]
CONVERTERS: dict[str, Reader] = {
    "coop_split": read_coop_split,
    "fgvc_variants": read_fgvc_variants,
    "imagenet_folders": read_imagenet_folders,
}
