"""Custom datasets by config alone: image folders and HF `datasets` datasets."""

import io
import json
import re
from pathlib import Path

import pytest
from PIL import Image

from clsrl.config import validate_config
from clsrl.datasets.canonical import DatasetFormatError, load_dataset
from clsrl.datasets.custom import CustomDatasetError
from clsrl.datasets.custom import prepare_custom as prepare_entry
from clsrl.datasets.registry import datasets_of_kind, known_datasets
from clsrl.datasets.source_checks import source_problems
from clsrl.datasets.writer import ImageChecks

QUESTION = "What type of bird is in the photo?"
CLASSES = ("blue_jay", "robin", "wren")


def quiet(line):
    pass


def prepare_custom(name, spec, out_dir, *, log=quiet, skip_unreadable=False):
    """prepare_custom on the entry as the config gives it (the schema's defaults filled in)."""
    config = validate_config({"custom_datasets": {name: spec}})
    checks = ImageChecks(decode=True, skip_unreadable=skip_unreadable, threads=1)
    return prepare_entry(name, config["custom_datasets"][name], out_dir, checks, log)


def _save(path: Path, colour=(10, 200, 10)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (5, 5), colour).save(path)


def class_folders(root: Path, per_class: int = 10) -> Path:
    for label, name in enumerate(CLASSES):
        for index in range(per_class):
            _save(root / name / f"{index:02d}.png", (label * 80, index * 20, 0))
    return root


def test_class_folders_get_a_seeded_stratified_split(tmp_path):
    spec = {
        "question": QUESTION,
        "image_folder": str(class_folders(tmp_path / "birds")),
        "split_ratio": {"train": 0.6, "val": 0.2, "test": 0.2},
        "split_seed": 3,
    }
    first = prepare_custom("birds", spec, tmp_path / "a", log=quiet)
    again = prepare_custom("birds", spec, tmp_path / "b", log=quiet)
    other = prepare_custom("birds", {**spec, "split_seed": 4}, tmp_path / "c", log=quiet)
    assert first.classnames == list(CLASSES) and first.question == QUESTION
    assert first.split_counts() == {"train": 18, "val": 6, "test": 6}  # 6/2/2 per class
    assert first.items.equals(again.items)  # same seed, same split
    assert not first.items.equals(other.items)  # another seed, another split
    assert load_dataset(tmp_path / "a", check_images=True).num_classes == 3


def test_split_folders_and_renamed_classes(tmp_path):
    root = tmp_path / "birds"
    for split, count in (("train", 3), ("val", 1), ("test", 2)):
        class_folders(root / split, per_class=count)
    spec = {"question": QUESTION, "image_folder": str(root), "classnames": {"blue_jay": "blue jay"}}
    dataset = prepare_custom("birds", spec, tmp_path / "out", log=quiet)
    assert dataset.classnames == ["blue jay", "robin", "wren"]
    assert dataset.split_counts() == {"train": 9, "val": 3, "test": 6}


@pytest.mark.parametrize(
    ("classnames", "error", "fragment"),
    [
        ({"crow": "a crow"}, CustomDatasetError, "renames unknown class(es) ['crow']"),
        (["a", "b"], CustomDatasetError, "lists 2 names for 3 classes"),
        ({"robin": "wren"}, DatasetFormatError, "class 'wren' is duplicated"),
    ],
)
def test_bad_class_names_are_named(tmp_path, classnames, error, fragment):
    spec = {
        "question": QUESTION,
        "image_folder": str(class_folders(tmp_path / "birds", 2)),
        "classnames": classnames,
    }
    with pytest.raises(error, match=re.escape(fragment)):
        prepare_custom("birds", spec, tmp_path / "out", log=quiet)


def test_a_repeated_name_is_kept_only_where_the_user_lists_it(tmp_path):
    spec = {
        "question": QUESTION,
        "image_folder": str(class_folders(tmp_path / "birds", 4)),
        "classnames": {"robin": "wren"},  # two folders, one name
    }
    with pytest.raises(DatasetFormatError, match=re.escape("shared_classnames: [wren]")):
        prepare_custom("birds", spec, tmp_path / "out", log=quiet)
    # the key has no default: a spec without it stays as it was (its preparation does not rerun)
    validated = validate_config({"custom_datasets": {"b": spec}})["custom_datasets"]["b"]
    assert "shared_classnames" not in validated
    prepare_custom("birds", {**spec, "shared_classnames": ["wren"]}, tmp_path / "out")
    dataset = load_dataset(tmp_path / "out", check_images=True)
    assert dataset.classnames == ["blue_jay", "wren", "wren"]  # two classes, one answer
    assert sorted(dataset.items["label"].unique()) == [0, 1, 2]
    assert dataset.metadata["shared_classnames"] == ["wren"]
    # a name listed but not repeated changes nothing; another repeat is still refused
    (tmp_path / "out" / "classnames.txt").write_text("blue_jay\nblue_jay\nwren\n")
    with pytest.raises(DatasetFormatError, match="'blue_jay' is duplicated"):
        load_dataset(tmp_path / "out")


def test_a_corrupt_custom_image_is_skipped_when_allowed(tmp_path):
    root = class_folders(tmp_path / "birds", 4)
    (root / "robin" / "01.png").write_bytes(b"not a png")
    spec = {"question": QUESTION, "image_folder": str(root)}
    with pytest.raises(ValueError, match="robin/01.png"):
        prepare_custom("birds", spec, tmp_path / "out", log=quiet)
    prepare_custom("birds", spec, tmp_path / "out", skip_unreadable=True, log=quiet)
    assert json.loads((tmp_path / "out/dataset.json").read_text())["skipped_images"] == 1


def test_one_source_is_required(tmp_path):
    with pytest.raises(CustomDatasetError, match="exactly one of image_folder"):
        prepare_custom("x", {"question": QUESTION}, tmp_path / "out", log=quiet)


def _png(colour) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (6, 6), colour).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def hf_saved(tmp_path_factory) -> Path:
    """A DatasetDict (train, validation, test) with a ClassLabel, saved with save_to_disk."""
    import datasets

    features = datasets.Features(
        {"img": datasets.Image(), "y": datasets.ClassLabel(names=list(CLASSES))}
    )

    def split(count):
        rows = [(_png((label * 80, i * 30, 0)), label) for label in range(3) for i in range(count)]
        return datasets.Dataset.from_dict(
            {"img": [{"bytes": b, "path": None} for b, _ in rows], "y": [y for _, y in rows]},
            features=features,
        )

    saved = tmp_path_factory.mktemp("hf") / "birds"
    datasets.DatasetDict(
        {"train": split(4), "validation": split(1), "test": split(2)}
    ).save_to_disk(str(saved))
    return saved


def test_hf_dataset_with_splits_converts(tmp_path, hf_saved):
    spec = {
        "question": QUESTION,
        "hf_dataset": str(hf_saved),
        "image_column": "img",
        "label_column": "y",
        "classnames": {"wren": "house wren"},
    }
    dataset = prepare_custom("hf-birds", spec, tmp_path / "out", log=quiet)
    assert dataset.classnames == ["blue_jay", "robin", "house wren"]
    assert dataset.split_counts() == {"train": 12, "val": 3, "test": 6}
    loaded = load_dataset(tmp_path / "out", check_images=True)
    first = loaded.split("train").iloc[0]
    with Image.open(loaded.image_path(first["image"])) as image:
        assert image.size == (6, 6)


def test_hf_single_split_with_string_labels_uses_the_ratio(tmp_path):
    import datasets

    labels = [name for name in CLASSES for _ in range(5)]
    data = datasets.Dataset.from_dict(
        {"image": [{"bytes": _png((9, 9, 9)), "path": None}] * 15, "label": labels},
        features=datasets.Features({"image": datasets.Image(), "label": datasets.Value("string")}),
    )
    data.save_to_disk(str(tmp_path / "saved"))
    spec = {"question": QUESTION, "hf_dataset": str(tmp_path / "saved")}
    dataset = prepare_custom("strings", spec, tmp_path / "out", log=quiet)
    assert dataset.classnames == list(CLASSES)
    assert dataset.split_counts() == {"train": 12, "val": 0, "test": 3}  # 0.7/0.1/0.2 of 5 each


def test_hf_missing_column_is_named(tmp_path, hf_saved):
    spec = {"question": QUESTION, "hf_dataset": str(hf_saved)}  # default columns image/label
    with pytest.raises(CustomDatasetError, match=r"no column\(s\) \['image', 'label'\]"):
        prepare_custom("hf", spec, tmp_path / "out", log=quiet)


def test_custom_datasets_join_the_registry():
    custom = {"my-birds": {"question": QUESTION, "image_folder": "birds"}}
    assert known_datasets(custom)["my-birds"].kind == "custom"
    assert datasets_of_kind(["EuroSAT", "my-birds", "demo-shapes"], "custom", custom) == [
        "my-birds"
    ]
    with pytest.raises(ValueError, match="'EuroSAT' is a built-in benchmark dataset"):
        known_datasets({"EuroSAT": {"question": QUESTION}})


@pytest.mark.workflow
def test_workflow_prepares_a_custom_image_folder(tmp_path):
    from tests.conftest import run_snakemake

    config = {
        "datasets": ["demo-colours"],
        "custom_datasets": {
            "my-birds": {"question": QUESTION, "image_folder": str(class_folders(tmp_path / "b"))}
        },
    }
    configfile = tmp_path / "config.yaml"
    configfile.write_text(json.dumps(config))
    run_snakemake(tmp_path, "--cores", "1", "data/prepared/my-birds", configfile=configfile)
    dataset = load_dataset(tmp_path / "data/prepared/my-birds", check_images=True)
    assert dataset.question == QUESTION and dataset.classnames == list(CLASSES)
    assert (tmp_path / "logs/prepare_custom_dataset/my-birds.log").exists()


# --- bad datasets stop at preparation, naming the class and the fix ----------------------------


def split_folders(root: Path, counts: dict[str, dict[str, int]]) -> Path:
    """train/, val/, test/ folders with `counts[split][class]` images each."""
    for split, classes in counts.items():
        for name, count in classes.items():
            (root / split / name).mkdir(parents=True, exist_ok=True)
            for index in range(count):
                _save(root / split / name / f"{index:02d}.png")
    return root


@pytest.mark.parametrize(
    ("counts", "fragment"),
    [
        (  # a single class: nothing to choose between
            {"train": {"seven": 3}, "test": {"seven": 2}},
            "1 class ('seven'); a classifier needs at least 2 classes",
        ),
        (  # an empty class folder: a class no few-shot draw or test could ever see
            {"train": {"cat": 3, "dog": 0}, "test": {"cat": 2, "dog": 2}},
            "1 class(es) have no train images: 'dog'",
        ),
        (  # a class with test images only
            {"train": {"cat": 3}, "test": {"cat": 2, "dog": 2}},
            "1 class(es) have no train images: 'dog'",
        ),
        (  # a class missing from the test split
            {"train": {"cat": 3, "dog": 3}, "test": {"cat": 2}},
            "1 class(es) have no test images: 'dog'",
        ),
        (  # two names no reward or metric can tell apart
            {"train": {"Cat": 3, "cat": 3}, "test": {"Cat": 2, "cat": 2}},
            "classes 'Cat' and 'cat' differ only in case",
        ),
    ],
)
def test_a_dataset_no_classifier_could_learn_is_refused_naming_the_class(
    tmp_path, counts, fragment
):
    spec = {"question": QUESTION, "image_folder": str(split_folders(tmp_path / "src", counts))}
    with pytest.raises(DatasetFormatError, match=re.escape(fragment)):
        prepare_custom("my-set", spec, tmp_path / "out", log=quiet)


def test_the_prepared_dataset_keeps_its_images_when_the_source_goes(tmp_path):
    source = class_folders(tmp_path / "birds")
    spec = {"question": QUESTION, "image_folder": str(source)}
    prepare_custom("birds", spec, tmp_path / "out", log=quiet)
    assert not (tmp_path / "out/images").is_symlink()
    import shutil

    shutil.rmtree(source)  # moved or deleted by its owner
    assert load_dataset(tmp_path / "out", check_images=True).num_classes == 3


# --- source checks before any job ----------------------------------------------------------------


def test_source_problems_name_the_key_and_the_fix(tmp_path, hf_saved):
    from clsrl.datasets.source_checks import custom_source_problems

    class_folders(tmp_path / "birds")
    cases = {
        "missing folder": (
            {"image_folder": str(tmp_path / "bird")},
            "custom_datasets.x.image_folder': " + str(tmp_path / "bird") + " is not a folder "
            f"(did you mean {tmp_path / 'birds'}?)",
        ),
        "both sources": (
            {"image_folder": str(tmp_path / "birds"), "hf_dataset": str(hf_saved)},
            "give exactly one of image_folder",
        ),
        "neither": ({}, "found neither"),
        "mistyped hf path": (
            {"hf_dataset": str(hf_saved) + "s"},
            f"custom_datasets.x.hf_dataset': {hf_saved}s does not exist (did you mean {hf_saved}?)",
        ),
        "wrong column": (
            {"hf_dataset": str(hf_saved), "image_column": "imgs", "label_column": "y"},
            "custom_datasets.x.image_column': split 'train' of "
            f"{hf_saved} has no column 'imgs' (did you mean 'img'?)",
        ),
        "not a saved dataset": ({"hf_dataset": str(tmp_path / "birds")}, "not a dataset saved"),
    }
    for case, (spec, fragment) in cases.items():
        problems = custom_source_problems("x", {"question": QUESTION, **spec})
        assert any(fragment in p for p in problems), (case, problems)
    good = {"question": QUESTION, "hf_dataset": str(hf_saved), "image_column": "img"}
    assert custom_source_problems("x", {**good, "label_column": "y"}) == []
    assert custom_source_problems("x", {"question": QUESTION, "hf_dataset": "org/name"}) == []


def test_the_source_state_follows_files_sizes_and_times(tmp_path, hf_saved):
    import os

    from clsrl.datasets.source_checks import custom_source_state, source_state

    source = class_folders(tmp_path / "birds", 2)
    spec = {"image_folder": str(source)}

    def state():
        source_state.cache_clear()
        return custom_source_state(spec)

    first = state()
    assert state() == first  # nothing changed
    _save(source / "robin" / "new.png")  # an image added
    added = state()
    assert added != first
    os.utime(source / "robin" / "new.png", ns=(1, 1))  # an image edited (its time changed)
    assert state() != added
    assert custom_source_state({"hf_dataset": str(hf_saved)}) == source_state(str(hf_saved))
    assert custom_source_state({"hf_dataset": "org/name"}) == "hub:org/name"


# ---------------------------------------------------------------------------------------------
# Data mistakes stopped before any job (issue 27): the listing is known when the run is planned


def _layout(root: Path, files: list[str]) -> Path:
    for path in files:
        if path.endswith("/"):
            (root / path).mkdir(parents=True, exist_ok=True)
        else:
            _save(root / path)
    return root


def _images(prefix: str, count: int) -> list[str]:
    return [f"{prefix}/{index:02d}.png" for index in range(count)]


GOOD_SPLITS = [*_images("train/a", 3), *_images("test/a", 1), *_images("train/b", 3)]
GOOD_SPLITS += _images("test/b", 1)


@pytest.mark.parametrize(
    ("files", "spec", "fragment"),
    [
        ([*GOOD_SPLITS, "train/c/"], {}, "no train images: 'c'"),  # an empty class folder
        ([*GOOD_SPLITS, *_images("train/A", 3), *_images("test/A", 1)], {}, "'A' and 'a' differ"),
        (
            [*_images("train/a", 3), *_images("test/a", 1), "train/b/0.png", "test/b/0.png"],
            {},
            "than training.shots (2): 'b' (1)",
        ),  # fmt: skip
        ([*GOOD_SPLITS, *_images("train/a/more", 2)], {}, "in a sub-folder of the class folder a/"),
        ([*GOOD_SPLITS, "train/loose.png"], {}, "1 image(s) outside any class folder: loose.png"),
        ([*GOOD_SPLITS, "loose.png"], {}, "outside any class folder: loose.png"),
        (
            [*_images("training/a", 3), *_images("validation/a", 1), *_images("test/a", 1)],
            {},
            "rename",
        ),  # fmt: skip
        (GOOD_SPLITS, {"classnames": {"a": "b"}}, "'b' is duplicated"),
        ([*GOOD_SPLITS[:4], *_images("train/b", 3)], {}, "no test images: 'b'"),
        (
            [*GOOD_SPLITS, *_images("train/x\\y", 3), *_images("test/x\\y", 1)],
            {},
            "a backslash in a class folder's name",
        ),  # fmt: skip
    ],
    ids=[
        "empty-class",
        "case-clash",
        "fewer-than-shots",
        "nested-images",
        "loose-in-split",
        "loose-at-top",
        "split-names",
        "renamed-to-one",
        "no-test-images",
        "backslash",
    ],  # fmt: skip
)
def test_a_data_mistake_is_named_when_the_run_is_planned(tmp_path, files, spec, fragment):
    source = _layout(tmp_path / "src", files)
    mine = {"question": QUESTION, "image_folder": str(source), **spec}
    config = {"datasets": ["mine"], "training": {"shots": [2]}, "custom_datasets": {"mine": mine}}
    problems = source_problems(validate_config(config))
    assert len(problems) == 1 and fragment in problems[0], problems
    assert problems[0].startswith("custom dataset 'mine': ")


def test_a_listing_that_is_right_passes_and_allow_fewer_shots_lets_few_images_through(tmp_path):
    source = _layout(tmp_path / "src", GOOD_SPLITS)
    config = {
        "datasets": ["mine"],
        "training": {"shots": [4]},
        "custom_datasets": {"mine": {"question": QUESTION, "image_folder": str(source)}},
    }
    assert "fewer training images" in source_problems(validate_config(config))[0]
    config["training"]["allow_fewer_shots"] = True
    assert source_problems(validate_config(config)) == []
    config["training"] = {"shots": [2]}
    assert source_problems(validate_config(config)) == []
    # a study that trains nothing needs no shots
    config.update(training={"shots": [4]}, methods=["zero-shot"])
    assert source_problems(validate_config(config)) == []


def _hf(tmp_path, splits: dict[str, dict], features=None) -> str:
    """A DatasetDict saved with save_to_disk; `splits`: name -> columns."""
    import datasets

    built = {
        name: datasets.Dataset.from_dict(columns, features=features)
        for name, columns in splits.items()
    }
    folder = tmp_path / "hf"
    datasets.DatasetDict(built).save_to_disk(str(folder))
    return str(folder)


def _images_column(count: int) -> list[dict]:
    return [{"bytes": _png((i * 40, 0, 0)), "path": None} for i in range(count)]


def _classlabel_features():
    import datasets

    return datasets.Features({"img": datasets.Image(), "y": datasets.ClassLabel(names=["a", "b"])})


def _string_features():
    import datasets

    return datasets.Features({"img": datasets.Image(), "y": datasets.Value("string")})


@pytest.mark.parametrize(
    ("case", "spec", "fragment"),
    [
        ("swapped", {"image_column": "y", "label_column": "img"}, "swap custom_datasets.h"),
        ("none-labels", {}, "1 empty (None) of its 4 labels in column 'y'"),
        ("unlabelled-test", {}, "split 'test': 4 unlabelled (-1) of its 4 labels"),
        ("no-test-split", {}, "has splits ['train', 'validation'] but no test split"),
        (
            "test-share-0",
            {"split_ratio": {"train": 0.9, "val": 0.1, "test": 0.0}},
            "split_ratio.test' is 0.0; every class needs test images",
        ),  # fmt: skip
    ],
)
def test_hf_dataset_mistakes_are_named_not_crashes(tmp_path, case, spec, fragment):
    images = _images_column(4)
    if case == "swapped":
        source = _hf(tmp_path, {"train": {"img": images, "y": list("abab")}}, _string_features())
    elif case == "none-labels":
        labels = ["a", None, "a", "b"]
        source = _hf(tmp_path, {"train": {"img": images, "y": labels}}, _string_features())
    elif case == "unlabelled-test":
        columns = {"img": images, "y": [0, 1, 0, 1]}
        test = {"img": images, "y": [-1, -1, -1, -1]}
        source = _hf(tmp_path, {"train": columns, "test": test}, _classlabel_features())
    elif case == "no-test-split":
        columns = {"img": images, "y": [0, 1, 0, 1]}
        splits = {"train": columns, "validation": columns}
        source = _hf(tmp_path, splits, _classlabel_features())
    else:
        source = _hf(tmp_path, {"train": {"img": images, "y": list("abab")}}, _string_features())
    defaults = {"image_column": "img", "label_column": "y"}
    with pytest.raises(CustomDatasetError) as error:
        prepare_custom(
            "h", {"question": QUESTION, "hf_dataset": source, **defaults, **spec}, tmp_path / "out"
        )
    assert fragment in str(error.value)


def test_a_file_given_as_the_image_folder_is_called_a_file(tmp_path):
    (tmp_path / "birds.zip").write_bytes(b"zip")
    spec = {"question": QUESTION, "image_folder": str(tmp_path / "birds.zip")}
    config = validate_config({"datasets": ["b"], "custom_datasets": {"b": spec}})
    [problem] = source_problems(config)
    assert f"{tmp_path / 'birds.zip'} is not a folder (it is a file)" in problem


def test_map_cache_files_beside_a_saved_dataset_change_nothing(tmp_path):
    import datasets

    from clsrl.datasets.source_checks import source_state

    folder = tmp_path / "hf"
    labels = {"img": _images_column(4), "y": list("abab")}
    datasets.DatasetDict(
        {"train": datasets.Dataset.from_dict(labels, features=_string_features())}
    ).save_to_disk(str(folder))
    before = source_state(str(folder))
    loaded = datasets.load_from_disk(str(folder))
    loaded["train"].map(lambda row: {"y": row["y"].upper()})  # writes cache-*.arrow there
    assert list(folder.rglob("cache-*.arrow")), "the map wrote no cache file: test is moot"
    source_state.cache_clear()
    assert source_state(str(folder)) == before


def test_a_saved_dataset_of_image_paths_is_tracked_by_its_images(tmp_path):
    import os

    import datasets

    from clsrl.datasets.source_checks import custom_source_state, source_state

    images = [tmp_path / f"{index}.png" for index in range(4)]
    for index, image in enumerate(images):
        _save(image, (index * 50, 0, 0))
    columns = {"img": [str(image) for image in images], "y": list("abab")}
    datasets.Dataset.from_dict(columns).save_to_disk(str(tmp_path / "hf"))
    spec = {"hf_dataset": str(tmp_path / "hf"), "image_column": "img"}

    def state():
        source_state.cache_clear()
        return custom_source_state(spec)

    before = state()
    assert state() == before
    os.utime(images[2], ns=(1, 1))  # an image the dataset names was edited
    assert state() != before
