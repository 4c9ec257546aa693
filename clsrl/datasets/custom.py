"""Custom datasets defined by config alone (`custom_datasets:` in config.yaml).

    custom_datasets:
      my-birds:
        question: What type of bird is in the photo?
        image_folder: /data/birds        # or hf_dataset: a save_to_disk folder or a hub name
        classnames: {blue_jay: blue jay} # optional: folder/label name -> name in the questions
        shared_classnames: [jay]         # optional: names several classes may share

An image folder holds one sub-folder per class (then train/val/test are drawn per class with
`split_ratio` and `split_seed`), or `train/`, `val/`, `test/` folders that each hold the class
folders. A class's images lie in its folder itself: an image outside any class folder, or in a
sub-folder of a class folder, is refused by name (nothing is dropped silently), and split folders
under other names (`validation/`) are refused naming the folder to rename.

A HF `datasets` dataset has an image column and a label column (a ClassLabel, strings, or integers
with `classnames` as a list); its `train`/`validation`/`test` splits are used, or, with a
single split, the seeded ratio split. `classnames` is a list (label order: sorted folder names,
the ClassLabel order, or the integer labels) or a mapping that renames some classes.

>>> ratio_split(["a", "b", "c", "d", "e"], {"train": 0.6, "val": 0.2, "test": 0.2}, "0:cat")
{'train': ['a', 'd', 'c'], 'val': ['e'], 'test': ['b']}
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from pathlib import Path

from clsrl.datasets.canonical import SPLITS, CanonicalDataset
from clsrl.datasets.checks import listed
from clsrl.datasets.convert import Converted, DatasetConversionError
from clsrl.datasets.download import Log
from clsrl.datasets.writer import IMAGES, ImageChecks, write_prepared
from clsrl.io import subfolders

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
HF_SPLITS = {"train": "train", "validation": "val", "valid": "val", "val": "val", "test": "test"}
# Split folders under other names: the folder a user has -> the name clsrl reads.
SPLIT_FOLDER_NAMES = {"validation": "val", "valid": "val", "dev": "val", "training": "train"}
SPLIT_FOLDER_NAMES["testing"] = "test"
HF_IMAGE_DIGITS = 7  # images/<split>/<index:07d><suffix>
DEFAULT_HF_SUFFIX = ".png"


class CustomDatasetError(DatasetConversionError):
    """A custom dataset's config or files are wrong; the message names the key or file."""


def ratio_split(items: Sequence, ratio: Mapping[str, float], seed_key: str) -> dict[str, list]:
    """Shuffle `items` with a generator seeded by `seed_key`, cut val and test off by `ratio`."""
    shuffled = list(items)
    random.Random(seed_key).shuffle(shuffled)
    n_val = round(len(shuffled) * ratio.get("val", 0))
    n_test = round(len(shuffled) * ratio.get("test", 0))
    n_train = len(shuffled) - n_val - n_test
    return {
        "train": shuffled[:n_train],
        "val": shuffled[n_train : n_train + n_val],
        "test": shuffled[n_train + n_val :],
    }


def prepare_custom(
    name: str, spec: Mapping, out_dir: str | Path, checks: ImageChecks, log: Log = print
) -> CanonicalDataset:
    """Convert the custom dataset `name` (its validated config entry `spec`) into `out_dir`."""
    sources = [key for key in ("image_folder", "hf_dataset") if spec.get(key)]
    if len(sources) != 1:
        raise CustomDatasetError(
            f"config key 'custom_datasets.{name}': give exactly one of image_folder (a folder "
            f"of class folders) or hf_dataset (a datasets folder or hub name); found {sources}"
        )
    reader = read_image_folder if sources[0] == "image_folder" else read_hf_dataset
    converted = reader(name, spec, Path(out_dir), log)
    return write_prepared(
        out_dir,
        converted,
        name=name,
        question=spec["question"],
        source=f"custom dataset from {sources[0]} {spec[sources[0]]}",
        checks=checks,
        log=log,
    )


def _ratio(spec: Mapping, name: str) -> dict[str, float]:
    ratio = dict(spec["split_ratio"])
    if sorted(ratio) != sorted(SPLITS) or abs(sum(ratio.values()) - 1) > 1e-6:
        raise CustomDatasetError(
            f"config key 'custom_datasets.{name}.split_ratio' is {ratio}; give train, val and "
            "test shares that add up to 1"
        )
    for split in ("train", "test"):
        if ratio[split] <= 0:
            raise CustomDatasetError(
                f"config key 'custom_datasets.{name}.split_ratio.{split}' is {ratio[split]}; "
                f"every class needs {split} images: give it a share above 0"
            )
    return ratio


def _shared(spec: Mapping) -> tuple[str, ...]:
    """The names the user lets several classes share (`shared_classnames`)."""
    return tuple(spec.get("shared_classnames", ()))


def _apply_classnames(name: str, raw: list[str], given) -> list[str]:
    """The names shown in questions: `raw` renamed by a mapping, or replaced by a list."""
    key = f"config key 'custom_datasets.{name}.classnames'"
    if given is None:
        return list(raw)
    if isinstance(given, Mapping):
        unknown = sorted(set(given) - set(raw))
        if unknown:
            raise CustomDatasetError(
                f"{key} renames unknown class(es) {unknown}; the classes are "
                f"{listed(raw, quote=True)}: fix the names"
            )
        return [given.get(class_name, class_name) for class_name in raw]
    if len(given) != len(raw):
        raise CustomDatasetError(
            f"{key} lists {len(given)} names for {len(raw)} classes; list one name per class "
            "in label order, or use a mapping to rename some"
        )
    return [str(class_name) for class_name in given]


# ---------------------------------------------------------------------------------------------
# Image folders


def read_image_folder(name: str, spec: Mapping, out_dir: Path, log: Log) -> Converted:
    """Class folders (seeded ratio split) or split folders holding class folders."""
    root = Path(spec["image_folder"]).expanduser()
    if not root.is_dir():
        raise CustomDatasetError(
            f"config key 'custom_datasets.{name}.image_folder': {root} is not a folder"
        )
    top = subfolders(root)
    _refuse_loose_images(root)
    _refuse_other_split_names(root, top)
    if top and set(top) <= set(SPLITS):
        for needed in ("train", "test"):
            if needed not in top:
                raise CustomDatasetError(
                    f"{root} holds split folders {', '.join(n + '/' for n in top)} but no "
                    f"{needed}/; every class needs {needed} images: add {root / needed} with the "
                    f"class folders, or put the class folders directly in {root} to split them "
                    f"by custom_datasets.{name}.split_ratio"
                )
        rows_by_class = {split: _class_images(root / split) for split in top}
        raw = sorted({class_name for classes in rows_by_class.values() for class_name in classes})
        rows = [
            {"image": f"{split}/{class_name}/{image}", "class": class_name, "split": split}
            for split, classes in rows_by_class.items()
            for class_name, images in classes.items()
            for image in images
        ]
        log(f"{name}: splits from the folders {top}")
    else:
        ratio, seed = _ratio(spec, name), spec["split_seed"]
        classes = _class_images(root)
        raw = sorted(classes)
        rows = [
            {"image": f"{class_name}/{image}", "class": class_name, "split": split}
            for class_name in raw
            for split, images in ratio_split(
                classes[class_name], ratio, f"{seed}:{class_name}"
            ).items()
            for image in images
        ]
        log(f"{name}: {len(raw)} class folders, split {ratio} with seed {seed}")
    label_of = {class_name: label for label, class_name in enumerate(raw)}
    rows = [{"image": r["image"], "label": label_of[r["class"]], "split": r["split"]} for r in rows]
    classnames = _apply_classnames(name, raw, spec.get("classnames"))
    return Converted(classnames, rows, root, str(root), _shared(spec))


def _images_in(folder: Path) -> list[str]:
    """The image files directly in `folder`, sorted: by suffix, ignoring case; hidden files
    (`.name`, such as macOS's `._0001.png`) are none."""
    return sorted(
        p.name
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    )


def _images_below(folder: Path) -> list[Path]:
    """Every image file anywhere below `folder`."""
    return [p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]


def _refuse_loose_images(folder: Path) -> None:
    """Images beside the class (or split) folders belong to no class: refused by name."""
    loose = _images_in(folder)
    if loose:
        raise CustomDatasetError(
            f"{folder} holds {len(loose)} image(s) outside any class folder: "
            f"{listed(loose)}; every image must lie in its class's folder: move them into one "
            "(or delete them)"
        )


def _refuse_other_split_names(root: Path, top: list[str]) -> None:
    """Split folders named otherwise than train/, val/, test/ (`validation/`)."""
    renames = {name: SPLIT_FOLDER_NAMES[name] for name in top if name in SPLIT_FOLDER_NAMES}
    if renames and set(top) <= set(SPLITS) | set(renames):
        moves = ", ".join(f"{root / old} to {new}/" for old, new in renames.items())
        raise CustomDatasetError(
            f"{root} holds split folders {', '.join(name + '/' for name in top)}: clsrl reads "
            f"train/, val/ and test/; rename {moves}"
        )


def _class_images(folder: Path) -> dict[str, list[str]]:
    """Class folder -> its image file names (sorted); a folder without classes, loose images,
    images in a sub-folder of a class folder, or a backslash in a folder's name are errors that
    name them."""
    _refuse_loose_images(folder)
    for class_name in subfolders(folder):
        if "\\" in class_name:
            raise CustomDatasetError(
                f"{folder / class_name}: a backslash in a class folder's name; paths in the "
                "manifest use / and no \\: rename the folder"
            )
        for inner in subfolders(folder / class_name):
            nested = _images_below(folder / class_name / inner)
            if nested:
                raise CustomDatasetError(
                    f"{folder / class_name / inner} holds {len(nested)} image(s) in a sub-folder "
                    f"of the class folder {class_name}/; a class's images are read from its "
                    f"folder itself: move them up into {folder / class_name}, or make "
                    f"{inner}/ a class folder of its own"
                )
    classes = {class_name: _images_in(folder / class_name) for class_name in subfolders(folder)}
    if not classes:
        raise CustomDatasetError(f"{folder} has no class folders; put each class's images in one")
    return classes


# ---------------------------------------------------------------------------------------------
# HF datasets


def read_hf_dataset(name: str, spec: Mapping, out_dir: Path, log: Log) -> Converted:
    """A `datasets` dataset (save_to_disk folder or hub name): images written to out_dir/images."""
    import datasets  # a heavy import, needed only by this reader

    listing, loaded = list_hf_dataset(name, spec)
    written = {}  # (split, index) -> path below images/
    for split_name, split in loaded.items():
        split = split.cast_column(spec["image_column"], datasets.Image(decode=False))
        for index, record in enumerate(split):
            image = record[spec["image_column"]]
            written[split_name, index] = _write_hf_image(out_dir, split_name, index, image)
    rows = [{**row, "image": written[row["image"]]} for row in listing.rows]
    classes = len(listing.classnames)
    log(f"{name}: {len(rows)} images of {classes} classes from {spec['hf_dataset']}")
    return Converted(
        listing.classnames, rows, out_dir / IMAGES, listing.listed_in, listing.shared_names
    )


def list_hf_dataset(name: str, spec: Mapping):
    """The classes and rows of a `datasets` dataset without writing an image (each row's image is
    its (split, index)), and the loaded DatasetDict: what preparation writes and what the planning
    checks read (clsrl.datasets.source_checks)."""
    import datasets

    source = spec["hf_dataset"]
    image_column, label_column = spec["image_column"], spec["label_column"]
    loaded = _load_hf(name, source, datasets)
    for split_name, split in loaded.items():
        missing = [c for c in (image_column, label_column) if c not in split.column_names]
        if missing:
            raise CustomDatasetError(
                f"{source} split {split_name!r} has no column(s) {missing} (columns: "
                f"{split.column_names}); set custom_datasets.{name}.image_column / label_column"
            )
        _check_hf_columns(name, source, split_name, split, image_column, label_column)
    raw, label_of = _hf_classes(name, spec, loaded, label_column)
    split_of = _hf_split_names(name, source, list(loaded))
    ratio, seed = _ratio(spec, name), spec["split_seed"]
    rows = [
        {"image": (split_name, index), "label": label_of(value), "split": split_of[split_name]}
        for split_name, split in loaded.items()
        for index, value in enumerate(split[label_column])
    ]
    if len(loaded) == 1:
        rows = _ratio_rows(rows, ratio, seed)
    classnames = _apply_classnames(name, raw, spec.get("classnames"))
    listing = Converted(classnames, rows, Path(IMAGES), str(source), _shared(spec))
    return listing, loaded


def _load_hf(name: str, source: str, datasets):
    """The saved dataset (a folder) or the hub dataset, as a DatasetDict."""
    if Path(source).expanduser().exists():
        loaded = datasets.load_from_disk(source)
    else:
        try:
            loaded = datasets.load_dataset(source)
        except (FileNotFoundError, ConnectionError, ValueError) as error:
            raise CustomDatasetError(
                f"config key 'custom_datasets.{name}.hf_dataset': {source!r} is not a local "
                f"folder, and the hub cannot give it ({type(error).__name__}: {error}); check "
                "the name (org/name), the network, or give a save_to_disk folder"
            ) from None
    if isinstance(loaded, datasets.Dataset):
        loaded = datasets.DatasetDict({"train": loaded})
    return loaded


def _check_hf_columns(name, source, split_name, split, image_column, label_column) -> None:
    """Images in the image column (an Image feature, or file paths as strings); labels that are
    no images, no None and no -1 (a hub dataset's unlabelled test set)."""
    import datasets

    key = f"custom_datasets.{name}"
    image, label = split.features[image_column], split.features[label_column]
    if isinstance(label, datasets.Image):
        raise CustomDatasetError(
            f"{source} split {split_name!r}: the label column {label_column!r} holds images; "
            f"swap {key}.image_column and {key}.label_column"
        )
    if not isinstance(image, datasets.Image) and getattr(image, "dtype", None) != "string":
        raise CustomDatasetError(
            f"{source} split {split_name!r}: the image column {image_column!r} holds {image}, "
            f"not images or image file paths; set {key}.image_column to the column of images"
        )
    values = split[label_column]
    empty = sum(value is None for value in values)
    unlabelled = (
        sum(value == -1 for value in values) if isinstance(label, datasets.ClassLabel) else 0
    )
    if empty or unlabelled:
        what = f"{empty} empty (None)" if empty else f"{unlabelled} unlabelled (-1)"
        raise CustomDatasetError(
            f"{source} split {split_name!r}: {what} of its {len(values)} labels in column "
            f"{label_column!r} (a hub dataset's hidden test set has only -1); drop those rows or "
            "that split (Dataset.filter, then save_to_disk) and use the labelled ones"
        )


def _hf_classes(name: str, spec: Mapping, loaded, label_column: str):
    """The raw class names and a function from a label value to its index."""
    import datasets

    feature = next(iter(loaded.values())).features[label_column]
    if isinstance(feature, datasets.ClassLabel):
        return list(feature.names), int
    values = sorted({value for split in loaded.values() for value in split[label_column]})
    if values and all(isinstance(v, str) for v in values):
        index = {value: label for label, value in enumerate(values)}
        return values, index.__getitem__
    given = spec.get("classnames")
    if not isinstance(given, list):
        raise CustomDatasetError(
            f"config key 'custom_datasets.{name}.classnames': the label column {label_column!r} "
            "holds integers without class names; list the class names in label order"
        )
    unknown = [v for v in values if not (isinstance(v, int) and 0 <= v < len(given))]
    if unknown:
        raise CustomDatasetError(
            f"custom dataset {name}: unknown class label(s) {unknown[:5]} in column "
            f"{label_column!r}; classnames lists {len(given)} classes (labels 0-{len(given) - 1})"
        )
    return [str(n) for n in given], int


def _hf_split_names(name: str, source: str, splits: list[str]) -> dict[str, str]:
    if len(splits) == 1:
        return {splits[0]: "train"}
    unknown = [split for split in splits if split not in HF_SPLITS]
    if unknown:
        raise CustomDatasetError(
            f"custom dataset {name}: {source} has split(s) {unknown}; known: "
            f"{', '.join(HF_SPLITS)} (or save a single split to use split_ratio)"
        )
    mapped = {split: HF_SPLITS[split] for split in splits}
    for needed in ("train", "test"):
        if needed not in mapped.values():
            raise CustomDatasetError(
                f"custom dataset {name}: {source} has splits {splits} but no {needed} split; "
                f"every class needs {needed} images: add a {needed!r} split, or save the data "
                f"as a single split to draw train, val and test with split_ratio"
            )
    return mapped


def _write_hf_image(out_dir: Path, split: str, index: int, image: Mapping) -> str:
    """Write the encoded bytes of one image as they are; return its path below images/."""
    suffix = Path(image.get("path") or "").suffix.lower() or DEFAULT_HF_SUFFIX
    relative = f"{split}/{index:0{HF_IMAGE_DIGITS}d}{suffix}"
    path = out_dir / IMAGES / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if image.get("bytes") is not None:
        path.write_bytes(image["bytes"])
    else:
        path.write_bytes(Path(image["path"]).read_bytes())
    return relative


def _ratio_rows(rows: list[dict], ratio: Mapping[str, float], seed: int) -> list[dict]:
    """Re-split rows per class with the seeded ratio split."""
    by_label: dict[int, list[dict]] = {}
    for row in rows:
        by_label.setdefault(row["label"], []).append(row)
    return [
        {**row, "split": split}
        for label in sorted(by_label)
        for split, chosen in ratio_split(by_label[label], ratio, f"{seed}:{label}").items()
        for row in chosen
    ]
