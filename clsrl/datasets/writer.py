"""Write a converted dataset (class names, rows, an image folder) in the canonical format.

Every listed image must exist (a missing one is an error naming it and the file that lists it).
With `check_images`, every image is decoded (in `threads` threads: PIL releases the GIL while
decoding); an unreadable one is an error naming it, or, with `skip_unreadable`, its row is dropped,
and the count (with the first few names) is logged and recorded in `dataset.json` as
`skipped_images` / `skipped_examples`. Then the classes are checked (clsrl.datasets.checks: at
least 2, no two names equal but for case, every class with training and test images).

The images are hard-linked into the dataset's `images/` folder (copied where the source is on
another file system), so the prepared dataset holds its own images: moving, editing or deleting
the source later changes nothing here (the workflow reruns the preparation when the source
changes; clsrl.datasets.source_checks).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from clsrl.datasets.canonical import CanonicalDataset, write_dataset
from clsrl.datasets.checks import (
    MAX_LISTED,
    MissingImagesError,
    UnreadableImagesError,
    check_classes,
    listed,
    missing_images,
    unreadable_images,
)
from clsrl.datasets.convert import Converted
from clsrl.datasets.download import Log

IMAGES = "images"


@dataclass(frozen=True)
class ImageChecks:
    """How preparing a dataset checks its images: decode each (`data.check_images`), leave the
    unreadable ones out instead of stopping (`data.skip_unreadable_images`), in `threads`."""

    decode: bool
    skip_unreadable: bool
    threads: int


def write_prepared(
    out_dir: str | Path,
    converted: Converted,
    *,
    name: str,
    question: str,
    source: str,
    checks: ImageChecks,
    log: Log = print,
) -> CanonicalDataset:
    """Check the images, link them and write the canonical dataset folder; return it."""
    out_dir = Path(out_dir)
    image_root = Path(converted.image_root).resolve()
    missing = missing_images(image_root, [row["image"] for row in converted.rows])
    if missing:
        raise MissingImagesError(
            f"{len(missing)} image(s) listed in {converted.listed_in} are missing under "
            f"{image_root}: {listed(missing)}. The download or local copy is incomplete: unpack "
            "the dataset's archive again (or delete the cache folder and rerun)"
        )
    rows, skipped = converted.rows, []
    if checks.decode:
        log(f"{name}: decoding {len(rows)} images to find corrupt ones ({checks.threads} threads)")
        broken = set(unreadable_images(image_root, [row["image"] for row in rows], checks.threads))
        if broken and not checks.skip_unreadable:
            raise UnreadableImagesError(
                f"{len(broken)} corrupt or truncated image(s) under {image_root}: "
                f"{listed(sorted(broken))}; replace the files (download the dataset again), or set "
                "data.skip_unreadable_images: true to leave them out (the count is recorded)"
            )
        skipped = sorted(broken)
        rows = [row for row in rows if row["image"] not in broken]
        if skipped:
            log(f"{name}: skipped {len(skipped)} unreadable image(s): {listed(skipped)}")
    check_classes(converted.classnames, rows, name, converted.shared_names)
    _place_images(out_dir, image_root, [row["image"] for row in rows], log)
    items = [{**row, "image": f"{IMAGES}/{row['image']}"} for row in rows]
    extra = {"skipped_images": len(skipped), "skipped_examples": skipped[:MAX_LISTED]}
    return write_dataset(
        out_dir,
        name=name,
        question=question,
        classnames=converted.classnames,
        items=items,
        source=source,
        extra=extra,
        shared_names=converted.shared_names,
    )


def _place_images(out_dir: Path, image_root: Path, images: list[str], log: Log) -> None:
    """Hard-link (or, across file systems, copy) each image into `out_dir/images`, unless the
    converter wrote them there itself. A folder left by an earlier run is replaced."""
    target = out_dir / IMAGES
    if target.resolve() == image_root:
        return
    if target.is_symlink():
        target.unlink()  # a link into the source, from an older version of clsrl
    elif target.exists():
        shutil.rmtree(target)
    copied = 0
    for image in images:
        destination = target / image
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(image_root / image, destination)
        except OSError:  # another file system, or links not allowed: copy instead
            shutil.copy2(image_root / image, destination)
            copied += 1
    how = f"copied {copied} and hard-linked {len(images) - copied}" if copied else "hard-linked"
    log(f"{out_dir.name}: {how} images ({len(images)}) into {target}")
