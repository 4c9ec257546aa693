"""The built-in demo datasets: deterministic, complete, loadable, and written atomically."""

import dataclasses

import numpy as np
import pytest
from PIL import Image

from clsrl.datasets.canonical import SPLITS, load_dataset
from clsrl.datasets.demo import (
    DEMO_DATASETS,
    UnknownDemoDatasetError,
    generate_demo_dataset,
    main,
)
from clsrl.schema import schema_default

SMALL = {"train": 2, "val": 1, "test": 2}
SMALL_SIDE = 32
MIN_CLASSES = 5


@pytest.fixture(scope="module")
def default_demos(tmp_path_factory):
    """All three demo datasets with the default settings (as the workflow makes them)."""
    out = tmp_path_factory.mktemp("demos")
    return {name: generate_demo_dataset(name, out / name) for name in DEMO_DATASETS}


def _file_bytes(root):
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_the_registry_holds_the_three_documented_datasets():
    assert list(DEMO_DATASETS) == ["demo-colours", "demo-shapes", "demo-patterns"]
    for name, spec in DEMO_DATASETS.items():
        assert spec.name == name
        assert spec.question.endswith("?")
        assert len(set(spec.classnames)) == len(spec.classnames)
    assert any("_" in c for spec in DEMO_DATASETS.values() for c in spec.classnames)


@pytest.mark.parametrize("name", list(DEMO_DATASETS))
def test_default_demo_is_complete_and_loads_with_image_checks(default_demos, name):
    dataset = default_demos[name]
    loaded = load_dataset(dataset.root, check_images=True)
    assert loaded.num_classes >= MIN_CLASSES
    assert loaded.classnames == list(DEMO_DATASETS[name].classnames)
    assert loaded.question == DEMO_DATASETS[name].question
    per_class = loaded.items.groupby(["split", "label"]).size()
    for split in SPLITS:
        counts = per_class[split]
        assert len(counts) == loaded.num_classes, f"{split} lacks a class"
        assert set(counts) == {schema_default("demo_data.per_class")[split]}
    for relative in loaded.items["image"].iloc[:: len(loaded.items) // 10]:
        with Image.open(loaded.image_path(relative)) as image:
            side = schema_default("demo_data.image_size")
            assert image.size == (side, side)
            assert image.mode == "RGB"


@pytest.mark.parametrize("name", list(DEMO_DATASETS))
def test_images_within_a_dataset_all_differ(default_demos, name):
    files = _file_bytes(default_demos[name].root / "images")
    assert len(set(files.values())) == len(files)


def test_colour_classes_are_separable_by_mean_colour(default_demos):
    """Labels match content: nearest train-mean colour classifies the test images."""
    dataset = default_demos["demo-colours"]

    def mean_colour(relative):
        return np.asarray(Image.open(dataset.image_path(relative)), dtype=float).mean(axis=(0, 1))

    train, test = dataset.split("train"), dataset.split("test")
    features = np.stack([mean_colour(p) for p in train["image"]])
    centroids = np.stack(
        [features[train["label"] == c].mean(0) for c in range(dataset.num_classes)]
    )
    test_features = np.stack([mean_colour(p) for p in test["image"]])
    distances = ((test_features[:, None] - centroids[None]) ** 2).sum(-1)
    assert (distances.argmin(1) == test["label"].to_numpy()).mean() == 1.0


@pytest.mark.parametrize("name", list(DEMO_DATASETS))
def test_same_seed_same_bytes_other_seed_other_images(tmp_path, name):
    def make(folder, seed):
        kwargs = {"seed": seed, "per_class": SMALL, "image_size": SMALL_SIDE}
        generate_demo_dataset(name, tmp_path / folder, **kwargs)
        return _file_bytes(tmp_path / folder)

    first, again, other = make("a", 0), make("b", 0), make("c", 1)
    assert first == again
    images = [key for key in first if key.startswith("images/")]
    assert sorted(other) == sorted(first)  # same layout and manifest rows ...
    assert all(first[key] != other[key] for key in images)  # ... other pixels
    assert first["manifest.csv"] == other["manifest.csv"]


def test_requested_counts_and_size_are_honoured(tmp_path):
    dataset = generate_demo_dataset(
        "demo-patterns", tmp_path / "p", per_class={"train": 3, "test": 1}, image_size=SMALL_SIDE
    )
    assert dataset.split_counts() == {"train": 18, "val": 0, "test": 6}
    assert dataset.root == tmp_path / "p"
    assert dataset.metadata["seed"] == 0 and dataset.metadata["image_size"] == SMALL_SIDE
    with Image.open(dataset.image_path(dataset.items["image"][0])) as image:
        assert image.size == (SMALL_SIDE, SMALL_SIDE)


def test_more_images_per_class_keeps_the_first_ones(tmp_path):
    few = generate_demo_dataset("demo-shapes", tmp_path / "few", per_class={"train": 1})
    many = generate_demo_dataset("demo-shapes", tmp_path / "many", per_class={"train": 3})
    for relative in few.items["image"]:
        assert few.image_path(relative).read_bytes() == many.image_path(relative).read_bytes()


def test_unknown_name_lists_the_known_ones(tmp_path):
    with pytest.raises(KeyError) as caught:
        generate_demo_dataset("demo-colors", tmp_path / "x")
    assert isinstance(caught.value, UnknownDemoDatasetError)
    for name in ("'demo-colors'", *DEMO_DATASETS):
        assert name in str(caught.value)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"per_class": {"training": 2}}, "unknown split(s) ['training']"),  # misspelt split
        ({"per_class": {"train": -1}}, "integers >= 0"),  # negative count
        ({"per_class": {"train": 0}}, "every count is 0"),  # nothing to draw
        ({"image_size": -8}, "image_size must be a positive integer"),  # nothing to draw
        ({"seed": -3}, "seed must be an integer >= 0"),  # SeedSequence needs >= 0
    ],
)
def test_bad_settings_are_refused(tmp_path, kwargs, fragment):
    with pytest.raises(ValueError) as caught:
        generate_demo_dataset("demo-colours", tmp_path / "x", **kwargs)
    assert fragment in str(caught.value)


def test_existing_output_is_replaced(tmp_path):
    out = tmp_path / "colours"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    generate_demo_dataset("demo-colours", out, per_class=SMALL, image_size=SMALL_SIDE)
    assert not (out / "stale.txt").exists()
    assert load_dataset(out).name == "demo-colours"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["colours"]  # no temporary left


def test_a_crash_leaves_the_old_output_intact_and_no_partial_folder(tmp_path, monkeypatch):
    out = tmp_path / "shapes"
    generate_demo_dataset("demo-shapes", out, per_class=SMALL, image_size=SMALL_SIDE)
    before = _file_bytes(out)
    calls = []

    def failing_draw(classname, size, rng):
        calls.append(classname)
        if len(calls) > 3:
            raise RuntimeError("simulated crash")
        return Image.new("RGB", (size, size))

    crashing = dataclasses.replace(DEMO_DATASETS["demo-shapes"], draw=failing_draw)
    monkeypatch.setitem(DEMO_DATASETS, "demo-shapes", crashing)
    with pytest.raises(RuntimeError, match="simulated crash"):
        generate_demo_dataset("demo-shapes", out, per_class=SMALL, image_size=SMALL_SIDE)
    assert _file_bytes(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shapes"]


def test_command_line_generates_a_dataset(tmp_path, capsys):
    main(["demo-colours", str(tmp_path / "c"), "--seed", "3", "--image-size", str(SMALL_SIDE)])
    assert "demo-colours" in capsys.readouterr().out
    assert load_dataset(tmp_path / "c").metadata["seed"] == 3
    with pytest.raises(SystemExit):
        main(["demo-colors", str(tmp_path / "d")])
