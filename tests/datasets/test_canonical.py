"""The canonical dataset format: round trip, and one clear error per kind of bad input."""

import json

import pandas as pd
import pytest
from PIL import Image

from clsrl.datasets.canonical import (
    CLASSNAMES_FILE,
    MANIFEST_FILE,
    METADATA_FILE,
    CanonicalDataset,
    DatasetFormatError,
    load_dataset,
    write_dataset,
)

CLASSNAMES = ["tabby cat", "golden_retriever", "café, au lait"]  # spaces, underscore, comma
IMAGE_SIDE = 8


def _save_image(root, relative, colour=(10, 20, 30)):
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (IMAGE_SIDE, IMAGE_SIDE), colour).save(path)


def _rows():
    """Two images per class in train, one in val and test; one path with a comma and a space."""
    rows = []
    for split, count in (("train", 2), ("val", 1), ("test", 1)):
        for label in range(len(CLASSNAMES)):
            for index in range(count):
                image = f"images/{split}/{label}_{index}.png"
                rows.append({"image": image, "label": label, "split": split})
    rows[-1]["image"] = "images/test/odd, name 2.png"
    return rows


def _write(root, classnames, rows):
    return write_dataset(
        root, name="n", question="q?", classnames=classnames, items=rows, source="t"
    )


@pytest.fixture
def dataset_dir(tmp_path):
    """A valid dataset folder (written with write_dataset)."""
    root = tmp_path / "toy"
    for row in _rows():
        _save_image(root, row["image"])
    write_dataset(
        root,
        name="toy",
        question="What type of object is in the photo?",
        classnames=CLASSNAMES,
        items=_rows(),
        source="tests",
        extra={"skipped_images": 0},
    )
    return root


def test_round_trip_keeps_names_items_and_metadata(dataset_dir):
    loaded = load_dataset(dataset_dir, check_images=True)
    assert isinstance(loaded, CanonicalDataset)
    assert loaded.classnames == CLASSNAMES
    assert loaded.num_classes == len(CLASSNAMES)
    assert loaded.name == "toy" and loaded.question == "What type of object is in the photo?"
    expected = pd.DataFrame(_rows())
    assert loaded.items["image"].tolist() == expected["image"].tolist()
    assert loaded.items["label"].tolist() == expected["label"].tolist()
    assert loaded.items["split"].tolist() == expected["split"].tolist()
    assert loaded.items["label"].dtype == "int64"
    assert loaded.split_counts() == {"train": 6, "val": 3, "test": 3}
    assert loaded.metadata["splits"] == {"train": 6, "val": 3, "test": 3}
    assert loaded.metadata["skipped_images"] == 0
    assert loaded.metadata["format_version"] == 1
    assert loaded.image_path("images/test/odd, name 2.png").is_file()


def test_files_are_plain_and_line_i_is_label_i(dataset_dir):
    lines = (dataset_dir / CLASSNAMES_FILE).read_text(encoding="utf-8").split("\n")
    assert lines == [*CLASSNAMES, ""]
    assert (dataset_dir / MANIFEST_FILE).read_text().startswith("image,label,split\n")
    metadata = json.loads((dataset_dir / METADATA_FILE).read_text(encoding="utf-8"))
    assert metadata["num_classes"] == 3 and metadata["source"] == "tests"


def test_split_returns_only_that_split_and_rejects_unknown_names(dataset_dir):
    loaded = load_dataset(dataset_dir)
    test = loaded.split("test")
    assert len(test) == 3 and set(test["split"]) == {"test"}
    assert list(test.index) == [0, 1, 2]
    with pytest.raises(ValueError, match="unknown split 'validation'"):
        loaded.split("validation")


def test_a_split_may_be_empty(tmp_path):
    """ImageNet has no val split: zero rows is fine."""
    _save_image(tmp_path, "images/a.png")
    rows = [{"image": "images/a.png", "label": 0, "split": "test"}]
    _write(tmp_path, ["a"], rows)
    loaded = load_dataset(tmp_path)
    assert len(loaded.split("val")) == 0 and len(loaded.split("test")) == 1


def test_write_rejects_bad_input_before_writing_anything(tmp_path):
    _save_image(tmp_path, "images/a.png")
    rows = [{"image": "images/a.png", "label": 0, "split": "test"}]
    with pytest.raises(DatasetFormatError, match=r"'cat' is duplicated on lines 1 and 2"):
        _write(tmp_path, ["cat", "cat"], rows)
    with pytest.raises(DatasetFormatError, match=r"items: label out of range.*row 0"):
        _write(tmp_path, ["cat"], [{**rows[0], "label": 1}])
    assert not (tmp_path / MANIFEST_FILE).exists() and not (tmp_path / METADATA_FILE).exists()


# ---------------------------------------------------------------------------------------------
# One bad input per row: how the valid fixture folder is broken, and what the error must name.


def _replace_in(name, old, new):
    def mutate(root):
        path = root / name
        text = path.read_text(encoding="utf-8")
        assert old in text, f"test bug: {old!r} not in {name}"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    return mutate


def _edit_metadata(**changes):
    def mutate(root):
        path = root / METADATA_FILE
        metadata = json.loads(path.read_text(encoding="utf-8"))
        path.write_text(json.dumps({**metadata, **changes}), encoding="utf-8")

    return mutate


def _delete(relative):
    return lambda root: (root / relative).unlink()


def _overwrite(relative, data: bytes):
    return lambda root: (root / relative).write_bytes(data)


def _truncate(relative):
    def mutate(root):
        path = root / relative
        path.write_bytes(path.read_bytes()[:-20])

    return mutate


BAD_INPUTS = [
    # each classnames.txt / manifest.csv / dataset.json missing
    pytest.param(_delete(CLASSNAMES_FILE), False, ["missing classnames.txt"], id="no-classnames"),
    pytest.param(_delete(MANIFEST_FILE), False, ["missing manifest.csv"], id="no-manifest"),
    pytest.param(_delete(METADATA_FILE), False, ["missing dataset.json"], id="no-metadata"),
    # an empty line between class names
    pytest.param(
        _replace_in(CLASSNAMES_FILE, "golden_retriever\n", "\ngolden_retriever\n"),
        False,
        ["classnames.txt", "line 2 is empty"],
        id="empty-classname",
    ),
    # a class name listed twice: both line numbers named
    pytest.param(
        _replace_in(CLASSNAMES_FILE, "golden_retriever", "tabby cat"),
        False,
        ["classnames.txt", "'tabby cat' is duplicated on lines 1 and 2"],
        id="duplicated-classname",
    ),
    # a class name with a trailing space (the rewards compare stripped names)
    pytest.param(
        _replace_in(CLASSNAMES_FILE, "tabby cat", "tabby cat "),
        False,
        ["classnames.txt", "'tabby cat '", "line 1"],
        id="padded-classname",
    ),
    # label 7 with 3 classes: row named by its manifest line and image
    pytest.param(
        _replace_in(MANIFEST_FILE, "images/train/1_0.png,1,", "images/train/1_0.png,7,"),
        False,
        ["manifest.csv", "label out of range", "line 4", "images/train/1_0.png"],
        id="label-too-big",
    ),
    # a negative label
    pytest.param(
        _replace_in(MANIFEST_FILE, "images/val/2_0.png,2,", "images/val/2_0.png,-1,"),
        False,
        ["manifest.csv", "label out of range", "images/val/2_0.png"],
        id="label-negative",
    ),
    # a label that is not an integer
    pytest.param(
        _replace_in(MANIFEST_FILE, "images/val/0_0.png,0,", "images/val/0_0.png,cat,"),
        False,
        ["manifest.csv", "not an integer", "images/val/0_0.png"],
        id="label-not-integer",
    ),
    # a split value outside train/val/test
    pytest.param(
        _replace_in(MANIFEST_FILE, "images/val/1_0.png,1,val", "images/val/1_0.png,1,validation"),
        False,
        ["manifest.csv", "unknown split", "'validation'", "train, val, test"],
        id="unknown-split",
    ),
    # the header lacks the split column
    pytest.param(
        _replace_in(MANIFEST_FILE, "image,label,split", "image,label,subset"),
        False,
        ["manifest.csv", "missing column(s) split"],
        id="missing-column",
    ),
    # an image listed twice
    pytest.param(
        _replace_in(MANIFEST_FILE, "images/train/0_1.png", "images/train/0_0.png"),
        False,
        ["manifest.csv", "image listed twice", "line 3", "images/train/0_0.png"],
        id="duplicate-image",
    ),
    # an absolute image path
    pytest.param(
        _replace_in(MANIFEST_FILE, "images/train/2_1.png", "/etc/2_1.png"),
        False,
        ["manifest.csv", "must be relative", "/etc/2_1.png"],
        id="absolute-path",
    ),
    # num_classes in dataset.json disagrees with classnames.txt
    pytest.param(
        _edit_metadata(num_classes=4),
        False,
        ["dataset.json", "num_classes 4", "classnames.txt", "3 classes"],
        id="num-classes-mismatch",
    ),
    # split counts in dataset.json disagree with the manifest
    pytest.param(
        _edit_metadata(splits={"train": 6, "val": 3, "test": 4}),
        False,
        ["dataset.json", "splits", "manifest.csv"],
        id="split-counts-mismatch",
    ),
    # dataset.json is not JSON
    pytest.param(
        _overwrite(METADATA_FILE, b"{name: toy"),
        False,
        ["dataset.json", "not valid JSON"],
        id="metadata-not-json",
    ),
    # a format this version cannot read
    pytest.param(
        _edit_metadata(format_version=2),
        False,
        ["dataset.json", "format_version 2"],
        id="format-version",
    ),
    # an image listed but gone from disk (checked with the full check: it was checked when the
    # dataset was written, and a later load checks the manifest only)
    pytest.param(
        _delete("images/test/odd, name 2.png"),
        True,
        ["1 listed image(s) missing", "images/test/odd, name 2.png"],
        id="missing-image",
    ),
    # a whole image folder gone: the first 5 named, the rest counted
    pytest.param(
        lambda root: [path.unlink() for path in (root / "images" / "train").iterdir()],
        True,
        ["6 listed image(s) missing", "images/train/0_0.png", "and 1 more"],
        id="missing-image-folder",
    ),
    # with check_images: a file that is not an image at all
    pytest.param(
        _overwrite("images/val/1_0.png", b"not a png"),
        True,
        ["corrupt or truncated", "images/val/1_0.png"],
        id="corrupt-image",
    ),
    # with check_images: a PNG cut short
    pytest.param(
        _truncate("images/train/2_0.png"),
        True,
        ["corrupt or truncated", "images/train/2_0.png"],
        id="truncated-image",
    ),
    # with check_images: an empty file
    pytest.param(
        _overwrite("images/train/1_1.png", b""),
        True,
        ["corrupt or truncated", "images/train/1_1.png"],
        id="zero-byte-image",
    ),
]


@pytest.mark.faults
@pytest.mark.parametrize(("mutate", "check_images", "fragments"), BAD_INPUTS)
def test_bad_input_raises_an_error_naming_the_culprit(dataset_dir, mutate, check_images, fragments):
    load_dataset(dataset_dir, check_images=check_images)  # valid before the change
    mutate(dataset_dir)
    with pytest.raises(DatasetFormatError) as caught:
        load_dataset(dataset_dir, check_images=check_images)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in: {message}"
    assert isinstance(caught.value, ValueError)


def test_corrupt_images_are_only_decoded_on_request(dataset_dir):
    (dataset_dir / "images/val/1_0.png").write_bytes(b"not a png")
    assert len(load_dataset(dataset_dir).items) == 12  # exists, so the cheap check passes
    with pytest.raises(DatasetFormatError, match="images/val/1_0.png"):
        load_dataset(dataset_dir, check_images=True)


def test_unusual_but_valid_paths_are_found(tmp_path):
    """Paths the folder listings cannot match directly (./, top level) still resolve."""
    _save_image(tmp_path, "images/a.png")
    _save_image(tmp_path, "top.png")
    rows = [
        {"image": "images/./a.png", "label": 0, "split": "train"},
        {"image": "top.png", "label": 0, "split": "test"},
    ]
    _write(tmp_path, ["a"], rows)
    assert load_dataset(tmp_path).items["image"].tolist() == ["images/./a.png", "top.png"]
