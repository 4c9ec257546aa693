"""Real data for the bad-input tests: the UCI handwritten digits (tests/data/digits/SOURCE.md),
written as a user would have them.

>>> images = digits(per_class=2)
>>> len(images), images[0][0], images[0][1].size
(20, 'zero', (32, 32))
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

from PIL import Image

DIGITS_CSV = Path(__file__).parent / "data" / "digits" / "digits.csv.gz"
NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
SIDE = 32  # the 8x8 images, scaled up 4x (nearest) as a user's PNGs might be


def digits(per_class: int = 12) -> list[tuple[str, Image.Image]]:
    """(class name, image) for the first `per_class` images of each digit, in class order."""
    by_digit: dict[int, list[Image.Image]] = {digit: [] for digit in range(10)}
    with gzip.open(DIGITS_CSV, "rt") as rows:
        for row in csv.reader(rows):
            digit = int(row[-1])
            if len(by_digit[digit]) < per_class:
                pixels = bytes(int(value) * 255 // 16 for value in row[:64])
                image = Image.frombytes("L", (8, 8), pixels).resize((SIDE, SIDE), Image.NEAREST)
                by_digit[digit].append(image)
    return [(NAMES[digit], image) for digit in range(10) for image in by_digit[digit]]


def class_folders(root: Path, per_class: int = 12) -> Path:
    """root/<digit name>/<n>.png: one folder per class."""
    for index, (name, image) in enumerate(digits(per_class)):
        (root / name).mkdir(parents=True, exist_ok=True)
        image.save(root / name / f"{index:04d}.png")
    return root


def split_folders(root: Path, per_class: int = 12) -> Path:
    """root/{train,val,test}/<digit name>/<n>.png: half of each class to train, a quarter each
    to val and test."""
    for index, (name, image) in enumerate(digits(per_class)):
        position = index % per_class
        split = "train" if position < per_class // 2 else "val" if position % 2 else "test"
        (root / split / name).mkdir(parents=True, exist_ok=True)
        image.save(root / split / name / f"{index:04d}.png")
    return root


def hf_records(per_class: int = 12) -> dict[str, list]:
    """Columns `image` (PIL images) and `label` (digit names) for datasets.Dataset.from_dict."""
    pairs = digits(per_class)
    return {"image": [image for _, image in pairs], "label": [name for name, _ in pairs]}


def saved_hf(root: Path, per_class: int = 12, splits: tuple[str, ...] = ()) -> Path:
    """A datasets dataset with an Image column and a ClassLabel column, saved with save_to_disk:
    one Dataset, or a DatasetDict with `splits` (every split holds the same images)."""
    import datasets

    features = datasets.Features(
        {"image": datasets.Image(), "label": datasets.ClassLabel(names=NAMES)}
    )
    dataset = datasets.Dataset.from_dict(hf_records(per_class), features=features)
    if splits:
        dataset = datasets.DatasetDict({split: dataset for split in splits})
    dataset.save_to_disk(str(root))
    return root
