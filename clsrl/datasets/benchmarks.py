"""The 11 benchmark datasets (CoOp's), loaded from the data table `benchmarks.yaml` beside it.

Print the table from the shell:

    python -m clsrl.datasets.benchmarks

>>> BENCHMARKS["EuroSAT"].classes, BENCHMARKS["EuroSAT"].coop_folder
(10, 'eurosat')
>>> [source.id for source in BENCHMARKS["OxfordPets"].sources]
['OxfordPets-images', 'OxfordPets-split']
>>> BENCHMARKS["StanfordCars"].manual.files[0].path
'cars_train'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from types import MappingProxyType

import yaml

TABLE_RESOURCE = "datasets/benchmarks.yaml"
# The canonical order of every table (protocol section 1).
CANONICAL_ORDER = (
    "ImageNet",
    "Caltech101",
    "DescribableTextures",
    "EuroSAT",
    "Food101",
    "OxfordFlowers",
    "OxfordPets",
    "StanfordCars",
    "SUN397",
    "UCF101",
    "FGVCAircraft",
)


@dataclass(frozen=True)
class Source:
    """One file the workflow downloads for a dataset, and where it goes in the CoOp folder."""

    id: str  # "<Dataset>-<part>": the download job's name
    dataset: str  # the benchmark it belongs to
    url: str  # https://... or gdrive:<file id>
    filename: str  # name in the download cache
    checksum: str | None = None  # "sha256:HEX" / "md5:HEX" from public material; None = unknown
    checksum_origin: str | None = None
    unpack: bool = False  # an archive (zip, tar, tar.gz) to unpack into the CoOp folder
    member_root: str | None = None  # only this folder of the archive, moved up to the target
    nested: str | None = None  # the archive inside this archive to unpack instead
    place_as: str | None = None  # a single file's name in the CoOp folder (default: filename)

    @property
    def target_name(self) -> str:
        """The file's name inside the CoOp folder (single files only)."""
        return self.place_as or self.filename


@dataclass(frozen=True)
class ManualFile:
    """A file or folder a person has to place, relative to the dataset's CoOp folder."""

    path: str
    what: str


@dataclass(frozen=True)
class ManualStep:
    """Why a dataset needs a person, and what they must place."""

    why: str
    files: tuple[ManualFile, ...]


@dataclass(frozen=True)
class Benchmark:
    """One benchmark dataset: the facts of protocol section 1 and how to obtain and convert it."""

    name: str
    classes: int
    question: str
    coop_folder: str
    converter: str
    image_dir: str
    split_file: str | None = None
    class_file: str | None = None
    shared_names: tuple[str, ...] = ()  # names two classes may share (ImageNet's CLIP names)
    drop_classes: tuple[str, ...] = ()
    rename_classes: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    math_verify_fires: bool = False  # the reference code's reward can differ (protocol section 5)
    sources: tuple[Source, ...] = ()
    manual: ManualStep | None = None


def _source(dataset: str, entry: dict) -> Source:
    entry = dict(entry)
    return Source(id=f"{dataset}-{entry.pop('part')}", dataset=dataset, **entry)


def _benchmark(name: str, entry: dict) -> Benchmark:
    entry = dict(entry)
    manual = entry.pop("manual", None)
    return Benchmark(
        name=name,
        sources=tuple(_source(name, source) for source in entry.pop("sources", ())),
        manual=ManualStep(
            why=" ".join(manual["why"].split()),
            files=tuple(
                ManualFile(f["path"], " ".join(f["what"].split())) for f in manual["files"]
            ),
        )
        if manual
        else None,
        drop_classes=tuple(entry.pop("drop_classes", ())),
        shared_names=tuple(entry.pop("shared_names", ())),
        rename_classes=MappingProxyType(dict(entry.pop("rename_classes", {}))),
        **entry,
    )


def load_benchmarks() -> dict[str, Benchmark]:
    """The table, in the canonical order; its names and order are checked against the protocol."""
    text = resources.files("clsrl").joinpath(TABLE_RESOURCE).read_text(encoding="utf-8")
    table = {name: _benchmark(name, entry) for name, entry in yaml.safe_load(text).items()}
    if tuple(table) != CANONICAL_ORDER:
        raise ValueError(
            f"{TABLE_RESOURCE} lists {list(table)}; it must list {list(CANONICAL_ORDER)} in this "
            "order (protocol section 1)"
        )
    return table


BENCHMARKS = MappingProxyType(load_benchmarks())
SOURCES = MappingProxyType(
    {source.id: source for benchmark in BENCHMARKS.values() for source in benchmark.sources}
)


def main() -> None:
    """Command line: print each dataset, its sources and its manual step."""
    for benchmark in BENCHMARKS.values():
        print(f"{benchmark.name}: {benchmark.classes} classes, {benchmark.question!r}")
        for source in benchmark.sources:
            checksum = source.checksum or "unknown (recorded on first download)"
            print(f"  download {source.id}: {source.url} checksum {checksum}")
        for manual_file in benchmark.manual.files if benchmark.manual else ():
            print(f"  manual {benchmark.coop_folder}/{manual_file.path}: {manual_file.what}")


if __name__ == "__main__":
    main()
