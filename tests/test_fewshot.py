"""Seeded few-shot sampling and the base-to-new class split."""

import pandas as pd
import pytest

from clsrl.fewshot import NotEnoughImagesError, sample_few_shot
from clsrl.views import View


def index(per_class):
    """A manifest with the given number of train images per label."""
    rows = [
        {"image": f"images/{label}_{i}.png", "label": label, "split": "train"}
        for label, count in enumerate(per_class)
        for i in range(count)
    ]
    return pd.DataFrame(rows)


def test_k_per_class_reproducible_and_seed_dependent():
    items = index([20] * 10)
    first = sample_few_shot(items, 4, seed=1)
    assert first["label"].value_counts().to_dict() == {label: 4 for label in range(10)}
    assert first.equals(sample_few_shot(items, 4, seed=1))  # same seed, same items
    assert set(first["image"]) != set(sample_few_shot(items, 4, seed=2)["image"])
    assert first["image"].is_unique


def test_sample_does_not_depend_on_manifest_order_for_a_given_seed():
    items = index([6] * 3)
    shuffled = items.sample(frac=1, random_state=0).reset_index(drop=True)
    # a different order is a different index: the draw may differ, but stays k per class
    assert sample_few_shot(shuffled, 2, seed=1)["label"].value_counts().tolist() == [2, 2, 2]


def test_a_short_class_is_named():
    items = index([5, 2, 5])
    with pytest.raises(NotEnoughImagesError, match=r"'bird' \(2 images\)"):
        sample_few_shot(items, 4, seed=1, classnames=["cat", "bird", "dog"])


def test_allow_fewer_takes_all_a_short_class_has():
    sample = sample_few_shot(index([5, 2, 5]), 4, seed=1, allow_fewer=True)
    assert sample["label"].value_counts().sort_index().tolist() == [4, 2, 4]


@pytest.mark.parametrize(
    ("n", "base", "new"),
    [
        (10, 5, 5),  # EuroSAT
        (47, 24, 23),  # DTD: ceil(n / 2) base classes
        (1, 1, 0),  # degenerate
    ],
)
def test_base_to_new_split(n, base, new):
    base_classes, new_classes = View("d", "base").classes(n), View("d", "new").classes(n)
    assert base_classes == list(range(base))
    assert new_classes == list(range(base, n))
    assert len(base_classes) + len(new_classes) == n
