"""Which datasets a study can name, as data: name -> how the workflow obtains it.

Today: the built-in demo datasets, generated offline. The 11 benchmark datasets and custom datasets
join this registry with the data stage.

>>> "demo-colours" in known_datasets()
True
"""

from __future__ import annotations

from dataclasses import dataclass

from clsrl.datasets.demo import DEMO_DATASETS


@dataclass(frozen=True)
class DatasetEntry:
    """A registered dataset: its name, its kind (how it is obtained) and its question text."""

    name: str
    kind: str
    question: str


def known_datasets() -> dict[str, DatasetEntry]:
    """Every dataset a config may name, in registry order."""
    return {
        name: DatasetEntry(name=name, kind="demo", question=spec.question)
        for name, spec in DEMO_DATASETS.items()
    }


def datasets_of_kind(names: list[str], kind: str) -> list[str]:
    """The names among `names` whose registry kind is `kind`."""
    registry = known_datasets()
    return [name for name in names if registry[name].kind == kind]
