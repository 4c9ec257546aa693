"""Stand-ins for the 11 benchmarks' downloads: real class names, each real archive's own layout.

Each dataset's stand-in holds what its `benchmarks.yaml` sources serve (archives and split files,
by source id), what a person places by hand (ImageNet's images, StanfordCars' folders), and the
images it expects the prepared dataset to hold. Every image is a tiny JPEG whose comment names
its class and split, so a test reads back which class each prepared image really is.

The layouts are those of the real archives (tests/data/real_names/*.source.md and the README's
datasets section name the evidence): e.g. Caltech's zip holds `caltech-101/101_ObjectCategories.
tar.gz` whose class folders keep their original names (`Faces`, `airplanes`) while CoOp's split
file holds the renamed ones (`face`, `airplane`); EuroSAT's zip holds `2750/<CamelCase>/`;
SUN397's class folders are `<letter>/<class>[/<sub>]` and CoOp's names reverse the sub-folders.
"""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from dataclasses import dataclass, field
from functools import cache

from PIL import Image

from clsrl.datasets.benchmarks import BENCHMARKS
from tests.real_names import imagenet_classnames_file, imagenet_wnids, real_classnames

SPLITS = ("train", "val", "test")
# CoOp's datasets/caltech101.py NEW_CNAMES, reversed: split-file name -> the archive's folder
CALTECH_FOLDERS = {"face": "Faces", "leopard": "Leopards", "motorbike": "Motorbikes"}
CALTECH_FOLDERS["airplane"] = "airplanes"
CALTECH_UNUSED = ("BACKGROUND_Google", "Faces_easy")  # in the archive, not in CoOp's split file
PET_CATS = frozenset(  # Oxford-IIIT Pet file names capitalise the 12 cat breeds
    "abyssinian bengal birman bombay british_shorthair egyptian_mau maine_coon persian ragdoll "
    "russian_blue siamese sphynx".split()
)


@cache
def jpeg(tag: str) -> bytes:
    """A 4x4 JPEG whose comment is `tag` (`<class name>|<split>|<n>`)."""
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (len(tag) % 256, 80, 160)).save(buffer, "JPEG", comment=tag.encode())
    return buffer.getvalue()


def image_tag(data_or_path) -> str:
    """The tag of an image written by `jpeg`."""
    with Image.open(data_or_path) as image:
        return image.info["comment"].decode()


def tar_gz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, data in files.items():
            bundle.writestr(name, data)
    return buffer.getvalue()


@dataclass
class StandIn:
    """A benchmark's downloads and manual files, and the images its preparation must give."""

    served: dict[str, bytes] = field(default_factory=dict)  # source id -> the file it serves
    manual: dict[str, bytes] = field(default_factory=dict)  # path in the CoOp folder -> bytes
    expected: list[tuple[str, str, str]] = field(default_factory=list)  # (tag, class, split)


class _Images:
    """Collects one image per (class, split, n) at a path the dataset's layout gives."""

    def __init__(self, per_split: dict[str, int]):
        self.per_split = per_split
        self.files: dict[str, bytes] = {}
        self.split_json: dict[str, list] = {split: [] for split in SPLITS}
        self.expected: list[tuple[str, str, str]] = []

    def add(self, names, path_of, canonical=None) -> None:
        """path_of(label, name, split, n) -> the image path the split file lists."""
        for label, name in enumerate(names):
            for split in SPLITS:
                for n in range(self.per_split.get(split, 0)):
                    path = path_of(label, name, split, n)
                    tag = f"{name}|{split}|{n}"
                    self.files[path] = jpeg(tag)
                    self.split_json[split].append([path, label, name])
                    self.expected.append((tag, name, (canonical or {}).get(split, split)))

    def split_file(self) -> bytes:
        return json.dumps(self.split_json).encode()

    def under(self, prefix: str) -> dict[str, bytes]:
        return {f"{prefix}/{path}": data for path, data in self.files.items()}


PER_SPLIT = {"train": 1, "val": 1, "test": 1}


def serial(split: str, n: int) -> int:
    """A number for image n of a split, distinct within a class (file names count from 1)."""
    return SPLITS.index(split) * 10 + n + 1


def stand_in(dataset: str, per_split: dict[str, int] = PER_SPLIT) -> StandIn:
    """The stand-in of one benchmark (`per_split`: images per class and split)."""
    return BUILDERS[dataset](_Images(per_split))


def _caltech(images: _Images) -> StandIn:
    counter: dict[str, int] = {}

    def path_of(label, name, split, n):
        folder = CALTECH_FOLDERS.get(name, name)
        counter[folder] = counter.get(folder, 0) + 1
        return f"{folder}/image_{counter[folder]:04d}.jpg"

    images.add(real_classnames("Caltech101"), path_of)
    unused = {
        f"101_ObjectCategories/{folder}/image_0001.jpg": jpeg(f"{folder}|unused|0")
        for folder in CALTECH_UNUSED
    }
    inner = tar_gz({**images.under("101_ObjectCategories"), **unused})
    outer = zip_of(
        {
            "caltech-101/101_ObjectCategories.tar.gz": inner,
            "caltech-101/Annotations.tar": b"annotations",
            "caltech-101/show_annotation.m": b"% matlab",
            "__MACOSX/caltech-101/._101_ObjectCategories.tar.gz": b"resource fork",
        }
    )
    return _with_split("Caltech101", images, {"Caltech101-images": outer})


def _dtd(images: _Images) -> StandIn:
    images.add(
        real_classnames("DescribableTextures"),
        lambda label, name, split, n: f"{name}/{name}_{serial(split, n):04d}.jpg",
    )
    archive = tar_gz(
        {
            **images.under("dtd/images"),
            "dtd/labels/labels_joint_anno.txt": b"banded/banded_0001.jpg banded\n",
            "dtd/imdb/imdb.mat": b"MATLAB",
        }
    )
    return _with_split("DescribableTextures", images, {"DescribableTextures-images": archive})


def _eurosat(images: _Images) -> StandIn:
    folder_of = {new: old for old, new in BENCHMARKS["EuroSAT"].rename_classes.items()}

    def path_of(label, name, split, n):
        folder = folder_of.get(name, name)
        return f"{folder}/{folder}_{serial(split, n)}.jpg"

    images.add(real_classnames("EuroSAT"), path_of)
    return _with_split("EuroSAT", images, {"EuroSAT-images": zip_of(images.under("2750"))})


def _food(images: _Images) -> StandIn:
    names = real_classnames("Food101")
    images.add(
        names,
        lambda label, name, split, n: f"{name}/{1000000 + label * 100 + serial(split, n)}.jpg",
    )
    archive = tar_gz(
        {
            **images.under("food-101/images"),
            "food-101/meta/classes.txt": "".join(f"{name}\n" for name in names).encode(),
            "food-101/README.txt": b"Food-101",
        }
    )
    return _with_split("Food101", images, {"Food101-images": archive})


def _flowers(images: _Images) -> StandIn:
    number = iter(range(1, 10**5))
    images.add(real_classnames("OxfordFlowers"), lambda *_: f"image_{next(number):05d}.jpg")
    archive = tar_gz(images.under("jpg"))
    return _with_split("OxfordFlowers", images, {"OxfordFlowers-images": archive})


def _pets(images: _Images) -> StandIn:
    def path_of(label, name, split, n):
        breed = "_".join(p.capitalize() for p in name.split("_")) if name in PET_CATS else name
        return f"{breed}_{serial(split, n)}.jpg"

    images.add(real_classnames("OxfordPets"), path_of)
    archive = tar_gz({**images.under("images"), "images/Abyssinian_100.mat": b"MATLAB"})
    return _with_split("OxfordPets", images, {"OxfordPets-images": archive})


def _cars(images: _Images) -> StandIn:
    number = {"cars_train": iter(range(1, 10**5)), "cars_test": iter(range(1, 10**5))}

    def path_of(label, name, split, n):
        folder = "cars_test" if split == "test" else "cars_train"
        return f"{folder}/{next(number[folder]):05d}.jpg"

    images.add(real_classnames("StanfordCars"), path_of)
    stand = _with_split("StanfordCars", images, {})
    stand.manual = dict(images.files)  # cars_train/ and cars_test/, placed by a person
    return stand


def sun397_folder(name: str) -> str:
    """A SUN397 class's folder below SUN397/ from CoOp's name: CoOp drops the letter folder and
    reverses the sub-folders (`/a/apartment_building/outdoor` -> `outdoor apartment_building`)."""
    parts = name.split(" ")[::-1]
    return f"{parts[0][0]}/{'/'.join(parts)}"


def _sun(images: _Images) -> StandIn:
    names = real_classnames("SUN397")
    images.add(
        names,
        lambda label, name, split, n: f"{sun397_folder(name)}/sun_{label:04d}{split}{n}.jpg",
    )
    class_lines = "".join(f"/{sun397_folder(name)}\n" for name in names).encode()
    archive = tar_gz(
        {
            **images.under("SUN397"),
            "SUN397/ClassName.txt": class_lines,
            "SUN397/README.txt": b"SUN397",
        }
    )
    return _with_split("SUN397", images, {"SUN397-images": archive})


def _ucf(images: _Images) -> StandIn:
    def path_of(label, name, split, n):
        video = "HandStandPushups" if name == "Handstand_Pushups" else name.replace("_", "")
        return f"{name}/v_{video}_g{serial(split, n):02d}_c01.jpg"

    images.add(real_classnames("UCF101"), path_of)
    archive = zip_of(images.under("UCF-101-midframes"))
    return _with_split("UCF101", images, {"UCF101-midframes": archive})


def _aircraft(images: _Images) -> StandIn:
    number = iter(range(1000000, 10**7))
    ids: dict[str, list[str]] = {split: [] for split in SPLITS}

    def path_of(label, name, split, n):
        image_id = str(next(number)).zfill(7)
        ids[split].append(f"{image_id} {name}\n")
        return f"{image_id}.jpg"

    names = real_classnames("FGVCAircraft")
    images.add(names, path_of)
    data = "fgvc-aircraft-2013b/data"
    files = {
        **images.under(f"{data}/images"),
        f"{data}/variants.txt": "".join(f"{name}\n" for name in names).encode(),
        f"{data}/families.txt": b"Boeing 707\n",
        f"{data}/manufacturers.txt": b"Boeing\n",
        f"{data}/images_variant_trainval.txt": "".join(ids["train"] + ids["val"]).encode(),
        "fgvc-aircraft-2013b/README.md": b"FGVC-Aircraft",
        "fgvc-aircraft-2013b/evaluation.m": b"% matlab",
    }
    for split in SPLITS:
        files[f"{data}/images_variant_{split}.txt"] = "".join(ids[split]).encode()
    return StandIn({"FGVCAircraft-archive": tar_gz(files)}, {}, images.expected)


def _imagenet(images: _Images) -> StandIn:
    wnids = imagenet_wnids()
    number = iter(range(1, 10**6))

    def path_of(label, name, split, n):
        wnid = wnids[label]
        if split == "val":  # ImageNet's val set, sorted into class folders: the test split
            return f"val/{wnid}/ILSVRC2012_val_{next(number):08d}.JPEG"
        return f"train/{wnid}/{wnid}_{n + 1}.JPEG"

    images.per_split = {"train": images.per_split["train"], "val": images.per_split["test"]}
    images.add(real_classnames("ImageNet"), path_of, canonical={"val": "test"})
    return StandIn(
        {"ImageNet-classnames": imagenet_classnames_file()},
        images.under("images"),
        images.expected,
    )


def _with_split(dataset: str, images: _Images, served: dict[str, bytes]) -> StandIn:
    return StandIn({**served, f"{dataset}-split": images.split_file()}, {}, images.expected)


BUILDERS = {
    "ImageNet": _imagenet,
    "Caltech101": _caltech,
    "DescribableTextures": _dtd,
    "EuroSAT": _eurosat,
    "Food101": _food,
    "OxfordFlowers": _flowers,
    "OxfordPets": _pets,
    "StanfordCars": _cars,
    "SUN397": _sun,
    "UCF101": _ucf,
    "FGVCAircraft": _aircraft,
}


def coop_folder(dataset: str, root, per_split: dict[str, int] = PER_SPLIT):
    """The dataset's CoOp folder at `root` as the workflow leaves it: each stand-in download
    placed through its own `benchmarks.yaml` entry (clsrl.datasets.sources), and the manual
    files put where a person puts them."""
    import tempfile
    from pathlib import Path

    from clsrl.datasets.sources import place_source

    root = Path(root)
    stand = stand_in(dataset, per_split)
    with tempfile.TemporaryDirectory() as downloads:
        for source in BENCHMARKS[dataset].sources:
            file = Path(downloads) / source.filename
            file.write_bytes(stand.served[source.id])
            place_source(source, file, root, log=lambda line: None)
    for path, data in stand.manual.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    return root
