"""Checks of a dataset's source that run before any job, and the state that ties a prepared dataset
to its source.

The Snakefile calls `source_problems(config)` right after config validation, so a missing folder,
a dataset with both or neither source, or a HF dataset without the named columns stops the run
before any job, naming the key and the fix. `source_state(path)` fingerprints a source folder
(every file's path, size and modification time, or a HF dataset's fingerprints): it is a param of
the job that prepares the dataset, so an edit to the source reruns exactly that preparation and
what follows from it.

>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> _ = (folder / "a.png").write_bytes(b"x")
>>> before = source_state(folder)
>>> _ = (folder / "b.png").write_bytes(b"y")
>>> source_state.cache_clear(); source_state(folder) != before
True
"""

from __future__ import annotations

import difflib
import fnmatch
import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from clsrl.datasets.checks import check_classes, listed
from clsrl.datasets.custom import list_hf_dataset, read_image_folder
from clsrl.io import looks_like_local_path
from clsrl.methods import resolve_methods

SOURCES = ("image_folder", "hf_dataset")
HF_DICT_FILE = "dataset_dict.json"  # a DatasetDict saved with save_to_disk
HF_INFO_FILE = "dataset_info.json"  # each saved Dataset (split)
HF_STATE_FILE = "state.json"  # holds the Dataset's fingerprint
HF_CACHE_FILES = "cache-*.arrow"  # what Dataset.map() writes beside a saved dataset


def hf_columns(folder: Path) -> dict[str, list[str]] | None:
    """Split -> column names of a dataset saved with save_to_disk; None if it is not one."""
    if (folder / HF_DICT_FILE).is_file():
        splits = json.loads((folder / HF_DICT_FILE).read_text(encoding="utf-8"))["splits"]
        return {split: _features(folder / split) for split in splits}
    if (folder / HF_INFO_FILE).is_file():
        return {"train": _features(folder)}
    return None


def _features(folder: Path) -> list[str]:
    info = json.loads((folder / HF_INFO_FILE).read_text(encoding="utf-8"))
    return list(info.get("features") or {})


def custom_source_problems(name: str, spec: dict, study: dict | None = None) -> list[str]:
    """What is wrong with one custom dataset's source, before any job runs (cheap checks). With
    `study` (the validated config), the listing of an image folder or a saved HF dataset (labels
    and splits; no image is opened) is checked as its preparation and few-shot sampling would
    check it (`listing_problems`)."""
    key = f"config key 'custom_datasets.{name}"
    given = [source for source in SOURCES if spec.get(source)]
    if len(given) != 1:
        found = "both" if len(given) == 2 else "neither"
        return [
            f"{key}': give exactly one of image_folder (a folder of class folders) or hf_dataset "
            f"(a save_to_disk folder or a hub dataset name); found {found}."
        ]
    if given[0] == "image_folder":
        folder = Path(spec["image_folder"]).expanduser()
        if not folder.is_dir():
            return [
                f"{key}.image_folder': {folder} is not a folder{_near(folder)}; point it at a "
                "folder of class folders (or of train/, val/, test/ folders holding them)."
            ]
        return image_folder_problems(name, spec, study) if study else []
    source = spec["hf_dataset"]
    if not looks_like_local_path(source):
        return []  # a hub name: checked when the dataset is prepared (needs the network)
    folder = Path(source).expanduser()
    if not folder.is_dir():
        return [
            f"{key}.hf_dataset': {folder} does not exist{_near(folder)}; give a folder written "
            "by save_to_disk, or a hub dataset name such as uoft-cs/cifar10."
        ]
    columns = hf_columns(folder)
    if columns is None:
        return [
            f"{key}.hf_dataset': {folder} is not a dataset saved with save_to_disk (no "
            f"{HF_DICT_FILE} or {HF_INFO_FILE}); save it with Dataset.save_to_disk or "
            "DatasetDict.save_to_disk."
        ]
    problems = []
    for column_key, default in (("image_column", "image"), ("label_column", "label")):
        column = spec.get(column_key, default)
        for split, names in columns.items():
            if column not in names:
                problems.append(
                    f"{key}.{column_key}': split {split!r} of {folder} has no column {column!r}"
                    f"{_suggest(column, names)}; its columns are {names}."
                )
    if problems or not study:
        return problems

    return listing_problems(name, lambda: list_hf_dataset(name, spec)[0], study)


def image_folder_problems(name: str, spec: dict, study: dict) -> list[str]:
    """`listing_problems` of an image folder (the layout rules of clsrl.datasets.custom too)."""
    return listing_problems(
        name, lambda: read_image_folder(name, spec, Path("unused"), log=lambda line: None), study
    )


def listing_problems(name: str, read_listing, study: dict) -> list[str]:
    """A custom dataset's classes and split, from its listing (`read_listing()`, a Converted)
    alone, checked as the preparation job would (clsrl.datasets.checks.check_classes: empty
    classes, names equal but for case, a class without training or test images; the source's
    own rules), and each trained class's training images against the study's shots."""
    try:
        converted = read_listing()
        check_classes(converted.classnames, converted.rows, name, converted.shared_names)
    except ValueError as error:  # DatasetConversionError, DatasetFormatError: they name the fix
        message = str(error).removeprefix(f"custom dataset {name}: ").removeprefix(f"{name}: ")
        return [f"custom dataset {name!r}: {message}"]
    shots = max(study["training"]["shots"])
    if not _trains_on(study, name) or study["training"]["allow_fewer_shots"]:
        return []
    names = converted.classnames
    trained = range(len(names))
    if "fewshot" not in study["settings"]:  # base-to-new trains the base half only
        trained = range(-(-len(names) // 2))
    counts = Counter(row["label"] for row in converted.rows if row["split"] == "train")
    short = [f"{names[label]!r} ({counts[label]})" for label in trained if counts[label] < shots]
    if not short:
        return []
    return [
        f"custom dataset {name!r}: {len(short)} class(es) have fewer training images than "
        f"training.shots ({shots}): {listed(short)}. Add images (with a ratio split a class "
        "keeps split_ratio.train of its images for training), lower training.shots, or set "
        "training.allow_fewer_shots: true to take all images of such classes."
    ]


def _trains_on(study: dict, name: str) -> bool:
    """Whether the study trains a model on dataset `name` (some method of it has a trainer)."""
    methods = resolve_methods(study["method_variants"])
    trained = any(methods[m].trainer for m in study["methods"] if m in methods)
    return trained and name in study["datasets"]


def _near(path: Path) -> str:
    """' (did you mean X?)' when a sibling's name is close to the missing path's."""
    parent = path.parent
    if not parent.is_dir():
        return f" (nor is {parent})" if not parent.exists() else ""
    if path.exists():
        return " (it is a file)"
    names = [p.name for p in parent.iterdir() if p.name != path.name]
    close = difflib.get_close_matches(path.name, names, n=1)
    return f" (did you mean {parent / close[0]}?)" if close else ""


def _suggest(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name, names, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def resolve_relative_sources(
    config: dict, config_files: list[str], cwd: str | Path | None = None
) -> list[str]:
    """Resolve each custom dataset's relative local source (`image_folder: ../digits`) against
    the folder of the config file that sets it, not the working directory; return a note for
    each path that this changes (its spec then holds the absolute path). A path given with
    --config, or set in a file in the working directory, is left as it is.

    >>> import tempfile, yaml
    >>> here = Path(tempfile.mkdtemp())
    >>> (here / "cfg").mkdir(); (here / "digits").mkdir()
    >>> _ = (here / "cfg/my.yaml").write_text("custom_datasets: {d: {image_folder: ../digits}}")
    >>> config = {"custom_datasets": {"d": {"image_folder": "../digits"}}}
    >>> notes = resolve_relative_sources(config, [str(here / "cfg/my.yaml")], cwd=here)
    >>> config["custom_datasets"]["d"]["image_folder"] == str((here / "digits").resolve())
    True
    """
    import yaml

    cwd = Path(cwd or Path.cwd()).resolve()
    # each file's custom_datasets section, last file first (the last file that sets a key wins)
    given_by = [
        (Path(path), (yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}))
        for path in reversed(config_files)
    ]
    notes = []
    for name, spec in config["custom_datasets"].items():
        for key in SOURCES:
            value = spec.get(key)
            if not value or Path(value).expanduser().is_absolute() or value.startswith("~"):
                continue
            if key == "hf_dataset" and not looks_like_local_path(value):
                continue  # a hub name
            for config_file, content in given_by:
                given = (content.get("custom_datasets") or {}).get(name) or {}
                if given.get(key) == value:
                    base = config_file.resolve().parent
                    if base != cwd:
                        spec[key] = str((base / value).resolve())
                        notes.append(
                            f"custom_datasets.{name}.{key} {value!r} is relative: resolved "
                            f"against {base} (the folder of {config_file}): {spec[key]}"
                        )
                    break
    return notes


def source_problems(config: dict, listings: bool = True) -> list[str]:
    """Problems of the custom datasets a study uses (datasets and evaluation targets); with
    `listings`, their listings' too (the run's main process checks them; a job's need not)."""
    used = set(config["datasets"]) | set(config["evaluation"]["targets"])
    problems = []
    for name, spec in config["custom_datasets"].items():
        if name in used:
            problems += custom_source_problems(name, spec, config if listings else None)
    return problems


def unused_custom_datasets(config: dict) -> list[str]:
    """A warning for each custom dataset the config defines but the study does not name."""
    used = set(config["datasets"]) | set(config["evaluation"]["targets"])
    return [
        f"custom dataset {name!r} is defined in custom_datasets but not used: add it to `datasets`"
        " (trained on and evaluated on) or to `evaluation.targets` (evaluated on only)."
        for name in config["custom_datasets"]
        if name not in used
    ]


def _files(folder: Path) -> Iterator[tuple[str, int, int]]:
    """(relative path, size, modification time in ns) of every file below `folder`, sorted;
    `datasets`' cache files (`cache-*.arrow`, written by `.map()` on a saved dataset) are no
    part of the data."""
    found = []
    for directory, subfolders, files in os.walk(folder):
        subfolders.sort()
        for file in files:
            if fnmatch.fnmatch(file, HF_CACHE_FILES):
                continue
            path = Path(directory) / file
            stat = path.stat()
            found.append((path.relative_to(folder).as_posix(), stat.st_size, stat.st_mtime_ns))
    return iter(sorted(found))


@cache
def source_state(folder: str | Path) -> str:
    """A fingerprint of a source folder: its files' paths, sizes and modification times (for a
    HF dataset saved with save_to_disk, the same over its metadata and data files). Listing a
    large folder takes a while (ImageNet's 1.3 M files: seconds on a local disk), once per run."""
    digest = hashlib.sha256()
    for relative, size, mtime in _files(Path(folder).expanduser()):
        digest.update(f"{relative}\0{size}\0{mtime}\n".encode())
    return digest.hexdigest()[:16]


def custom_source_state(spec: dict) -> str:
    """The state of a custom dataset's source: its folder's fingerprint (for a saved HF dataset
    whose image column holds file paths, with those files' sizes and times too), or for a hub
    dataset its name (a hub dataset's changes are not tracked: delete the prepared folder)."""
    if spec.get("image_folder"):
        return source_state(str(spec["image_folder"]))
    source = spec.get("hf_dataset", "")
    if looks_like_local_path(source) and Path(source).expanduser().is_dir():
        paths = image_paths_of(Path(source).expanduser(), spec.get("image_column", "image"))
        if not paths:
            return source_state(source)
        digest = hashlib.sha256(source_state(source).encode())
        for path in paths:
            stat = Path(path).stat() if Path(path).is_file() else None
            digest.update(
                f"{path}\0{stat and stat.st_size}\0{stat and stat.st_mtime_ns}\n".encode()
            )
        return digest.hexdigest()[:16]
    return f"hub:{source}"


def image_paths_of(folder: Path, image_column: str) -> list[str]:
    """The file paths a saved HF dataset's image column holds when it holds paths as strings
    (read from its arrow files with pyarrow, without loading `datasets`); [] otherwise."""
    import pyarrow as pa  # a dependency of datasets; light beside it

    columns = hf_columns(folder)
    if columns is None:
        return []
    saved_splits = (folder / HF_DICT_FILE).is_file()
    paths = []
    for split in [folder / name for name in columns] if saved_splits else [folder]:
        info = json.loads((split / HF_INFO_FILE).read_text(encoding="utf-8"))
        feature = (info.get("features") or {}).get(image_column) or {}
        if feature.get("_type") != "Value" or feature.get("dtype") != "string":
            return []
        for arrow in sorted(split.glob("data-*.arrow")):
            with pa.memory_map(str(arrow)) as stream:
                paths += pa.ipc.open_stream(stream).read_all().column(image_column).to_pylist()
    return paths
