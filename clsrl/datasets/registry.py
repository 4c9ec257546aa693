"""Which datasets a study can name, as data: name -> how the workflow obtains it.

Three kinds: `demo` (generated offline, clsrl.datasets.demo), `benchmark` (CoOp's 11 datasets,
downloaded and converted; clsrl/datasets/benchmarks.yaml) and `custom` (defined in the config's
`custom_datasets:`, clsrl.datasets.custom).

>>> registry = known_datasets({"my-birds": {"question": "Which bird?", "image_folder": "birds"}})
>>> [registry[name].kind for name in ("demo-colours", "EuroSAT", "my-birds")]
['demo', 'benchmark', 'custom']
>>> registry["UCF101"].question
'What actions is the person performing in the photo?'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from clsrl.answers import math_verify_reads
from clsrl.datasets.benchmarks import BENCHMARKS
from clsrl.datasets.demo import DEMO_DATASETS


@dataclass(frozen=True)
class DatasetEntry:
    """A registered dataset: its name, its kind (how it is obtained) and its question text."""

    name: str
    kind: str
    question: str


def built_in_datasets() -> dict[str, DatasetEntry]:
    """The demo and benchmark datasets, in registry order."""
    demo = {
        name: DatasetEntry(name=name, kind="demo", question=spec.question)
        for name, spec in DEMO_DATASETS.items()
    }
    benchmark = {
        name: DatasetEntry(name=name, kind="benchmark", question=spec.question)
        for name, spec in BENCHMARKS.items()
    }
    return {**demo, **benchmark}


def known_datasets(custom: Mapping[str, Mapping] | None = None) -> dict[str, DatasetEntry]:
    """Every dataset a config may name, in registry order; `custom` is `config["custom_datasets"]`.

    A custom dataset named like a built-in one is an error (rename it).
    """
    registry = built_in_datasets()
    for name, spec in (custom or {}).items():
        if name in registry:
            raise ValueError(
                f"config key 'custom_datasets.{name}': {name!r} is a built-in "
                f"{registry[name].kind} dataset; give the custom dataset another name"
            )
        registry[name] = DatasetEntry(name=name, kind="custom", question=spec["question"])
    return registry


def class_count(name: str) -> int | None:
    """A built-in dataset's class count, known before any data is made; None for a custom one.

    >>> class_count("EuroSAT"), class_count("demo-shapes"), class_count("my-birds")
    (10, 6, None)
    """
    if name in BENCHMARKS:
        return BENCHMARKS[name].classes
    if name in DEMO_DATASETS:
        return len(DEMO_DATASETS[name].classnames)
    return None


def math_verify_may_fire(name: str) -> bool:
    """Whether the reference code's CLS-RL reward (math_verify first) can differ from the paper's
    on a dataset (protocol section 5). Benchmarks: the table's `math_verify_fires`
    (StanfordCars, FGVCAircraft); demo datasets: whether math_verify reads a value from any class
    name (without one it never matches); a custom dataset's names are not known before it is
    prepared, so it may.

    >>> [math_verify_may_fire(name) for name in ("StanfordCars", "EuroSAT", "my-birds")]
    [True, False, True]
    """
    if name in BENCHMARKS:
        return BENCHMARKS[name].math_verify_fires
    if name in DEMO_DATASETS:
        return any(math_verify_reads(classname) for classname in DEMO_DATASETS[name].classnames)
    return True


def datasets_of_kind(
    names: Iterable[str], kind: str, custom: Mapping[str, Mapping] | None = None
) -> list[str]:
    """The names among `names` whose registry kind is `kind`.

    A name the registry does not know has no kind (config validation reports it by name).
    """
    registry = known_datasets(custom)
    return [name for name in names if name in registry and registry[name].kind == kind]
