"""The paper's published numbers (clsrl/paper_results/, percent, single runs) beside ours.

>>> sorted(paper_tables())
['base2new', 'crossdataset_delta_cls-rl', 'crossdataset_delta_no-thinking', 'fewshot']
>>> float(paper_tables()["fewshot"].loc["no-thinking", "Average"])
84.39
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

from clsrl.report.aggregate import AVERAGE

PAPER_MODEL = "Qwen/Qwen2-VL-2B-Instruct"
PAPER_FILES = {
    "fewshot": "fewshot_4shot.csv",
    "base2new": "base2new_4shot.csv",
    "crossdataset_delta_cls-rl": "crossdataset_delta_cls-rl.csv",
    "crossdataset_delta_no-thinking": "crossdataset_delta_no-thinking.csv",
}
COMPARISON_COLUMNS = ["table", "method", "row", "column", "ours", "paper", "difference"]


def paper_tables() -> dict[str, pd.DataFrame]:
    """The published tables: few-shot (method x dataset), base-to-new (long) and the
    cross-dataset delta matrices (train dataset x test dataset)."""
    folder = resources.files("clsrl") / "paper_results"
    tables = {}
    for name, filename in PAPER_FILES.items():
        with (folder / filename).open(encoding="utf-8") as handle:
            tables[name] = pd.read_csv(handle, index_col=0)
    return tables


def _cells(table: str, method: str, ours: pd.DataFrame, paper: pd.DataFrame) -> list[dict]:
    """Every cell present in both tables (same row and column labels). An Average compares only
    when we have every dataset the paper averages over."""

    def comparable(ours_labels, paper_labels):
        averaged = [label for label in paper_labels if label != AVERAGE]
        complete = set(averaged) <= set(ours_labels)
        return [
            label
            for label in paper_labels.intersection(ours_labels)
            if label != AVERAGE or complete
        ]

    rows = []
    for row in comparable(ours.index, paper.index):
        for column in comparable(ours.columns, paper.columns):
            value = ours.loc[row, column]
            if pd.notna(value):
                published = float(paper.loc[row, column])
                rows.append(
                    {
                        "table": table,
                        "method": method,
                        "row": row,
                        "column": column,
                        "ours": float(value),
                        "paper": published,
                        "difference": float(value) - published,
                    }
                )
    return rows


def compare_with_paper(
    fewshot: pd.DataFrame, base2new: pd.DataFrame, delta: dict[str, pd.DataFrame]
) -> pd.DataFrame:
    """Our value beside the published one, for every cell the paper reports and we have.

    `fewshot` and `base2new` are clsrl.report.aggregate / clsrl.report.tables tables (zero-shot in
    the no-thinking style stands for the paper's zero-shot row); `delta` maps a method to its
    cross-dataset delta matrix.
    """
    published = paper_tables()
    rows = []
    ours_fewshot = fewshot[(fewshot["method"] != "zero-shot") | (fewshot["style"] == "no-thinking")]
    ours_fewshot = ours_fewshot.set_index("method").drop(columns="style")
    for method in ours_fewshot.index:
        rows += _cells(
            "fewshot",
            method,
            ours_fewshot.loc[[method]],
            published["fewshot"].loc[[method]]
            if method in published["fewshot"].index
            else published["fewshot"].iloc[:0],
        )
    paper_b2n = published["base2new"].reset_index()
    ours_b2n = base2new[(base2new["method"] != "zero-shot") | (base2new["style"] == "no-thinking")]
    for method in dict.fromkeys(ours_b2n["method"]):
        ours = ours_b2n[ours_b2n["method"] == method].set_index("dataset")[["base", "new", "hm"]]
        paper = paper_b2n[paper_b2n["method"] == method].set_index("dataset")[["base", "new", "hm"]]
        rows += _cells("base2new", method, ours, paper)
    for method, matrix in delta.items():
        name = f"crossdataset_delta_{method}"
        if name in published:
            rows += _cells("crossdataset_delta", method, matrix, published[name])
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


PROTOCOL_NOTES = {
    "paper": "Protocol: paper. The published numbers came from the reference code, whose CLS-RL "
    "reward on StanfordCars and FGVCAircraft and whose evaluation of empty answers differ "
    '(docs/configuration.md "The paper\'s protocol and the reference code"); '
    "`protocol: reference-code` reproduces its conditions.",
    "reference-code": "Protocol: reference-code, the conditions that produced the published "
    "numbers.",
    "mixed": "Protocol: mixed, some of the reference code's behaviours and some of the paper's "
    "(config keys options.floor_rule, evaluation.wording, evaluation.empty_answer, "
    "training.accuracy_rule, training.trainer_seed).",
}


def comparison_note(
    base_model: str, datasets: list[str], benchmark_names: list[str], protocol: str = "paper"
) -> str:
    """What the reader must know before comparing: whether model and data are the paper's, and
    which protocol produced ours (clsrl.config.protocol_in_force).

    >>> comparison_note(PAPER_MODEL, ["EuroSAT"], ["EuroSAT"], "reference-code").split(". ")[-1]
    'Protocol: reference-code, the conditions that produced the published numbers.'
    """
    notes = []
    if base_model != PAPER_MODEL:
        notes.append(f"the base model is {base_model}, not the paper's {PAPER_MODEL}")
    foreign = [name for name in datasets if name not in benchmark_names]
    if foreign:
        notes.append(f"these datasets are not the paper's: {', '.join(foreign)}")
    if not notes:
        setup = (
            f"Model and datasets are the paper's; the paper reports single runs, ours are "
            f"means over seeds ({AVERAGE} rows and columns as in the paper)."
        )
    else:
        setup = (
            "NOT the paper's setup: "
            + "; ".join(notes)
            + ". Differences are not a reproduction check."
        )
    return f"{setup} {PROTOCOL_NOTES[protocol]}"
