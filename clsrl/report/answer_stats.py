"""How a model answered, beyond its accuracy: degenerate outputs, collapse onto one answer, and
how alike two seeds' models answer. Read from an evaluation's predictions
(clsrl.evaluation.evaluate).

Degenerate outputs (shares of the evaluation's items; one output may be several):
- `no_answer`: a style that asks for answer tags (thinking) and an output without a complete
  `<answer>...</answer>` (cut off, or never written); or an empty answer;
- `repeated_name`: the answer names one class twice or more (`yellowyellowyellow`);
- `echoed_options`: the answer names 3 or more classes (the option list repeated back).
The lenient metric can count the last two as correct (the class name is in the answer).

Collapse: the share of the most frequent answer, and the answers' entropy in bits; a model is
`collapsed` when one answer is given for at least COLLAPSE_SHARE of the items.

>>> rows = [{"output": o, "answer": o, "classname": c} for o, c in
...         [("red", "red"), ("redred", "blue"), ("red", "green"), ("red blue green", "red")]]
>>> stats = answer_stats(rows, "no-thinking")
>>> stats["top_answer"], stats["top_answer_share"], stats["repeated_name_share"]
('red', 0.5, 0.25)
>>> stats["echoed_options_share"], stats["degenerate_share"], stats["collapsed"]
(0.25, 0.5, False)
"""

from __future__ import annotations

import math
from collections import Counter
from itertools import combinations

from clsrl.answers import EVAL_ANSWER_PATTERN
from clsrl.prompts import PROMPT_TEMPLATES

COLLAPSE_SHARE = 0.75  # one answer for at least this share of the items: collapsed
ECHO_NAMES = 3  # an answer naming this many classes or more echoes the option list
STAT_COLUMNS = (
    "no_answer_share",
    "repeated_name_share",
    "echoed_options_share",
    "degenerate_share",
    "top_answer",
    "top_answer_share",
    "answer_entropy_bits",
    "collapsed",
)


def asks_for_tags(style: str) -> bool:
    """Whether a prompt style asks for the answer in <answer> tags."""
    return "<answer>" in PROMPT_TEMPLATES[style]["train"]


def name_counts(answer: str, classnames: list[str]) -> dict[str, int]:
    """How often each class name occurs in `answer`, case ignored (`str.count`: C speed, so
    ImageNet's 1,000 names over 50,000 answers take seconds), for those that do.

    >>> name_counts("Yellowyellowyellow or red", ["yellow", "red", "blue"])
    {'yellow': 3, 'red': 1}
    """
    folded = answer.casefold()
    counts = {name: folded.count(name.casefold()) for name in classnames}
    return {name: count for name, count in counts.items() if count}


def degenerate_kinds(output: str, answer: str, style: str, classnames: list[str]) -> set[str]:
    """The kinds of degenerate output one prediction is (module docstring); empty when none.
    `classnames` may be given case-folded already (as `answer_stats` does, once).

    >>> sorted(degenerate_kinds('<think>The photo shows "blue', "", "thinking", ["blue"]))
    ['no_answer']
    """
    kinds = set()
    if not answer.strip() or (asks_for_tags(style) and not EVAL_ANSWER_PATTERN.search(output)):
        kinds.add("no_answer")
    counts = name_counts(answer, classnames)
    if any(count >= 2 for count in counts.values()):
        kinds.add("repeated_name")
    if len(counts) >= ECHO_NAMES:
        kinds.add("echoed_options")
    return kinds


def normalized(answer: str) -> str:
    return " ".join(answer.casefold().split())


def answer_stats(predictions: list[dict], style: str) -> dict:
    """The degenerate shares and collapse measures of one evaluation (STAT_COLUMNS); shares are
    fractions of its items. The class names are those the items are labelled with."""
    classnames = sorted({row["classname"].casefold() for row in predictions})
    total = len(predictions)
    kinds = [
        degenerate_kinds(row["output"], row["answer"], style, classnames) for row in predictions
    ]
    answers = Counter(normalized(row["answer"]) for row in predictions)
    top, top_count = answers.most_common(1)[0] if answers else ("", 0)
    entropy = -sum(c / total * math.log2(c / total) for c in answers.values()) if total else 0.0
    return {
        **{
            f"{kind}_share": sum(kind in found for found in kinds) / total if total else None
            for kind in ("no_answer", "repeated_name", "echoed_options")
        },
        "degenerate_share": sum(bool(found) for found in kinds) / total if total else None,
        "top_answer": top,
        "top_answer_share": top_count / total if total else None,
        "answer_entropy_bits": round(entropy + 0.0, 4),
        "collapsed": bool(total) and top_count / total >= COLLAPSE_SHARE,
    }


def seed_agreement(predictions_by_seed: dict[int, list[dict]]) -> float | None:
    """The share of items two seeds' models answer alike (answers compared case- and
    space-insensitively, items matched by image), averaged over every pair of seeds; None for
    fewer than 2 seeds.

    >>> one = [{"image": "a", "answer": "red"}, {"image": "b", "answer": "blue"}]
    >>> two = [{"image": "a", "answer": "Red"}, {"image": "b", "answer": "green"}]
    >>> seed_agreement({1: one, 2: two})
    0.5
    """
    if len(predictions_by_seed) < 2:
        return None
    answers = {
        seed: {row["image"]: normalized(row["answer"]) for row in rows}
        for seed, rows in predictions_by_seed.items()
    }
    shares = []
    for first, second in combinations(sorted(answers), 2):
        items = answers[first].keys() & answers[second].keys()
        same = sum(answers[first][item] == answers[second][item] for item in items)
        shares.append(same / len(items) if items else 0.0)
    return sum(shares) / len(shares)
