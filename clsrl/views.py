"""Views: the classes a split or test set covers. A view is a dataset, or the base or new half of
its base-to-new split (CoCoOp: sort the labels, base = the first ceil(n/2), new = the rest).

Its name, `EuroSAT` or `EuroSAT.base`, is a path part and a wildcard; `View.parse` reads it once at
that boundary, and the code passes the fields on.
"""

from __future__ import annotations

from dataclasses import dataclass

HALVES = ("base", "new")
VIEW_SEPARATOR = "."


@dataclass(frozen=True)
class View:
    """The classes a split or test set covers: a dataset (`half` None), or the base or new half
    of its base-to-new split. Its name, `EuroSAT` or `EuroSAT.base`, is a path part and wildcard.

    >>> View.parse("EuroSAT.new"), View("EuroSAT", "base").name
    (View(dataset='EuroSAT', half='new'), 'EuroSAT.base')
    >>> View("demo-colours").classes(7), View("demo-colours", "base").classes(7)
    (None, [0, 1, 2, 3])
    """

    dataset: str
    half: str | None = None

    @classmethod
    def parse(cls, name: str) -> View:
        dataset, _, half = name.partition(VIEW_SEPARATOR)
        if half and half not in HALVES:
            raise ValueError(
                f"view {name!r}: the part after {VIEW_SEPARATOR!r} must be one of {HALVES}"
            )
        return cls(dataset, half or None)

    @property
    def name(self) -> str:
        return self.dataset if self.half is None else f"{self.dataset}{VIEW_SEPARATOR}{self.half}"

    def classes(self, num_classes: int) -> list[int] | None:
        """The labels of the view: None (all), the first ceil(n/2) (base) or the rest (new)."""
        if self.half is None:
            return None
        cut = -(-num_classes // 2)
        return list(range(cut)) if self.half == "base" else list(range(cut, num_classes))
