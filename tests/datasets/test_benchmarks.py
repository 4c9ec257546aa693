"""The benchmark registry, and the converters on tiny CoOp-layout folders of every dataset."""

import io
import json
import re
from pathlib import Path

import pytest
from PIL import Image

from clsrl.datasets.benchmarks import BENCHMARKS, CANONICAL_ORDER, SOURCES
from clsrl.datasets.canonical import load_dataset
from clsrl.datasets.convert import DatasetConversionError
from clsrl.datasets.download import parse_checksum
from clsrl.datasets.prepare import ManualStepRequired, prepare_benchmark
from clsrl.datasets.registry import known_datasets
from clsrl.datasets.writer import ImageChecks, MissingImagesError, UnreadableImagesError
from tests.benchmark_archives import coop_folder
from tests.real_names import imagenet_classnames_file, imagenet_wnids

# Protocol section 1: name -> (classes, question).
OBJECT = "What type of object is in the photo?"
PROTOCOL_TABLE = {
    "ImageNet": (1000, OBJECT),
    "Caltech101": (100, OBJECT),
    "DescribableTextures": (47, "What type of texture is in the photo?"),
    "EuroSAT": (10, "What type of object is in the centered satellite photo?"),
    "Food101": (101, OBJECT),
    "OxfordFlowers": (102, OBJECT),
    "OxfordPets": (37, OBJECT),
    "StanfordCars": (196, OBJECT),
    "SUN397": (397, OBJECT),
    "UCF101": (101, "What actions is the person performing in the photo?"),
    "FGVCAircraft": (100, "What type of aircraft is in the photo?"),
}
SPLITS = ("train", "val", "test")
CHECKS = ImageChecks(decode=True, skip_unreadable=False, threads=2)
NO_DECODE = ImageChecks(decode=False, skip_unreadable=False, threads=1)
PER_SPLIT = {"train": 2, "val": 1, "test": 1}  # images per class in each fixture split


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


PNG = _png()


def quiet(line):
    pass


def test_registry_matches_the_protocol_table():
    assert tuple(BENCHMARKS) == CANONICAL_ORDER == tuple(PROTOCOL_TABLE)
    for name, (classes, question) in PROTOCOL_TABLE.items():
        assert (BENCHMARKS[name].classes, BENCHMARKS[name].question) == (classes, question)
        assert known_datasets()[name].kind == "benchmark"


def test_every_source_has_a_url_and_a_valid_or_unknown_checksum():
    for source in SOURCES.values():
        assert source.url.startswith(("https://", "http://", "gdrive:")), source.id
        if source.checksum is not None:
            parse_checksum(source.checksum)
    manual = {name for name, spec in BENCHMARKS.items() if spec.manual}
    assert manual == {"ImageNet", "StanfordCars"}


# ---------------------------------------------------------------------------------------------
# CoOp-layout fixtures, one writer per layout


def _write_image(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(PNG)


def coop_split_fixture(name: str, root: Path, extra_classes=(), rename=None) -> Path:
    """A CoOp split file and its images; class folders c000 ... (names as CoOp writes them)."""
    spec = BENCHMARKS[name]
    names = [f"class {i}" for i in range(spec.classes)] + list(extra_classes)
    names = [(rename or {}).get(n, n) for n in names]
    split = {s: [] for s in SPLITS}
    for label, classname in enumerate(names):
        for s in SPLITS:
            for index in range(PER_SPLIT[s]):
                image = f"c{label:03d}/{s}_{index}.png"
                _write_image(root / spec.image_dir / image)
                split[s].append([image, label, classname])
    (root / spec.split_file).write_text(json.dumps(split))
    return root


def fgvc_fixture(root: Path) -> Path:
    spec = BENCHMARKS["FGVCAircraft"]
    variants = [f"Variant-{i}" for i in range(spec.classes)]
    (root).mkdir(parents=True, exist_ok=True)
    (root / "variants.txt").write_text("\n".join(variants) + "\n")
    for s in SPLITS:
        lines = []
        for label, variant in enumerate(variants):
            for index in range(PER_SPLIT[s]):
                image_id = f"{s[:2]}{label:03d}{index}"
                _write_image(root / "images" / f"{image_id}.jpg")
                lines.append(f"{image_id} {variant}")
        (root / f"images_variant_{s}.txt").write_text("\n".join(lines) + "\n")
    return root


def imagenet_fixture(root: Path, *, images=True, classnames=True) -> Path:
    """ImageNet's CoOp folder with CoOp's real classnames.txt (CLIP's names) and its WNIDs."""
    wnids = imagenet_wnids()
    root.mkdir(parents=True, exist_ok=True)
    if classnames:
        (root / "classnames.txt").write_bytes(imagenet_classnames_file())
    if images:
        for folder, count in (("train", 2), ("val", 1)):
            for wnid in wnids:
                for index in range(count):
                    _write_image(root / "images" / folder / wnid / f"{wnid}_{index}.JPEG")
    return root


def benchmark_fixture(name: str, root: Path) -> Path:
    """A tiny CoOp folder of any benchmark: real class names, the real archives' layout."""
    return coop_folder(name, root, PER_SPLIT)


@pytest.mark.parametrize("name", CANONICAL_ORDER)
def test_every_benchmark_converts_from_coop_layout(tmp_path, name):
    coop = benchmark_fixture(name, tmp_path / "coop")
    out = tmp_path / "prepared" / name
    prepare_benchmark(name, out, coop, CHECKS, log=quiet)
    dataset = load_dataset(out, check_images=True)
    classes = BENCHMARKS[name].classes
    assert dataset.num_classes == classes
    assert dataset.question == BENCHMARKS[name].question
    expected = {s: classes * PER_SPLIT[s] for s in SPLITS}
    if name == "ImageNet":  # val is the test split; no val
        expected = {"train": 2 * classes, "val": 0, "test": classes}
    assert dataset.split_counts() == expected
    assert dataset.metadata["skipped_images"] == 0
    # images are hard-linked, not copied, and not a link into the source folder
    assert not (out / "images").is_symlink()
    first = dataset.split("train")["image"].iloc[0]
    assert (out / first).stat().st_nlink == 2


def test_caltech_drops_background_and_faces_easy(tmp_path):
    # CoOp's own file lists neither; a split file that still does must drop them
    coop = coop_split_fixture("Caltech101", tmp_path / "coop", ("BACKGROUND_Google", "Faces_easy"))
    prepare_benchmark("Caltech101", tmp_path / "out", coop, CHECKS, log=quiet)
    names = load_dataset(tmp_path / "out").classnames
    assert "BACKGROUND_Google" not in names and "Faces_easy" not in names and len(names) == 100


def test_eurosat_gets_coops_renamed_classes(tmp_path):
    # CoOp's own file holds the new names; names a file still has unrenamed get them
    coop = coop_split_fixture("EuroSAT", tmp_path / "coop", rename={"class 0": "AnnualCrop"})
    prepare_benchmark("EuroSAT", tmp_path / "out", coop, CHECKS, log=quiet)
    assert load_dataset(tmp_path / "out").classnames[0] == "Annual Crop Land"


# ---------------------------------------------------------------------------------------------
# Manual steps


def test_imagenet_stops_naming_the_files_to_place_then_picks_them_up(tmp_path):
    coop = tmp_path / "coop" / "imagenet"
    coop.mkdir(parents=True)
    with pytest.raises(ManualStepRequired) as error:
        prepare_benchmark("ImageNet", tmp_path / "out", coop, CHECKS, log=quiet)
    message = str(error.value)
    for path in ("images/train", "images/val", "classnames.txt"):
        assert str(coop / path) in message
    assert "image-net.org" in message and "rerun" in message
    imagenet_fixture(coop)  # the person places the files
    prepare_benchmark("ImageNet", tmp_path / "out", coop, NO_DECODE, log=quiet)
    assert load_dataset(tmp_path / "out").num_classes == 1000


def test_stanford_cars_names_its_image_folders(tmp_path):
    coop = coop_split_fixture("StanfordCars", tmp_path / "stanford_cars")
    with pytest.raises(ManualStepRequired, match="cars_train.*\n.*cars_test"):
        prepare_benchmark("StanfordCars", tmp_path / "out", coop, CHECKS, log=quiet)


# ---------------------------------------------------------------------------------------------
# Bad input: each error names the file or class and the fix


@pytest.fixture
def pets(tmp_path) -> Path:
    return coop_split_fixture("OxfordPets", tmp_path / "oxford_pets")


def _edit_split(coop: Path, edit) -> None:
    path = coop / BENCHMARKS["OxfordPets"].split_file
    split = json.loads(path.read_text())
    edit(split)
    path.write_text(json.dumps(split))


def test_a_missing_image_listed_in_the_split_is_named(tmp_path, pets):
    (pets / "images/c003/test_0.png").unlink()
    with pytest.raises(MissingImagesError, match="c003/test_0.png") as error:
        prepare_benchmark("OxfordPets", tmp_path / "out", pets, CHECKS, log=quiet)
    assert "split_zhou_OxfordPets.json" in str(error.value)


def test_a_corrupt_image_is_named_or_skipped_and_counted(tmp_path, pets):
    (pets / "images/c005/train_1.png").write_bytes(PNG[: len(PNG) // 2])  # truncated
    with pytest.raises(UnreadableImagesError, match="c005/train_1.png.*skip_unreadable_images"):
        prepare_benchmark("OxfordPets", tmp_path / "out", pets, CHECKS, log=quiet)
    lines = []
    skip = ImageChecks(decode=True, skip_unreadable=True, threads=1)
    prepare_benchmark("OxfordPets", tmp_path / "out", pets, skip, log=lines.append)
    metadata = json.loads((tmp_path / "out/dataset.json").read_text())
    assert metadata["skipped_images"] == 1
    assert metadata["skipped_examples"] == ["c005/train_1.png"]
    assert metadata["splits"]["train"] == 37 * 2 - 1
    assert any("skipped 1 unreadable" in line for line in lines)


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        # two labels named alike: the class is named
        (lambda s: s["test"].__setitem__(0, [s["test"][0][0], 0, "class 1"]), "label 0 is named"),
        (
            lambda s: (
                [item.__setitem__(2, "class 1") for item in s["train"] if item[1] == 2]
                + [item.__setitem__(2, "class 1") for item in s["val"] + s["test"] if item[1] == 2]
            ),
            "class name 'class 1' is duplicated",
        ),
        # an item that is not [path, label, name]
        (lambda s: s["val"].append(["a.png", "x", "class 0"]), "val[37]"),
        # a class with no image (label gap): 36 classes listed
        (
            lambda s: [
                s[k].__setitem__(slice(None), [i for i in s[k] if i[1] != 36]) for k in SPLITS
            ],
            "classes, the registry",
        ),  # fmt: skip
    ],
)
def test_bad_split_files_are_named(tmp_path, pets, edit, fragment):
    _edit_split(pets, edit)
    with pytest.raises(DatasetConversionError, match=re.escape(fragment)):
        prepare_benchmark("OxfordPets", tmp_path / "out", pets, CHECKS, log=quiet)


def test_an_unknown_class_in_an_fgvc_split_file_is_named(tmp_path):
    coop = fgvc_fixture(tmp_path / "fgvc")
    with open(coop / "images_variant_val.txt", "a") as stream:
        stream.write("9999999 Boeing 999\n")
    with pytest.raises(DatasetConversionError, match="line 101: unknown class 'Boeing 999'"):
        prepare_benchmark("FGVCAircraft", tmp_path / "out", coop, CHECKS, log=quiet)


def test_an_unknown_imagenet_val_folder_is_named(tmp_path):
    coop = imagenet_fixture(tmp_path / "imagenet")
    _write_image(coop / "images/val/n99999999/x.JPEG")
    with pytest.raises(DatasetConversionError, match="n99999999: unknown class"):
        prepare_benchmark("ImageNet", tmp_path / "out", coop, CHECKS, log=quiet)


# ---------------------------------------------------------------------------------------------
# The real Snakefile


def _config(tmp_path: Path, config: dict) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    return path


@pytest.mark.workflow
def test_dry_run_plans_downloads_and_preparation_of_the_11_benchmarks(tmp_path):
    from tests.conftest import run_snakemake
    from tests.workflow.test_workflow import planned_jobs

    config = {"datasets": list(CANONICAL_ORDER), "methods": ["zero-shot"]}
    done = run_snakemake(tmp_path, "--dry-run", configfile=_config(tmp_path, config))
    jobs = planned_jobs(done.stdout)
    assert jobs["download_source"] == len(SOURCES) == 19
    assert jobs["prepare_benchmark_dataset"] == 11
    assert jobs["make_test_questions"] >= 11  # the rest of the study follows the preparation
    for source in SOURCES:
        assert f"data/cache/sources/{source}.json" in done.stdout
    # A local copy replaces the dataset's downloads.
    config["data"] = {"local_copies": {"OxfordPets": str(tmp_path / "pets")}}
    done = run_snakemake(tmp_path, "--dry-run", "data", configfile=_config(tmp_path, config))
    assert planned_jobs(done.stdout)["download_source"] == 17
    assert "OxfordPets-images" not in done.stdout


@pytest.mark.workflow
def test_workflow_prepares_a_local_copy_and_stops_for_a_manual_step(tmp_path):
    from tests.conftest import run_snakemake

    eurosat = benchmark_fixture("EuroSAT", tmp_path / "coop" / "eurosat")
    imagenet = tmp_path / "coop" / "imagenet"
    imagenet.mkdir()
    config = {
        "datasets": ["demo-colours"],
        "data": {
            "local_copies": {"EuroSAT": str(eurosat), "ImageNet": str(imagenet)},
            "check_images": False,
        },
    }
    targets = ["data/prepared/EuroSAT", "data/prepared/ImageNet"]
    configfile = _config(tmp_path, config)
    done = run_snakemake(
        tmp_path, "--cores", "1", "--keep-going", *targets, configfile=configfile, check=False
    )
    assert done.returncode != 0
    assert f"{imagenet}/images/train: the 1,000 training class folders" in done.stderr
    # A known error ends its log as one line, no traceback, and closes the run's own messages.
    log = (tmp_path / "logs/prepare_benchmark_dataset/ImageNet.log").read_text()
    assert "Traceback" not in log
    assert log[log.index("clsrl error: ") :].startswith("clsrl error: ManualStepRequired: ImageNet")
    closing = done.stderr[done.stderr.rindex("Exiting because a job execution failed") :]
    assert "clsrl: a job stopped. clsrl error: ManualStepRequired: ImageNet cannot be" in closing
    assert load_dataset(tmp_path / "data/prepared/EuroSAT").num_classes == 10
    assert not (tmp_path / "data/prepared/ImageNet").exists()
    imagenet_fixture(imagenet)  # the files are placed: the rerun picks them up
    run_snakemake(tmp_path, "--cores", "1", *targets, configfile=configfile)
    assert load_dataset(tmp_path / "data/prepared/ImageNet").split_counts()["test"] == 1000
