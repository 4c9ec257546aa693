"""The image and class checks every dataset route shares (clsrl.datasets.checks), on real files:
a missing image, a truncated one, a hidden file, duplicated and case-only classes."""

import pytest
from PIL import Image

from clsrl.datasets.checks import (
    DatasetCheckError,
    check_classes,
    listed,
    missing_images,
    unreadable_images,
)


@pytest.fixture
def images(tmp_path):
    """Three good PNGs, one truncated to half its bytes; `gone.png` is listed but absent."""
    for name in ("a.png", "b.png", "sub/c.png", "broken.png"):
        path = tmp_path / name
        path.parent.mkdir(exist_ok=True)
        Image.new("RGB", (16, 16), (200, 10, 10)).save(path)
    broken = tmp_path / "broken.png"
    broken.write_bytes(broken.read_bytes()[: broken.stat().st_size // 2])
    return tmp_path


def test_missing_images_names_exactly_the_absent_ones_in_listed_order(images):
    listed_images = ["sub/c.png", "gone.png", "a.png", "sub/gone.png"]
    assert missing_images(images, listed_images) == ["gone.png", "sub/gone.png"]


@pytest.mark.parametrize("threads", [1, 3])
def test_unreadable_images_finds_the_truncated_one_only(images, threads):
    names = ["a.png", "broken.png", "b.png", "sub/c.png"]
    assert unreadable_images(images, names, threads) == ["broken.png"]


def rows(classes: int, splits=("train", "test")) -> list[dict]:
    return [{"label": label, "split": split} for label in range(classes) for split in splits]


def test_good_classes_pass_and_shared_names_are_allowed():
    check_classes(["cat", "dog"], rows(2), "pets")
    check_classes(["crane", "crane", "heron"], rows(3), "birds", shared_names=["crane"])


@pytest.mark.parametrize(
    "classnames, data, says",
    [
        (["cat"], rows(1), "a classifier needs at least 2 classes"),
        (["cat", "dog", "cat"], rows(3), "class 'cat' is duplicated (labels 0 and 2)"),
        (["Cat", "cat"], rows(2), "classes 'Cat' and 'cat' differ only in case"),
        (["cat", "dog"], rows(2, ("train",)), "have no test images: 'cat', 'dog'"),
        (["cat", "dog"], [*rows(1), {"label": 1, "split": "test"}], "no train images: 'dog'"),
    ],
)
def test_bad_classes_are_refused_naming_the_class_and_the_fix(classnames, data, says):
    with pytest.raises(DatasetCheckError) as error:
        check_classes(classnames, data, "pets")
    message = str(error.value)
    assert message.startswith("pets: ") and says in message


def test_listed_shows_the_first_names_then_how_many_more():
    assert listed(range(7), limit=3) == "0, 1, 2 and 4 more"
    assert listed(["row 1", "row 2"], sep="; ", total=10) == "row 1; row 2 and 8 more"
    assert listed([]) == ""
