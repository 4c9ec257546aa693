"""Question text, per-item option lists and prompt styles (protocol sections 3 and 4).

>>> choice_count(47, ratio=0.4)
30
>>> problem_text("What type of texture is in the photo?", ["dotted", "banded"])
'What type of texture is in the photo?\\nPlease choose one from list [ dotted, banded].'
>>> render_prompt("no-thinking", "Q?")
'Q?\\n Please directly output the answer.'
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

MIN_CHOICES = 30
MAX_CHOICES = 100

# The floor rule when floor(ratio * n) is below the minimum: the paper lists min(30, n) classes; the
# reference notebook lists all n classes (only DTD and OxfordPets differ).
FLOOR_RULES = ("paper", "all-classes")

# Text after the image, per prompt style. "train" is what the model is trained with, and what the
# paper evaluates it with; "reference-code" is the reference code's slightly different evaluation
# wording (its thinking prompt differs for base-class tests).
PROMPT_TEMPLATES: dict[str, dict[str, str]] = {
    "thinking": {
        "train": "{question}\n Please output the thinking process in <think> </think> and final "
        "answer in <answer> </answer> tags.",
        "reference-code": "{question} First output the thinking process in <think> </think> and "
        "final answer in <answer> </answer> tags.",
        "reference-code-base": "{question} Please output the thinking process in <think> </think> "
        "and final answer in <answer> </answer> tags.",
    },
    "no-thinking": {
        "train": "{question}\n Please directly output the answer.",
        "reference-code": "{question} Please directly output the answer name.",
        "reference-code-base": "{question} Please directly output the answer name.",
    },
    "think-after-answer": {
        "train": "{question} Please first output the answer in <answer> </answer> tags and then "
        "output a brief reasoning process in <reason> </reason> tags.",
    },
}
PROMPT_STYLES = tuple(PROMPT_TEMPLATES)
EVAL_WORDINGS = ("train", "reference-code")


def choice_count(
    n_classes: int,
    ratio: float,
    *,
    floor_rule: str = "paper",
    min_choices: int = MIN_CHOICES,
    max_choices: int = MAX_CHOICES,
) -> int:
    """How many class names one question lists (protocol section 3).

    >>> [choice_count(n, 0.4) for n in (10, 37, 47, 100, 1000)]
    [10, 30, 30, 40, 100]
    >>> choice_count(47, 0.4, floor_rule="all-classes")
    47
    """
    if floor_rule not in FLOOR_RULES:
        raise ValueError(f"unknown floor_rule {floor_rule!r}; use one of {FLOOR_RULES}")
    count = math.floor(ratio * n_classes)
    if count < min_choices:
        count = min(min_choices, n_classes) if floor_rule == "paper" else n_classes
    return min(count, max_choices)


def option_list(classnames: Sequence[str], truth: str, count: int, rng: random.Random) -> list[str]:
    """One item's option list: shuffle, take `count`, make sure the truth is in, shuffle again.

    >>> sorted(option_list(["a", "b", "c", "d"], "d", 2, random.Random(0)))[-1]
    'd'
    """
    shuffled = list(classnames)
    rng.shuffle(shuffled)
    options = shuffled[:count]
    if truth not in options:
        options[-1] = truth
    rng.shuffle(options)
    return options


def item_rng(seed: int, *keys: object) -> random.Random:
    """A random generator fixed by the seed and the item, whatever order items are processed in."""
    return random.Random(":".join(str(part) for part in (seed, *keys)))


def problem_text(question: str, options: Sequence[str] | None) -> str:
    """The problem text; `options=None` gives the open-set question (no list)."""
    if options is None:
        return question
    return f"{question}\nPlease choose one from list [ {', '.join(options)}]."


def template_key(style: str, wording: str, *, base: bool = False) -> str:
    """The template a style, wording and test set use: the wording's base-class text for a
    base-class test where there is one, and the training text for a style without the wording.

    >>> template_key("thinking", "reference-code", base=True)
    'reference-code-base'
    >>> template_key("think-after-answer", "reference-code")
    'train'
    """
    templates = PROMPT_TEMPLATES.get(style)
    if templates is None:
        raise ValueError(f"unknown prompt style {style!r}; use one of {PROMPT_STYLES}")
    key = f"{wording}-base" if base and f"{wording}-base" in templates else wording
    return key if key in templates else "train"


def wording_in_effect(style: str, wording: str, *, base: bool = False) -> str:
    """`wording`, or `train` where the style has no text of its own for it: a switch of
    `evaluation.wording` then reruns only the evaluations whose prompt it changes.

    >>> [wording_in_effect(s, "reference-code") for s in ("no-thinking", "think-after-answer")]
    ['reference-code', 'train']
    """
    return wording if template_key(style, wording, base=base) != "train" else "train"


def render_prompt(style: str, problem: str, wording: str = "train", *, base: bool = False) -> str:
    """The text after the image for a prompt style and wording."""
    key = template_key(style, wording, base=base)  # names an unknown style
    return PROMPT_TEMPLATES[style][key].format(question=problem)
