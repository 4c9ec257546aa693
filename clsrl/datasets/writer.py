"""Write a converted dataset (class names, rows, an image folder) in the canonical format.

Every listed image must exist (a missing one is an error naming it and the file that lists it).
With `check_images`, every image is decoded (in `threads` threads: PIL releases the GIL while
decoding); an unreadable one is an error naming it, or, with `skip_unreadable`, its row is dropped,
and the count (with the first few names) is logged and recorded in `dataset.json` as
`skipped_images` / `skipped_examples`. Then the classes are checked (clsrl.datasets.checks: at
least 2, no two names equal but for case, every class with training and test images).

The images are placed in the dataset's `images/` folder, so that moving or deleting the source
later breaks nothing here. From a folder of the user's (a custom dataset, a benchmark's local
copy) they are copied when they total at most `ImageChecks.copy_up_to_bytes`
(`data.copy_images_up_to_gb`; the copy is a reflink where the file system has them), so an edit
of the user's folder never changes what was prepared; a larger one, and the workflow's own
download cache, are hard-linked (copied across file systems): no second copy of an ImageNet.
An in-place edit of a hard-linked image changes the prepared copy too; the next run sees the
edit in the source's state and reruns what depends on it (clsrl.datasets.source_checks).
`dataset.json` records which (`images_placed`: copied or hard-linked).
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
    copy_up_to_bytes: int = 0  # copy the images when they total at most this; 0: hard links


def copy_limit(data_config: dict) -> int:
    """`data.copy_images_up_to_gb` in bytes (the images of a user's folder are copied up to it).

    >>> copy_limit({"copy_images_up_to_gb": 0.5})
    500000000
    """
    return int(data_config["copy_images_up_to_gb"] * 1e9)


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
    images = [row["image"] for row in rows]
    copy = _total_at_most(image_root, images, checks.copy_up_to_bytes)
    placed = _place_images(out_dir, image_root, images, log, copy)
    items = [{**row, "image": f"{IMAGES}/{row['image']}"} for row in rows]
    extra = {"skipped_images": len(skipped), "skipped_examples": skipped[:MAX_LISTED]}
    if placed:
        extra["images_placed"] = placed
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


def _total_at_most(root: Path, images: list[str], limit: int) -> bool:
    """Whether the images total at most `limit` bytes (stops counting past it; 0: no)."""
    total = 0
    for image in images if limit > 0 else ():
        total += (root / image).stat().st_size
        if total > limit:
            return False
    return limit > 0


def _link_or_copy(source: Path, destination: Path, copy: bool) -> bool:
    """Copy (`copy`, or where a hard link fails: another file system) or hard-link; whether it
    copied. The copy uses copy_file_range: a reflink where the file system has them."""
    if not copy:
        try:
            os.link(source, destination)
            return False
        except OSError:
            pass
    shutil.copy2(source, destination)
    return True


def _place_images(
    out_dir: Path, image_root: Path, images: list[str], log: Log, copy: bool = False
) -> str | None:
    """Copy (`copy`) or hard-link (across file systems: copy) each image into
    `out_dir/images`, unless the converter wrote them there itself (then None). A folder left by
    an earlier run is replaced. Returns "copied" or "hard-linked"."""
    target = out_dir / IMAGES
    if target.resolve() == image_root:
        return None
    if target.is_symlink():
        target.unlink()  # a link into the source, from an older version of clsrl
    elif target.exists():
        shutil.rmtree(target)
    copied = 0
    for image in images:
        destination = target / image
        destination.parent.mkdir(parents=True, exist_ok=True)
        copied += _link_or_copy(image_root / image, destination, copy)
    how = f"copied {copied} and hard-linked {len(images) - copied}" if copied else "hard-linked"
    log(f"{out_dir.name}: {how} images ({len(images)}) into {target}")
    if copied == len(images):
        return "copied"
    return "hard-linked and copied" if copied else "hard-linked"
