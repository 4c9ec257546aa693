"""Every bad input a new user makes, as one table: 32 config mistakes (TRL values of the wrong type
among them) and 50 data mistakes made with real data (the UCI digits, tests/digits.py) through
both custom routes. Each is stopped while the study is planned (`clsrl.workflow.study.plan_study`,
what rules/common.smk runs before Snakemake builds a job) with a message naming the key, file, class
or column and the fix, or accepted by a rule the README documents, with its outcome checked. A few
are also run through the real `snakemake` command: the run stops before any job and its output
ends with the message."""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from clsrl.config import ConfigError
from clsrl.workflow.study import plan_study
from tests import digits
from tests.conftest import ROOT, run_snakemake

QUESTION = "Which digit is in the image?"
SOURCES = ("image_folder", "hf_dataset")
DEMO = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Mistake:
    """One bad input: `make(config, folder)` writes it (data in `folder`, changes to `config`).
    Refused: planning stops with every one of `words` in its message. Accepted (`accepted` names
    the documented rule): planning passes and `outcome(config, warnings, study)` holds."""

    what: str
    make: Callable[[dict, Path], None]
    words: tuple[str, ...] = ()
    accepted: str = ""
    outcome: Callable | None = None


def setting(path: str, value) -> Callable[[dict, Path], None]:
    """A change of one dotted config key, e.g. setting("training.trl.grpo.beta", "0.04")."""

    def make(config: dict, folder: Path) -> None:
        *parents, last = path.split(".")
        node = config
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value

    return make


def both(*makes: Callable[[dict, Path], None]) -> Callable[[dict, Path], None]:
    def make(config: dict, folder: Path) -> None:
        for one in makes:
            one(config, folder)

    return make


# --- config mistakes on the embedded demo ------------------------------------------------------

CONFIG_MISTAKES = [
    Mistake("top-level key typo", setting("dataset", ["demo-colours"]), ("'dataset'", "datasets")),
    Mistake("dataset name typo", setting("datasets", ["EuroSat"]), ("datasets[0]", "EuroSAT")),
    Mistake("method typo", setting("methods", ["cls_rl"]), ("methods[0]", "'cls-rl'")),
    Mistake("setting typo", setting("settings", ["few-shot"]), ("settings", "few-shot")),
    Mistake("zero shots", setting("training.shots", [0]), ("training.shots", "0")),
    Mistake("shots not a list", setting("training.shots", "4"), ("training.shots", "'4'")),
    Mistake("target typo", setting("evaluation.targets", ["demo-color"]), ("targets[0]",)),
    Mistake("protocol typo", setting("protocol", "papr"), ("protocol", "paper")),
    Mistake("unknown epochs key", setting("training.epochs.EuroSat", 5), ("training.epochs",)),
    Mistake("built-in model typo", setting("base_model", "builtin:toy-qwen2"), ("base_model",)),
    Mistake("min above max choices", setting("options.min_choices", 200), ("min_choices",)),
    Mistake("ratio above 1", setting("options.fewshot_ratio", 1.5), ("options.fewshot_ratio",)),
    Mistake("negative resize", setting("images.resize", -1), ("images.resize", "-1")),
    Mistake("precision typo", setting("evaluation.precision", "bf32"), ("evaluation.precision",)),
    Mistake("zero GPUs", setting("training.gpus", 0), ("training.gpus",)),
    Mistake("lora flag as a word", setting("training.lora.enabled", "yes"), ("lora.enabled",)),
    Mistake("negative copy limit", setting("data.copy_images_up_to_gb", -1), ("copy_images",)),
    Mistake(
        "TRL key typo",
        setting("training.trl.grpo.learning_rat", 1e-6),
        ("training.trl.grpo", "learning_rat", "learning_rate"),
    ),
    Mistake(
        "TRL number as a YAML string",
        setting("training.trl.grpo.learning_rate", "1e-6"),
        accepted="a number written as a YAML string is read as that number",
        outcome=lambda config, warnings, study: (
            config["training"]["trl"]["grpo"]["learning_rate"] == 1e-6
        ),
    ),
    Mistake(
        "TRL string number in a variant",
        both(
            setting("method_variants.nt-slow", {"extends": "no-thinking", "trl": {"beta": "0.04"}}),
            setting("methods", ["zero-shot", "nt-slow"]),
        ),
        accepted="a number written as a YAML string is read as that number",
        outcome=lambda config, warnings, study: (
            config["method_variants"]["nt-slow"]["trl"]["beta"] == 0.04
        ),
    ),
    Mistake(
        "TRL rate as a list",
        setting("training.trl.sft.learning_rate", [1]),
        ("training.trl.sft.learning_rate", "[1]", "1.0e-6"),
    ),
    Mistake(
        "TRL count as a word",
        setting("training.trl.grpo.num_generations", "four"),
        ("training.trl.grpo.num_generations", "'four'", "int"),
    ),
    Mistake(
        "TRL count below 2",
        setting("training.trl.grpo.num_generations", 0),
        ("training.trl.grpo.num_generations", "at least 2"),
    ),
    Mistake(
        "generations do not divide the step",
        setting("training.trl.grpo.num_generations", 3),
        ("num_generations 3", "grpo_completions_per_step 16", "multiple of 3"),
    ),
    Mistake(
        "loss type typo",
        setting("training.trl.grpo.loss_type", "drgrpo"),
        ("training.trl.grpo.loss_type", "'dr_grpo'"),
    ),
    Mistake(
        "scheduler typo",
        setting("training.trl.grpo.lr_scheduler_type", "cosin"),
        ("lr_scheduler_type", "'cosine'"),
    ),
    Mistake(
        "negative temperature",
        setting("training.trl.grpo.temperature", -1),
        ("training.trl.grpo.temperature", "above 0"),
    ),
    Mistake(
        "fractional length",
        setting("training.trl.grpo.max_completion_length", 6.5),
        ("max_completion_length", "6.5", "a whole number, e.g. 6"),
    ),
    Mistake(
        "tracker not installed",
        setting("training.report_to", ["mlflow"]),
        ("training.report_to", "pip install mlflow"),
    ),
    Mistake(
        "trackers in the TRL settings",
        setting("training.trl.grpo.report_to", ["tensorboard"]),
        ("training.trl.grpo.report_to", "training.report_to"),
    ),
    Mistake(
        "variant of an unknown method",
        both(
            setting("method_variants.mine", {"extends": "cls_rl"}),
            setting("methods", ["zero-shot", "mine"]),
        ),
        ("mine", "cls_rl", "cls-rl"),
    ),
    Mistake(
        "TRL settings on zero-shot",
        both(
            setting("method_variants.zs", {"extends": "zero-shot", "trl": {"beta": 0.1}}),
            setting("methods", ["zs"]),
        ),
        ("method_variants.zs.trl", "trains nothing"),
    ),
]


@pytest.mark.parametrize("mistake", CONFIG_MISTAKES, ids=lambda m: m.what)
def test_a_config_mistake_is_stopped_while_planning_or_accepted_by_rule(mistake, tmp_path):
    config = copy.deepcopy(DEMO)
    mistake.make(config, tmp_path)
    check(mistake, config)


# --- data mistakes with the UCI digits ---------------------------------------------------------


def digits_study(**spec) -> Callable[[dict, Path], None]:
    """The study of a custom dataset `digits` (its source and other keys: `spec`; a relative
    path is below the scratch folder) trained with No-Thinking, 4 shots."""

    def make(config: dict, folder: Path) -> None:
        source = {  # a name without / is below the scratch folder; others as given
            key: str(folder / value) if key in SOURCES and "/" not in value else value
            for key, value in spec.items()
        }
        config.update(
            datasets=["digits"],
            methods=["zero-shot", "no-thinking"],
            settings=["fewshot"],
            base_model="builtin:tiny-qwen2-vl",
            custom_datasets={"digits": {"question": QUESTION, **source}},
        )
        config.setdefault("training", {})["shots"] = [4]

    return make


def folder_of(layout: Callable[[Path], object], *edits: Callable[[Path], object], **spec):
    """A digits study whose image folder (`folder/digits`) `layout` writes and `edits` change."""

    def make(config: dict, folder: Path) -> None:
        root = folder / "digits"
        layout(root)
        for edit in edits:
            edit(root)
        digits_study(image_folder="digits", **spec)(config, folder)

    return make


def hf_of(save: Callable[[Path], object], **spec):
    """A digits study of the HF dataset `save` writes to `folder/hf`."""

    def make(config: dict, folder: Path) -> None:
        save(folder / "hf")
        digits_study(hf_dataset="hf", **spec)(config, folder)

    return make


def classes(root: Path) -> Path:
    return digits.class_folders(root)


def splits(root: Path) -> Path:
    return digits.split_folders(root)


def empty(name: str):
    def edit(root: Path) -> None:
        for image in (root / name).iterdir():
            image.unlink()

    return edit


def keep(name: str, count: int):
    def edit(root: Path) -> None:
        for image in sorted((root / name).iterdir())[count:]:
            image.unlink()

    return edit


def move(source: str, target: str, count: int | None = None):
    """Move the first `count` (all) files of folder `source` into `target` (both below root)."""

    def edit(root: Path) -> None:
        (root / target).mkdir(parents=True, exist_ok=True)
        for image in sorted((root / source).iterdir())[:count]:
            image.rename(root / target / image.name)

    return edit


def write(relative: str, content: bytes = b"x"):
    def edit(root: Path) -> None:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(content)

    return edit


def rename(source: str, target: str):
    return lambda root: (root / source).rename(root / target)


def remove(relative: str):
    return lambda root: shutil.rmtree(root / relative)


def hf_dataset(labels=None, splits=(), features=None, image_paths_in: Path | None = None):
    """A saved HF dataset of 12 digits per class: `labels` (a function of the digit names)
    replaces the label column, `features` its features; `image_paths_in` writes the images
    there and stores their paths as strings."""
    import datasets

    def save(root: Path) -> None:
        records = digits.hf_records()
        if labels is not None:
            records["label"] = labels(records["label"])
        if image_paths_in is not None:
            image_paths_in.mkdir(parents=True, exist_ok=True)
            paths = []
            for index, image in enumerate(records["image"]):
                image.save(image_paths_in / f"{index:04d}.png")
                paths.append(str(image_paths_in / f"{index:04d}.png"))
            records["image"] = paths
        dataset = datasets.Dataset.from_dict(records, features=features)
        if splits:
            dataset = datasets.DatasetDict(
                {
                    split: dataset.shard(len(splits), i, contiguous=False)
                    for i, split in enumerate(splits)
                }
            )
        dataset.save_to_disk(str(root))

    return save


def class_label_features():
    import datasets

    return datasets.Features(
        {"image": datasets.Image(), "label": datasets.ClassLabel(names=digits.NAMES)}
    )


def image_features(label):
    import datasets

    return datasets.Features({"image": datasets.Image(), "label": label})


def minus_one_in_test(names):
    """Labels of a dataset saved as train/test shards: the test shard (odd rows) unlabelled."""
    return [digits.NAMES.index(n) if i % 2 == 0 else -1 for i, n in enumerate(names)]


def named(name: str):
    """The digits dataset under another name."""

    def make(config: dict, folder: Path) -> None:
        config.update(datasets=[name], custom_datasets={name: config["custom_datasets"]["digits"]})

    return make


def config_file(subfolder: str):
    """Write the digits study's config as `folder/<subfolder>/my.yaml`, the run's --configfile."""

    def make(config: dict, folder: Path) -> None:
        (folder / subfolder).mkdir()
        (folder / subfolder / "my.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")

    return make


def paths_of_study(config: dict) -> dict:
    return config["custom_datasets"]["digits"]


def outcome_listing(expected_classes: int, expected_images: int | None = None):
    """The listing a documented rule gives: its class count (and image count)."""

    def holds(config, warnings, study) -> bool:
        from clsrl.datasets.custom import list_hf_dataset, read_image_folder

        spec = paths_of_study(config)
        if spec.get("image_folder"):
            listing = read_image_folder("digits", spec, Path("unused"), log=lambda line: None)
        else:
            listing = list_hf_dataset("digits", spec)[0]
        return len(listing.classnames) == expected_classes and (
            expected_images is None or len(listing.rows) == expected_images
        )

    return holds


DATA_MISTAKES = [
    # -- image folders: what is missing or empty
    Mistake("folder missing", digits_study(image_folder="nowhere"), ("image_folder", "nowhere")),
    Mistake(
        "folder name typo",
        both(folder_of(classes), digits_study(image_folder="digit")),
        ("image_folder", "did you mean", "digits"),
    ),
    Mistake(
        "folder is a file",
        both(
            lambda c, f: (f / "digits.zip").write_bytes(b"PK"),
            digits_study(image_folder="digits.zip"),
        ),
        ("image_folder", "it is a file"),
    ),
    Mistake("folder empty", folder_of(lambda root: root.mkdir()), ("digits", "no class folders")),
    Mistake(
        "one class only",
        folder_of(classes, *[remove(name) for name in digits.NAMES[1:]]),
        ("1 class", "'zero'", "at least 2 classes"),
    ),
    Mistake("empty class folder", folder_of(classes, empty("seven")), ("'seven'", "training")),
    Mistake(
        "class with fewer images than the shots",
        folder_of(classes, keep("three", 3)),
        ("'three' (2)", "training.shots (4)", "allow_fewer_shots"),
    ),
    Mistake(
        "few images, fewer shots allowed",
        both(folder_of(classes, keep("three", 3)), setting("training.allow_fewer_shots", True)),
        accepted="training.allow_fewer_shots takes all images of a short class",
        outcome=outcome_listing(10),
    ),
    Mistake(
        "few images in a class only evaluated on",
        both(folder_of(classes, keep("three", 3)), setting("methods", ["zero-shot"])),
        accepted="the shots are checked only for a dataset the study trains on",
        outcome=outcome_listing(10),
    ),
    Mistake(
        "few images in a new class of base-to-new",
        both(folder_of(classes, keep("two", 3)), setting("settings", ["base2new"])),
        accepted="base-to-new trains the base half (eight, five, four, nine, one) only",
        outcome=outcome_listing(10),
    ),
    Mistake(
        "Cat and cat",
        folder_of(classes, move("zero", "Zero", 6)),
        ("'Zero'", "'zero'", "differ only in case"),
    ),
    # -- image folders: images where no class is
    Mistake(
        "images in a sub-folder of a class",
        folder_of(classes, move("zero", "zero/more", 6)),
        ("zero/more", "6 image(s)", "move them up"),
    ),
    Mistake(
        "loose images at the top",
        folder_of(classes, move("one", ".", 2)),
        ("2 image(s) outside any class folder", "0012.png"),
    ),
    Mistake(
        "loose images in a split folder",
        folder_of(splits, move("train/one", "train", 1)),
        ("train", "1 image(s) outside any class folder"),
    ),
    Mistake(
        "images in a sub-folder of a split's class",
        folder_of(splits, move("train/one", "train/one/extra", 2)),
        ("train/one/extra", "2 image(s)", "move them up"),
    ),
    Mistake(
        "a backslash in a class folder",
        folder_of(classes, rename("six", "x\\y")),
        ("x\\y", "backslash", "rename the folder"),
    ),
    Mistake(
        "files that are not images",
        folder_of(classes, write("zero/notes.txt"), write("Thumbs.db"), write("one/.DS_Store")),
        accepted="files whose suffix is not an image's are not images of any class",
        outcome=outcome_listing(10),
    ),
    Mistake(
        "hidden folders and files",
        folder_of(
            classes,
            write(".ipynb_checkpoints/zero.png"),
            write("two/.thumbs/a.png"),
            write("two/._0024.png"),  # macOS's AppleDouble file: no image
        ),
        accepted="hidden folders and files (.name) are none of the data",
        outcome=outcome_listing(10, 120),
    ),
    Mistake(
        "upper-case suffixes",
        folder_of(
            classes, lambda root: [p.rename(p.with_suffix(".PNG")) for p in root.rglob("*.png")]
        ),
        accepted="an image suffix is matched ignoring case",
        outcome=outcome_listing(10, 120),
    ),
    # -- image folders: split folders
    Mistake(
        "split folder named validation",
        folder_of(splits, rename("val", "validation")),
        ("validation/", "rename", "to val/"),
    ),
    Mistake(
        "split folders named training and testing",
        folder_of(splits, rename("train", "training"), rename("test", "testing")),
        ("training/", "testing/", "to train/", "to test/"),
    ),
    Mistake(
        "no test folder",
        folder_of(splits, remove("test")),
        ("train/, val/ but no test/", "split_ratio"),
    ),
    Mistake(
        "a class only in test",
        folder_of(splits, move("test/five", "test/fifteen")),
        ("'fifteen'", "training"),
    ),
    Mistake(
        "a class missing from test",
        folder_of(splits, remove("test/four")),
        ("'four'", "test"),
    ),
    Mistake(
        "split folders without val",
        folder_of(splits, remove("val")),
        accepted="a split layout may leave out val/ (few-shot draws from train)",
        outcome=outcome_listing(10, 90),
    ),
    # -- image folders: config of the dataset
    Mistake(
        "relative folder",
        both(folder_of(classes), digits_study(image_folder="../digits"), config_file("run")),
        accepted="a relative folder is read from the config file's folder, said in a warning",
        outcome=lambda config, warnings, study: (
            Path(paths_of_study(config)["image_folder"]).parts[-1] == "digits"
            and Path(paths_of_study(config)["image_folder"]).is_dir()
            and any("'../digits' is relative" in warning for warning in warnings)
        ),
    ),
    Mistake(
        "classnames list too short",
        folder_of(classes, classnames=["0", "1"]),
        ("classnames", "2 names for 10 classes"),
    ),
    Mistake(
        "classnames renames an unknown class",
        folder_of(classes, classnames={"ten": "10"}),
        ("classnames", "['ten']", "'eight'"),
    ),
    Mistake(
        "classnames give two classes one name",
        folder_of(classes, classnames={"one": "1", "two": "1"}),
        ("'1'", "duplicated", "shared_classnames"),
    ),
    Mistake(
        "shared classname declared",
        folder_of(classes, classnames={"one": "1", "two": "1"}, shared_classnames=["1"]),
        accepted="shared_classnames lets two classes share a name",
        outcome=outcome_listing(10),
    ),
    Mistake(
        "split ratio not adding up",
        folder_of(classes, split_ratio={"train": 0.7, "val": 0.2, "test": 0.2}),
        ("split_ratio", "add up to 1"),
    ),
    Mistake(
        "no test share",
        folder_of(classes, split_ratio={"train": 0.9, "val": 0.1, "test": 0}),
        ("split_ratio.test", "above 0"),
    ),
    Mistake("no question", digits_study(image_folder="digits", question=""), ("question",)),
    Mistake(
        "both sources",
        digits_study(image_folder="digits", hf_dataset="hf"),
        ("custom_datasets.digits", "exactly one", "both"),
    ),
    Mistake(
        "a name with a dot",
        both(folder_of(classes), named("my.digits")),
        ("my.digits", "'.'", "rename"),
    ),
    Mistake("a name of a benchmark", both(folder_of(classes), named("EuroSAT")), ("EuroSAT",)),
    Mistake(
        "defined but not in datasets",
        both(folder_of(classes), setting("datasets", ["demo-colours"])),
        accepted="a custom dataset the study does not name is left out, with a warning",
        outcome=lambda config, warnings, study: study.datasets == ["demo-colours"],
    ),
    Mistake(
        "in datasets but not defined",
        both(digits_study(image_folder="digits"), setting("datasets", ["digit"])),
        ("datasets[0]", "'digit'", "digits"),
    ),
    # -- HF datasets
    Mistake("HF folder missing", digits_study(hf_dataset="hf"), ("hf_dataset", "does not exist")),
    Mistake(
        "HF folder not saved with save_to_disk",
        both(folder_of(classes), digits_study(hf_dataset="digits")),
        ("hf_dataset", "save_to_disk"),
    ),
    Mistake(
        "HF label column typo",
        hf_of(hf_dataset(features=class_label_features()), label_column="labels"),
        ("label_column", "'labels'", "did you mean 'label'"),
    ),
    Mistake(
        "HF image column typo",
        hf_of(hf_dataset(features=class_label_features()), image_column="img"),
        ("image_column", "'img'"),
    ),
    Mistake(
        "HF columns swapped",
        hf_of(
            hf_dataset(features=class_label_features()), image_column="label", label_column="image"
        ),
        ("label column 'image' holds images", "swap"),
    ),
    Mistake(
        "HF string labels with None",
        hf_of(
            hf_dataset(labels=lambda names: [None if i == 5 else n for i, n in enumerate(names)])
        ),
        ("1 empty (None)", "column 'label'", "Dataset.filter"),
    ),
    Mistake(
        "HF test split unlabelled (-1)",
        hf_of(
            hf_dataset(
                labels=minus_one_in_test,
                splits=("train", "test"),
                features=class_label_features(),
            )
        ),
        ("split 'test'", "unlabelled (-1)"),
    ),
    Mistake(
        "HF splits without test",
        hf_of(hf_dataset(splits=("train", "validation"), features=class_label_features())),
        ("no test split", "'train', 'validation'"),
    ),
    Mistake(
        "HF split of another name",
        hf_of(hf_dataset(splits=("train", "dev", "test"), features=class_label_features())),
        ("['dev']", "validation"),
    ),
    Mistake(
        "HF integer labels without names",
        hf_of(hf_dataset(labels=lambda names: [digits.NAMES.index(n) for n in names])),
        ("classnames", "integers without class names"),
    ),
    Mistake(
        "HF integer labels beyond the names",
        hf_of(
            hf_dataset(labels=lambda names: [digits.NAMES.index(n) for n in names]),
            classnames=digits.NAMES[:9],
        ),
        ("unknown class label(s) [9]", "9 classes"),
    ),
    Mistake(
        "HF integer labels with their names",
        hf_of(
            hf_dataset(labels=lambda names: [digits.NAMES.index(n) for n in names]),
            classnames=digits.NAMES,
        ),
        accepted="integer labels take their names from classnames, in label order",
        outcome=outcome_listing(10),
    ),
    Mistake(
        "HF string labels differing in case",
        hf_of(
            hf_dataset(
                labels=lambda names: [
                    n.title() if i % 12 < 6 and n == "one" else n for i, n in enumerate(names)
                ]
            )
        ),
        ("'One'", "'one'", "differ only in case"),
    ),
    Mistake(
        "HF class with fewer images than the shots",
        hf_of(
            hf_dataset(
                labels=lambda names: [
                    "eleven" if n == "one" and i % 12 < 4 else n for i, n in enumerate(names)
                ]
            )
        ),
        ("'eleven' (3)", "training.shots (4)"),
    ),
    Mistake(
        "HF image paths as strings",
        lambda c, f: hf_of(hf_dataset(image_paths_in=f / "pngs"))(c, f),
        accepted="an image column of file paths is read, and its files tracked",
        outcome=outcome_listing(10),
    ),
    Mistake(
        "HF map() cache files beside the dataset",
        both(
            hf_of(hf_dataset(features=class_label_features())),
            lambda c, f: (f / "hf" / "cache-0123abcd.arrow").write_bytes(b"x"),
        ),
        accepted="cache-*.arrow files are no part of the data",
        outcome=outcome_listing(10),
    ),
    Mistake(
        "hub name",
        digits_study(hf_dataset="ylecun/mnist"),
        accepted="a hub name is checked when its preparation job reaches the hub",
        outcome=lambda config, warnings, study: study.datasets == ["digits"],
    ),
]


@pytest.mark.parametrize("mistake", DATA_MISTAKES, ids=lambda m: m.what)
def test_a_data_mistake_is_stopped_while_planning_or_accepted_by_rule(mistake, tmp_path):
    config = {}
    mistake.make(config, tmp_path)
    written = tmp_path / "run" / "my.yaml"  # a config file the mistake wrote
    check(mistake, config, config_files=[str(written)] if written.exists() else [])


def check(mistake: Mistake, config: dict, config_files=()) -> None:
    if mistake.accepted:
        study, warnings = plan_study(config, config_files)
        assert mistake.outcome(config, warnings, study), mistake.accepted
        return
    with pytest.raises(ConfigError) as raised:
        plan_study(config, config_files)
    message = str(raised.value)
    missing = [word for word in mistake.words if word not in message]
    assert not missing, f"{missing} not in:\n{message}"


def test_the_tables_hold_the_issues_counts():
    assert len(CONFIG_MISTAKES) >= 25 and len(DATA_MISTAKES) >= 50
    whats = [m.what for m in CONFIG_MISTAKES + DATA_MISTAKES]
    assert len(set(whats)) == len(whats)


# --- through the real snakemake command ---------------------------------------------------------

END_TO_END = {  # mistake -> the words of the last line of the run's output
    "TRL count as a word": "'training.trl.grpo.num_generations' is 'four'",
    "class with fewer images than the shots": "'three' (2)",
    "HF columns swapped": "swap custom_datasets.digits.image_column",
}


@pytest.mark.parametrize("what", END_TO_END)
def test_snakemake_stops_before_any_job_and_ends_with_the_message(what, tmp_path):
    mistake = next(m for m in CONFIG_MISTAKES + DATA_MISTAKES if m.what == what)
    config = copy.deepcopy(DEMO) if mistake in CONFIG_MISTAKES else {}
    mistake.make(config, tmp_path)
    (tmp_path / "run").mkdir()
    configfile = tmp_path / "run" / "my.yaml"
    configfile.write_text(yaml.safe_dump(config), encoding="utf-8")
    done = run_snakemake(tmp_path / "run", "-n", configfile=configfile, check=False)
    assert done.returncode == 1
    assert "Job stats" not in done.stdout and "rule " not in done.stdout  # no job planned
    last = done.stderr.strip().splitlines()[-1]
    assert END_TO_END[what] in last, done.stderr


def test_a_yaml_number_string_and_a_relative_folder_plan_with_the_resolved_path(tmp_path):
    digits.class_folders(tmp_path / "digits")
    (tmp_path / "run").mkdir()
    configfile = tmp_path / "run" / "my.yaml"
    configfile.write_text(
        "datasets: [digits]\nmethods: [zero-shot, no-thinking]\nsettings: [fewshot]\n"
        "base_model: builtin:tiny-qwen2-vl\ntraining: {shots: [4], trl: {grpo: "
        "{learning_rate: 1e-6}}}\ncustom_datasets:\n  digits:\n"
        '    question: "Which digit is in the image?"\n    image_folder: ../digits\n',
        encoding="utf-8",
    )
    done = run_snakemake(tmp_path, "-n", configfile=configfile)  # run from another folder
    assert "GRPO lr 1e-06" in done.stderr  # YAML 1.1 reads 1e-6 as a string; the plan a number
    assert f"resolved against {tmp_path / 'run'}" in done.stderr
    assert str(tmp_path / "digits") in done.stderr
    assert "rule prepare_custom_dataset" in done.stdout or "prepare" in done.stdout


def test_clsrl_check_names_the_line_of_a_yaml_syntax_error(tmp_path):
    """Snakemake says only "Config file is not valid JSON or YAML"; clsrl.workflow.check names the
    line."""
    configfile = tmp_path / "my.yaml"
    configfile.write_text(
        "datasets: [digits]\ncustom_datasets:\n"
        "  digits: {question: Which digit is it?, image_folder: digits}\n",
        encoding="utf-8",
    )
    done = run_snakemake(tmp_path, "-n", configfile=configfile, check=False)
    assert done.returncode == 1 and "not valid JSON or YAML" in done.stdout + done.stderr
    checked = subprocess.run(
        [sys.executable, "-m", "clsrl.workflow.check", str(configfile)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert checked.returncode == 1
    assert f"{configfile}, line 3, column" in checked.stderr and "must be quoted" in checked.stderr
