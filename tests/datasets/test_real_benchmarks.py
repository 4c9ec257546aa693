"""The 11 benchmarks as they really are (issue 26): each is downloaded through its own
`benchmarks.yaml` entry from a loopback server that serves archives with the real class names and
each real archive's own layout (tests/benchmark_archives.py), then prepared; every prepared image
is read back to check that it is the class and split the manifest says."""

from __future__ import annotations

import hashlib
import io
import shutil
import tarfile
import zlib
from dataclasses import replace
from pathlib import Path

import pytest

from clsrl.datasets import download as download_module
from clsrl.datasets.benchmarks import BENCHMARKS, CANONICAL_ORDER
from clsrl.datasets.canonical import load_dataset
from clsrl.datasets.prepare import DatasetLayoutError, ManualStepRequired, prepare_benchmark
from clsrl.datasets.sources import coop_dir, fetch_source
from clsrl.datasets.writer import ImageChecks
from tests.benchmark_archives import StandIn, image_tag, jpeg, stand_in, sun397_folder
from tests.datasets.test_download import Loopback
from tests.real_names import real_classnames

CHECKS = ImageChecks(decode=True, skip_unreadable=False, threads=2)


def quiet(line):
    pass


@pytest.fixture
def internet(monkeypatch):
    """A loopback server in place of the internet: each real URL of benchmarks.yaml (and each
    Google Drive file) is answered with what `serve` gave it."""
    server = Loopback()
    served: dict[str, str] = {}
    real_resolve = download_module.resolve_url

    def resolve(url: str) -> str:
        if url not in served:
            raise AssertionError(f"no stand-in serves {url} ({real_resolve(url)})")
        return server.url(served[url])

    monkeypatch.setattr(download_module, "resolve_url", resolve)

    def serve(url: str, data: bytes) -> None:
        served[url] = f"/file{len(served)}"
        server.files[served[url]] = data

    yield serve
    server.close()


def fetch_all(serve, dataset: str, stand: StandIn, cache: Path) -> Path:
    """Fetch every source of the dataset's benchmarks.yaml entry, as the workflow's download
    jobs do; a published checksum is replaced by the stand-in's digest of the same kind."""
    for source in BENCHMARKS[dataset].sources:
        data = stand.served[source.id]
        serve(source.url, data)
        if source.checksum:
            algorithm = source.checksum.partition(":")[0]
            digest = hashlib.new(algorithm, data).hexdigest()
            source = replace(source, checksum=f"{algorithm}:{digest}")
        fetch_source(source, cache, backoff_s=0, log=quiet)
    return coop_dir(cache, dataset)


def place(folder: Path, files: dict[str, bytes]) -> None:
    for path, data in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(data)


def read_back(dataset) -> list[tuple[str, str, str]]:
    """(image tag, class name by the manifest, split by the manifest) of every prepared image."""
    items = dataset.items
    return sorted(
        (image_tag(dataset.image_path(image)), dataset.classnames[label], split)
        for image, label, split in zip(items["image"], items["label"], items["split"], strict=True)
    )


@pytest.mark.parametrize("name", CANONICAL_ORDER)
def test_each_benchmark_prepares_from_its_real_sources(tmp_path, internet, name):
    stand = stand_in(name)
    coop = fetch_all(internet, name, stand, tmp_path / "cache")
    manual = BENCHMARKS[name].manual
    assert bool(stand.manual) == bool(manual)
    if manual:  # the job stops naming each file to place, then picks them up
        with pytest.raises(ManualStepRequired) as stop:
            prepare_benchmark(name, tmp_path / "prepared", coop, CHECKS, log=quiet)
        for file in manual.files:
            assert f"{coop / file.path}: {file.what}" in str(stop.value)
        place(coop, stand.manual)
    prepare_benchmark(name, tmp_path / "prepared", coop, CHECKS, log=quiet)
    dataset = load_dataset(tmp_path / "prepared", check_images=True)
    assert dataset.classnames == list(real_classnames(name))
    assert dataset.num_classes == BENCHMARKS[name].classes
    assert read_back(dataset) == sorted(stand.expected)


def test_imagenet_prepares_with_clips_names_two_of_which_are_shared(tmp_path, internet):
    stand = stand_in("ImageNet")
    coop = fetch_all(internet, "ImageNet", stand, tmp_path / "cache")
    place(coop, stand.manual)
    dataset = prepare_benchmark("ImageNet", tmp_path / "prepared", coop, CHECKS, log=quiet)
    names = dataset.classnames
    assert [label for label, n in enumerate(names) if n == "missile"] == [657, 744]
    assert [label for label, n in enumerate(names) if n == "sunglasses"] == [836, 837]
    # The two classes stay apart: each keeps its own images under its own label.
    test = dataset.split("test")
    missiles = [sorted(test[test["label"] == label]["image"]) for label in (657, 744)]
    assert missiles[0] and missiles[1] and not set(missiles[0]) & set(missiles[1])
    assert load_dataset(tmp_path / "prepared").metadata["shared_classnames"] == [
        "missile",
        "sunglasses",
    ]


def test_a_third_shared_name_in_imagenets_class_file_is_refused(tmp_path, internet):
    stand = stand_in("ImageNet")
    lines = stand.served["ImageNet-classnames"].decode().splitlines(keepends=True)
    lines[1] = lines[1].split(" ")[0] + " tench\n"  # goldfish renamed: "tench" twice
    stand.served["ImageNet-classnames"] = "".join(lines).encode()
    coop = fetch_all(internet, "ImageNet", stand, tmp_path / "cache")
    place(coop, stand.manual)
    with pytest.raises(Exception, match=r"'tench' is duplicated \(labels 0 and 1\).*'missile'"):
        prepare_benchmark("ImageNet", tmp_path / "prepared", coop, CHECKS, log=quiet)


# ---------------------------------------------------------------------------------------------
# SUN397: the route that works, and the copies users have


def sun397_copy(stand: StandIn) -> dict[str, bytes]:
    """The original archive's files, as unpacked (SUN397/<letter>/<class>/...)."""
    with tarfile.open(fileobj=io.BytesIO(stand.served["SUN397-images"])) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}


def test_sun397_downloads_from_a_live_mirror_checked_against_the_originals_md5():
    source = next(s for s in BENCHMARKS["SUN397"].sources if s.id == "SUN397-images")
    assert "princeton.edu" not in source.url  # 404 since 2025 (pytorch/vision issue 9348)
    assert source.url.startswith("https://huggingface.co/")
    assert source.checksum == "md5:8ca2778205c41d23104230ba66911c7a"  # torchvision's
    assert BENCHMARKS["SUN397"].manual is None


def test_sun397_from_a_local_copy_of_the_original_archive(tmp_path):
    stand = stand_in("SUN397")
    local = tmp_path / "my-sun397"
    place(local, {**sun397_copy(stand), "split_zhou_SUN397.json": stand.served["SUN397-split"]})
    dataset = prepare_benchmark("SUN397", tmp_path / "prepared", local, CHECKS, log=quiet)
    assert read_back(dataset) == sorted(stand.expected)


def test_sun397_nested_twice_as_kaggle_has_it_is_refused_saying_what_to_move(tmp_path):
    stand = stand_in("SUN397")
    local = tmp_path / "sun397"
    nested = {f"SUN397/{path}": data for path, data in sun397_copy(stand).items()}
    place(local, {**nested, "split_zhou_SUN397.json": stand.served["SUN397-split"]})
    with pytest.raises(DatasetLayoutError) as error:
        prepare_benchmark("SUN397", tmp_path / "prepared", local, CHECKS, log=quiet)
    inner = local / "SUN397" / "SUN397"
    assert f"mv {inner}/* {local / 'SUN397'}/ && rmdir {inner}" in str(error.value)
    shutil.copytree(inner, local / "SUN397", dirs_exist_ok=True)  # the user follows it
    shutil.rmtree(inner)
    dataset = prepare_benchmark("SUN397", tmp_path / "prepared", local, CHECKS, log=quiet)
    assert read_back(dataset) == sorted(stand.expected)


@pytest.mark.parametrize("where", ["sun397", "sun397/SUN397"])
def test_sun397_as_train_and_test_class_folders_is_refused_by_name(tmp_path, where):
    stand = stand_in("SUN397")
    local = tmp_path / "sun397"
    export = {}  # Kaggle's sun397-50-50: train/<class>/..., test/<class>/..., no letter folders
    for tag, name, split in stand.expected:
        folder = "test" if split == "test" else "train"
        class_folder = sun397_folder(name).split("/", 1)[1]  # no letter folder
        export[f"{folder}/{class_folder}/{zlib.crc32(tag.encode())}.jpg"] = jpeg(tag)
    place(tmp_path / where, export)
    place(local, {"split_zhou_SUN397.json": stand.served["SUN397-split"]})
    with pytest.raises((DatasetLayoutError, ManualStepRequired)) as error:
        prepare_benchmark("SUN397", tmp_path / "prepared", local, CHECKS, log=quiet)
    message = str(error.value)
    assert "holds train/, test/ folders: an image-folder export" in message
    assert "huggingface.co/zhengli97/SUN397_Dataset" in message


def test_stanford_cars_nested_as_kaggle_has_it_is_refused_saying_what_to_move(tmp_path, internet):
    stand = stand_in("StanfordCars")
    coop = fetch_all(internet, "StanfordCars", stand, tmp_path / "cache")
    place(coop, {f"{path.split('/')[0]}/{path}": data for path, data in stand.manual.items()})
    with pytest.raises(DatasetLayoutError) as error:
        prepare_benchmark("StanfordCars", tmp_path / "prepared", coop, CHECKS, log=quiet)
    inner = coop / "cars_train" / "cars_train"
    assert f"mv {inner}/* {coop / 'cars_train'}/ && rmdir {inner}" in str(error.value)
