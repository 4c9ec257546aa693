"""Built-in demo datasets: small synthetic image classification sets, generated offline.

Generate one from the shell (same seed, same bytes):

    python -m clsrl.datasets.demo demo-shapes data/prepared/demo-shapes --seed 0

Three datasets, each written in the canonical format (`clsrl.datasets.canonical`) with train,
val and test splits: `demo-colours` (a solid colour with noise), `demo-shapes` (one shape drawn
at a random place, size and colour) and `demo-patterns` (a texture at a random scale and colour).
Every image has its own random generator, fixed by (seed, dataset, split, label, index), so the
images do not depend on the order they are drawn in, and asking for more images per class keeps
the first ones.

>>> import tempfile
>>> out = Path(tempfile.mkdtemp()) / "shapes"
>>> dataset = generate_demo_dataset("demo-shapes", out, per_class={"train": 1, "test": 1})
>>> dataset.num_classes, dataset.split_counts()
(6, {'train': 6, 'val': 0, 'test': 6})
>>> dataset.classnames[-2:]
['plus_sign', 'five_point_star']
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from clsrl.datasets.canonical import SPLITS, CanonicalDataset, write_dataset
from clsrl.io import folder_written_atomically
from clsrl.schema import schema_default

REFERENCE_SIZE = 56  # the image side the drawing sizes below are given for; they scale with it
LABEL_DIGITS = 3  # images/<split>/<label:03d>_<index:04d>.png
INDEX_DIGITS = 4
NOISE_SIGMA = 8.0  # per-pixel Gaussian noise, in 0-255 units
COLOUR_JITTER = 20  # per-image shift of each channel of a demo-colours class colour
DARK_RANGE = (0, 110)  # channel range of the dark colour of a shape or pattern
LIGHT_RANGE = (170, 256)  # channel range of the light one
SHAPE_RADIUS = (0.22, 0.42)  # shape radius, as a share of the image side
PATTERN_PERIOD = (8, 17)  # pattern period in pixels at 56 px, scaled with the image size
SOURCE = "clsrl built-in demo dataset: synthetic images generated offline (clsrl.datasets.demo)"

Draw = Callable[[str, int, np.random.Generator], Image.Image]


@dataclass(frozen=True)
class DemoSpec:
    """One demo dataset: its question, its class names (label order) and how to draw a class."""

    name: str
    question: str
    classnames: tuple[str, ...]
    draw: Draw  # (classname, image side, generator) -> an RGB image


class UnknownDemoDatasetError(KeyError):
    """A demo dataset name that is not in DEMO_DATASETS."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


# ---------------------------------------------------------------------------------------------
# Drawing helpers


def _with_noise(pixels: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """Add mild Gaussian noise to an (H, W, 3) array and make an RGB image of it."""
    noisy = pixels.astype(np.float64) + rng.normal(0.0, NOISE_SIGMA, size=pixels.shape)
    return Image.fromarray(np.clip(np.rint(noisy), 0, 255).astype(np.uint8), mode="RGB")


def _dark_and_light(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two well-contrasted random colours."""
    return rng.integers(*DARK_RANGE, size=3), rng.integers(*LIGHT_RANGE, size=3)


def _regular_polygon(centre, radius: float, corners: int, turn: float) -> list[tuple]:
    """Corners of a regular polygon; `turn` rotates it (radians)."""
    cx, cy = centre
    return [
        (
            cx + radius * math.cos(turn + 2 * math.pi * k / corners),
            cy + radius * math.sin(turn + 2 * math.pi * k / corners),
        )
        for k in range(corners)
    ]


def _star(centre, radius: float, points: int, turn: float) -> list[tuple]:
    """Corners of a star: outer and inner corners alternate."""
    inner_share = 0.4
    cx, cy = centre
    corners = []
    for k in range(2 * points):
        r = radius if k % 2 == 0 else radius * inner_share
        angle = turn + math.pi * k / points
        corners.append((cx + r * math.cos(angle), cy + r * math.sin(angle)))
    return corners


# ---------------------------------------------------------------------------------------------
# demo-colours

# Sixteen colours, each at least 45 apart from every other in some channel (0-255).
COLOURS = {
    "red": (215, 35, 35),
    "green": (40, 165, 60),
    "blue": (40, 70, 215),
    "yellow": (235, 215, 45),
    "purple": (125, 50, 165),
    "orange": (245, 140, 25),
    "hot_pink": (245, 85, 180),
    "cyan": (40, 215, 220),
    "brown": (125, 75, 30),
    "olive": (125, 125, 25),
    "teal": (25, 120, 120),
    "navy": (25, 25, 110),
    "maroon": (125, 20, 55),
    "lime": (155, 245, 60),
    "magenta": (195, 30, 240),
    "grey": (140, 140, 140),
}


def draw_colour(classname: str, size: int, rng: np.random.Generator) -> Image.Image:
    """The class colour, shifted a little per image, filling the image, with noise."""
    colour = np.array(COLOURS[classname]) + rng.integers(-COLOUR_JITTER, COLOUR_JITTER + 1, 3)
    return _with_noise(np.broadcast_to(colour, (size, size, 3)), rng)


# ---------------------------------------------------------------------------------------------
# demo-shapes

SHAPES = ("circle", "square", "triangle", "diamond", "plus_sign", "five_point_star")
PLUS_ARM_SHARE = 0.35  # arm width of the plus sign, as a share of its radius
SQUARE_SHARE = 0.8  # half side of the square, as a share of the radius (similar area)


def _shape(draw: ImageDraw.ImageDraw, classname: str, centre, radius: float, turn: float, fill):
    cx, cy = centre
    if classname == "circle":
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=fill)
    elif classname == "square":
        half = radius * SQUARE_SHARE
        draw.rectangle((cx - half, cy - half, cx + half, cy + half), fill=fill)
    elif classname == "triangle":
        draw.polygon(_regular_polygon(centre, radius, 3, turn), fill=fill)
    elif classname == "diamond":
        draw.polygon(_regular_polygon(centre, radius, 4, 0.0), fill=fill)
    elif classname == "plus_sign":
        arm = radius * PLUS_ARM_SHARE
        draw.rectangle((cx - radius, cy - arm, cx + radius, cy + arm), fill=fill)
        draw.rectangle((cx - arm, cy - radius, cx + arm, cy + radius), fill=fill)
    elif classname == "five_point_star":
        draw.polygon(_star(centre, radius, 5, turn), fill=fill)
    else:
        raise ValueError(f"no drawing for shape {classname!r}; known: {', '.join(SHAPES)}")


def draw_shape(classname: str, size: int, rng: np.random.Generator) -> Image.Image:
    """One shape at a random place, size, rotation and colour on a contrasting background."""
    dark, light = _dark_and_light(rng)
    shape_colour, background = (dark, light) if rng.random() < 0.5 else (light, dark)
    radius = rng.uniform(*SHAPE_RADIUS) * size
    centre = tuple(rng.uniform(radius, size - radius, size=2))
    turn = rng.uniform(0.0, 2 * math.pi)
    image = Image.new("RGB", (size, size), tuple(int(c) for c in background))
    _shape(
        ImageDraw.Draw(image), classname, centre, radius, turn, tuple(int(c) for c in shape_colour)
    )
    return _with_noise(np.asarray(image), rng)


# ---------------------------------------------------------------------------------------------
# demo-patterns

DOT_RADIUS_SHARE = 0.3  # polka dot radius, as a share of the period


def _pattern_mask(classname: str, size: int, period: int, rng: np.random.Generator) -> np.ndarray:
    """A boolean (size, size) mask of the pattern's foreground."""
    yy, xx = np.mgrid[0:size, 0:size]
    dx, dy = rng.integers(0, period, size=2)
    half = max(period // 2, 1)
    if classname == "horizontal_stripes":
        return (yy + dy) // half % 2 == 0
    if classname == "vertical_stripes":
        return (xx + dx) // half % 2 == 0
    if classname == "diagonal_stripes":
        direction = 1 if rng.random() < 0.5 else -1
        return (xx + direction * yy + dx) // half % 2 == 0
    if classname == "checkerboard":
        return ((xx + dx) // half + (yy + dy) // half) % 2 == 0
    if classname == "polka_dots":
        ox, oy = (xx + dx) % period - period / 2, (yy + dy) % period - period / 2
        return ox**2 + oy**2 <= (DOT_RADIUS_SHARE * period) ** 2
    if classname == "concentric_rings":
        cx, cy = rng.uniform(0, size, size=2)
        return np.hypot(xx - cx, yy - cy).astype(int) // half % 2 == 0
    raise ValueError(f"no drawing for pattern {classname!r}; known: {', '.join(PATTERNS)}")


PATTERNS = (
    "horizontal_stripes",
    "vertical_stripes",
    "diagonal_stripes",
    "checkerboard",
    "polka_dots",
    "concentric_rings",
)


def draw_pattern(classname: str, size: int, rng: np.random.Generator) -> Image.Image:
    """A texture at a random period and phase, in two random contrasting colours."""
    scale = size / REFERENCE_SIZE
    low, high = (max(4, round(bound * scale)) for bound in PATTERN_PERIOD)
    period = int(rng.integers(low, max(high, low + 1)))
    dark, light = _dark_and_light(rng)
    mask = _pattern_mask(classname, size, period, rng)
    return _with_noise(np.where(mask[..., None], dark, light), rng)


# ---------------------------------------------------------------------------------------------
# Registry

DEMO_DATASETS: dict[str, DemoSpec] = {
    spec.name: spec
    for spec in (
        DemoSpec("demo-colours", "What colour fills the photo?", tuple(COLOURS), draw_colour),
        DemoSpec("demo-shapes", "What shape is in the photo?", SHAPES, draw_shape),
        DemoSpec("demo-patterns", "What type of texture is in the photo?", PATTERNS, draw_pattern),
    )
}


def demo_texts(repeats: int = 10) -> list[str]:
    """The demo datasets' questions and class names (alone and as an option list), each repeated,
    for a tokenizer to learn: the tiny model's tokenizer then spells most names in few tokens."""
    texts = []
    for spec in DEMO_DATASETS.values():
        texts += [spec.question, *spec.classnames, f"[ {', '.join(spec.classnames)}]"]
    return texts * repeats


def demo_spec(name: str) -> DemoSpec:
    """The spec of a demo dataset; an unknown name raises an error listing the known ones."""
    if name not in DEMO_DATASETS:
        raise UnknownDemoDatasetError(
            f"unknown demo dataset {name!r}; known: {', '.join(DEMO_DATASETS)}"
        )
    return DEMO_DATASETS[name]


# ---------------------------------------------------------------------------------------------
# Generation


def image_rng(seed: int, dataset: str, split: str, label: int, index: int) -> np.random.Generator:
    """The generator of one image: fixed by its identity, not by generation order.

    >>> a = image_rng(0, "demo-shapes", "train", 1, 2).random()
    >>> a == image_rng(0, "demo-shapes", "train", 1, 2).random() != image_rng(1, "demo-shapes",
    ...                                                                      "train", 1, 2).random()
    True
    """
    key = [seed, zlib.crc32(dataset.encode()), SPLITS.index(split), label, index]
    return np.random.default_rng(key)


def generate_demo_dataset(
    name: str,
    out_dir: str | Path,
    *,
    seed: int = 0,
    per_class: Mapping[str, int] | None = None,
    image_size: int | None = None,
) -> CanonicalDataset:
    """Draw a demo dataset and write it, in the canonical format, to `out_dir` (replaced).

    `per_class` gives the images per class of each split (a split left out gets none); it and
    `image_size` default to the config schema's `demo_data` values. The dataset is built in a
    hidden sibling folder and renamed to `out_dir` at the end, so a crash never leaves half a
    dataset there (an old `out_dir` then stays as it was).
    """
    spec = demo_spec(name)
    counts = _checked_counts(per_class or schema_default("demo_data.per_class"))
    image_size = image_size or schema_default("demo_data.image_size")
    _check_settings(seed, image_size)
    out_dir = Path(out_dir)
    with folder_written_atomically(out_dir) as staging:
        staging.mkdir()
        items = _draw_images(spec, staging, seed=seed, counts=counts, image_size=image_size)
        dataset = write_dataset(
            staging,
            name=spec.name,
            question=spec.question,
            classnames=spec.classnames,
            items=items,
            source=SOURCE,
            extra={"seed": seed, "image_size": image_size, "per_class": counts},
        )
    return dataclasses.replace(dataset, root=out_dir)


def _checked_counts(per_class: Mapping[str, int]) -> dict[str, int]:
    unknown = sorted(set(per_class) - set(SPLITS))
    if unknown:
        raise ValueError(f"per_class: unknown split(s) {unknown}; use {', '.join(SPLITS)}")
    counts = {split: per_class.get(split, 0) for split in SPLITS}
    bad = {split: n for split, n in counts.items() if not isinstance(n, int) or n < 0}
    if bad:
        raise ValueError(f"per_class: counts must be integers >= 0, got {bad}")
    if not any(counts.values()):
        raise ValueError("per_class: every count is 0; ask for at least one image")
    return counts


def _check_settings(seed: int, image_size: int) -> None:
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    if not isinstance(image_size, int) or image_size < 1:
        raise ValueError(f"image_size must be a positive integer, got {image_size!r}")


def _draw_images(
    spec: DemoSpec, root: Path, *, seed: int, counts: dict[str, int], image_size: int
) -> list[dict]:
    """Draw and save every image under root/images; return the manifest rows."""
    rows = []
    for split in SPLITS:
        if counts[split]:
            (root / "images" / split).mkdir(parents=True)
        for label, classname in enumerate(spec.classnames):
            for index in range(counts[split]):
                relative = f"images/{split}/{label:0{LABEL_DIGITS}d}_{index:0{INDEX_DIGITS}d}.png"
                rng = image_rng(seed, spec.name, split, label, index)
                spec.draw(classname, image_size, rng).save(root / relative, format="PNG")
                rows.append({"image": relative, "label": label, "split": split})
    return rows


def main(argv: list[str] | None = None) -> None:
    """Command line: generate one demo dataset."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help=f"one of {', '.join(DEMO_DATASETS)}")
    parser.add_argument("out_dir", help="dataset folder to write (replaced if it exists)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the images (default 0)")
    parser.add_argument("--image-size", type=int, help="side, px (default: the config schema's)")
    args = parser.parse_args(argv)
    try:
        dataset = generate_demo_dataset(
            args.name, args.out_dir, seed=args.seed, image_size=args.image_size
        )
    except (UnknownDemoDatasetError, ValueError) as error:
        parser.error(str(error))
    print(
        f"wrote {dataset.name} to {dataset.root}: {dataset.num_classes} classes, "
        f"splits {dataset.split_counts()}"
    )


if __name__ == "__main__":
    main()
