"""Prepare one benchmark dataset: its CoOp folder (cache or local copy) -> the canonical format.

    python -m clsrl.datasets.prepare EuroSAT data/prepared/EuroSAT --coop-dir DATA/eurosat

First every file the converter needs is checked; if any is missing the job stops with
ManualStepRequired, which names each file to place, where, and why (ImageNet's images need a login,
StanfordCars' host is gone). Rerun once they are there. Then the registry's converter reads the
folder, the class count is checked against the registry, and a sample of the listed images is
looked up: a copy laid out otherwise than the original archive (a folder nested twice, as Kaggle's
copies have it; an image-folder export with train/ and test/ folders) stops with
DatasetLayoutError, which says which folder to move where, or why the copy cannot be used. Then
the dataset is written.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path, PurePosixPath

from clsrl.datasets.benchmarks import BENCHMARKS, Benchmark, ManualFile
from clsrl.datasets.canonical import CanonicalDataset
from clsrl.datasets.checks import MissingImagesError, listed, missing_images
from clsrl.datasets.convert import CONVERTERS, FGVC_SPLIT_FILE, Converted, DatasetConversionError
from clsrl.datasets.download import Log
from clsrl.datasets.writer import ImageChecks, write_prepared

DOWNLOADED = "downloaded by the workflow (or part of a CoOp-layout local copy)"
LAYOUT_SAMPLE = 20  # listed images looked up before the whole list is checked
EXPORT_FOLDERS = ("train", "val", "test")  # an image-folder export's split folders


class ManualStepRequired(FileNotFoundError):
    """Files a person must place before the dataset can be prepared."""


class DatasetLayoutError(MissingImagesError):
    """The images are there, laid out otherwise than the original archive; the message says how
    to move them, or why the copy cannot be used."""


def required_files(benchmark: Benchmark) -> list[ManualFile]:
    """Everything the converter reads, relative to the CoOp folder: manual files first."""
    manual = list(benchmark.manual.files) if benchmark.manual else []
    needed = [benchmark.split_file, benchmark.class_file]
    if benchmark.converter == "fgvc_variants":
        needed += [FGVC_SPLIT_FILE.format(split=split) for split in ("train", "val", "test")]
    needed.append(benchmark.image_dir)
    placed = {file.path for file in manual}
    return manual + [ManualFile(p, DOWNLOADED) for p in needed if p and p not in placed]


def check_required_files(benchmark: Benchmark, coop_dir: Path) -> None:
    """Raise ManualStepRequired naming every missing (or empty) file or folder."""
    missing = [file for file in required_files(benchmark) if not _present(coop_dir / file.path)]
    if not missing:
        return
    why = f"{benchmark.manual.why}\n" if benchmark.manual else ""
    files = "\n".join(f"  {coop_dir / file.path}: {file.what}" for file in missing)
    export = _export_hint(benchmark, coop_dir)
    raise ManualStepRequired(
        f"{benchmark.name} cannot be prepared yet: {len(missing)} file(s) missing.\n{why}"
        f"Place them here (CoOp's layout, KaiyangZhou/CoOp DATASETS.md):\n{files}\n"
        + (f"{export}\n" if export else "")
        + "Then rerun the workflow; it picks them up. (Or set data.local_copies."
        f"{benchmark.name} to a folder in CoOp's layout that has them.)"
    )


def _present(path: Path) -> bool:
    if path.is_dir():
        return any(path.iterdir())
    return path.is_file()


def check_layout(benchmark: Benchmark, coop_dir: Path, converted: Converted) -> None:
    """Raise DatasetLayoutError if sampled listed images are missing because the copy is laid out
    otherwise than the original archive (a folder nested twice, or an image-folder export);
    missing images without such a cause are left to the full check (clsrl.datasets.writer)."""
    rows = converted.rows
    sample = [row["image"] for row in rows[:: max(1, len(rows) // LAYOUT_SAMPLE)]]
    root = Path(converted.image_root)
    for image in missing_images(root, sample):
        hint = _nested_hint(coop_dir, root / image) or _export_hint(benchmark, coop_dir)
        if hint:
            raise DatasetLayoutError(
                f"{benchmark.name}: {converted.listed_in} lists {root / image}, which is not "
                f"there. {hint}"
            )


def _nested_hint(coop_dir: Path, image: Path) -> str | None:
    """How to un-nest a folder that holds a copy of itself (`cars_train/cars_train/`)."""
    parts = PurePosixPath(os.path.relpath(image, coop_dir)).parts
    for depth in range(1, len(parts)):
        folder = coop_dir.joinpath(*parts[:depth])
        inner = folder / parts[depth - 1]
        if inner.joinpath(*parts[depth:]).is_file():
            return (
                f"It is in {inner}: the copy nests {folder.name}/ twice (Kaggle's copies do). "
                f"Move the inner folder's contents up: mv {inner}/* {folder}/ && rmdir {inner} "
                "(then rerun)"
            )
    return None


def _export_hint(benchmark: Benchmark, coop_dir: Path) -> str | None:
    """Why an image-folder export (train/, test/ folders of classes) cannot stand in for the
    original archive, where CoOp's split file names the original paths."""
    image_root = coop_dir / benchmark.image_dir
    for folder in (image_root, coop_dir):
        found = [name for name in EXPORT_FOLDERS if (folder / name).is_dir()]
        if found and benchmark.converter == "coop_split":
            urls = listed(source.url for source in benchmark.sources if source.unpack)
            origin = f" ({urls})" if urls else ""
            return (
                f"{folder} holds {listed(name + '/' for name in found)} folders: an image-folder "
                "export of the dataset (e.g. Kaggle's sun397-50-50, or images written from a "
                "Hugging Face copy), not the original archive's layout. CoOp's split file lists "
                f"the original archive's paths, so this copy cannot be used: let the workflow "
                f"download the original{origin}, or place that archive's contents in "
                f"{image_root}"
            )
    return None


def prepare_benchmark(
    name: str, out_dir: str | Path, coop_dir: str | Path, checks: ImageChecks, log: Log = print
) -> CanonicalDataset:
    """Convert the benchmark's CoOp folder into the canonical folder `out_dir`."""
    benchmark = BENCHMARKS[name]
    coop_dir = Path(coop_dir)
    check_required_files(benchmark, coop_dir)
    converted = CONVERTERS[benchmark.converter](benchmark, coop_dir)
    if len(converted.classnames) != benchmark.classes:
        raise DatasetConversionError(
            f"{name}: {converted.listed_in} gives {len(converted.classnames)} classes, the "
            f"registry (protocol section 1) {benchmark.classes}; the source files are not "
            "CoOp's: download them again or fix the local copy"
        )
    check_layout(benchmark, coop_dir, converted)
    log(f"{name}: {len(converted.rows)} images of {benchmark.classes} classes in {coop_dir}")
    return write_prepared(
        out_dir,
        converted,
        name=name,
        question=benchmark.question,
        source=f"{name} in CoOp's layout at {coop_dir} ({benchmark.converter})",
        checks=checks,
        log=log,
    )


def main(argv: list[str] | None = None) -> None:
    """Command line: prepare one benchmark dataset from its CoOp folder."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", choices=list(BENCHMARKS))
    parser.add_argument("out_dir")
    parser.add_argument("--coop-dir", required=True, help="the dataset's CoOp-layout folder")
    parser.add_argument("--no-check-images", action="store_true", help="do not decode images")
    parser.add_argument("--skip-unreadable", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    checks = ImageChecks(not args.no_check_images, args.skip_unreadable, args.threads)
    dataset = prepare_benchmark(args.dataset, args.out_dir, args.coop_dir, checks)
    print(f"wrote {dataset.name}: splits {dataset.split_counts()}")


if __name__ == "__main__":
    main()
