"""Seeded few-shot sampling (protocol section 2); the base-to-new halves are views (clsrl.views).

Sampling works on the manifest alone (no image is opened) and is vectorised, so drawing 16 shots
per class from an ImageNet-sized index takes about a second (bench/bench_fewshot.py).

>>> import pandas as pd
>>> items = pd.DataFrame({"image": list("abcdef"), "label": [0, 0, 0, 1, 1, 1]})
>>> sample_few_shot(items, shots=2, seed=1)["label"].tolist()
[0, 0, 1, 1]
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from clsrl.datasets.canonical import CanonicalDataset, load_dataset
from clsrl.datasets.checks import listed
from clsrl.questions import OptionSettings, make_questions, write_questions
from clsrl.views import View


class NotEnoughImagesError(ValueError):
    """A class has fewer train images than the shots asked for."""


def sample_few_shot(
    items: pd.DataFrame,
    shots: int,
    seed: int,
    *,
    classnames: list[str] | None = None,
    allow_fewer: bool = False,
) -> pd.DataFrame:
    """`shots` items per label, drawn without replacement under `seed`, sorted by label then image.

    The same seed always gives the same items; different seeds give different ones. A class with
    fewer than `shots` items is an error naming it, unless `allow_fewer` takes all it has.
    """
    counts = items["label"].value_counts()
    short = counts[counts < shots]
    if len(short) and not allow_fewer:
        names = [
            f"{classnames[label] if classnames else label!r} ({count} images)"
            for label, count in short.sort_index().items()
        ]
        raise NotEnoughImagesError(
            f"{len(short)} class(es) have fewer than {shots} train images: {listed(names)}. Lower "
            "`shots`, add images, or set training.allow_fewer_shots: true to take all images of "
            "such classes."
        )
    order = np.random.default_rng(seed).permutation(len(items))
    shuffled = items.iloc[order]
    chosen = shuffled.groupby("label", sort=False).head(shots)
    return chosen.sort_values(["label", "image"], kind="stable").reset_index(drop=True)


def few_shot_questions(
    dataset: CanonicalDataset,
    shots: int,
    seed: int,
    settings: OptionSettings,
    *,
    classes: list[int] | None = None,
    allow_fewer: bool = False,
) -> list[dict]:
    """Questions for a seeded few-shot draw of the train split (optionally of `classes` only)."""
    train = dataset.split("train")
    if classes is not None:
        train = train[train["label"].isin(classes)]
    chosen = sample_few_shot(
        train, shots, seed, classnames=dataset.classnames, allow_fewer=allow_fewer
    )
    subset = replace(dataset, items=chosen)
    return make_questions(subset, "train", settings, classes=classes)


def write_few_shot(
    dataset_dir: str, out: str, shots: int, seed: int, options: dict, half, allow_fewer: bool
) -> int:
    """Draw a view's seeded few-shot training set and write it as questions (rule
    sample_few_shot); `options` are OptionSettings fields but the seed. Returns how many."""
    dataset = load_dataset(dataset_dir)
    classes = View(dataset.name, half).classes(dataset.num_classes)
    settings = OptionSettings(**options, seed=seed)
    questions = few_shot_questions(
        dataset, shots, seed, settings, classes=classes, allow_fewer=allow_fewer
    )
    write_questions(out, questions)
    return len(questions)
