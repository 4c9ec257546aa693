"""Facts that follow from a dataset's class names alone, computed by the code that scores answers.

Some behaviour of the study depends on nothing but the class names, so it can be known before a
model runs, and checked against the real names (tests/data/real_names,
tests/datasets/test_real_names.py):

- `shared_names`: names that two or more classes share (ImageNet's CLIP names: "missile" and
  "sunglasses"); such classes are one answer for every reward and metric;
- `lenient_pairs`: (truth, answer) pairs where the paper's lenient metric counts the answer as
  right although it names another class (Caltech101's "ant" inside "elephant");
- `math_verify_classes`: names from whose solution math_verify reads a value, the only classes
  where the reference code's CLS-RL reward can differ from the paper's;
- `longest_options`: the option list of the longest names, the longest problem text a dataset
  can give.

Print them for a prepared dataset, with the test items each lenient pair touches:

    python -m clsrl.datasets.name_facts data/prepared/Caltech101

>>> lenient_pairs(["ant", "elephant", "cat"])
[('ant', 'elephant')]
>>> shared_names(["missile", "cat", "missile"])
{'missile': [0, 2]}
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path

from clsrl.answers import lenient_match, math_verify_reads
from clsrl.datasets.canonical import load_dataset
from clsrl.datasets.checks import listed
from clsrl.prompts import choice_count, problem_text


def shared_names(classnames: Sequence[str]) -> dict[str, list[int]]:
    """Each name that more than one class has, with those classes' labels."""
    labels: dict[str, list[int]] = {}
    for label, name in enumerate(classnames):
        labels.setdefault(name, []).append(label)
    return {name: found for name, found in labels.items() if len(found) > 1}


def lenient_pairs(classnames: Sequence[str]) -> list[tuple[str, str]]:
    """(truth, answer) pairs of distinct names where `clsrl.answers.lenient_match` accepts the
    answer for the truth: a model naming the wrong class is counted right (label order)."""
    names = list(dict.fromkeys(classnames))
    return [
        (truth, answer)
        for truth in names
        for answer in names
        if answer != truth and lenient_match(answer, truth)
    ]


def math_verify_classes(classnames: Sequence[str]) -> list[str]:
    """The names math_verify reads a value from, as the reference reward parses them
    (`clsrl.answers.math_verify_reads`; needs math-verify)."""
    return [name for name in classnames if math_verify_reads(name)]


def longest_options(classnames: Sequence[str], count: int) -> list[str]:
    """The `count` longest distinct names: the longest option list a question can carry."""
    names = sorted(dict.fromkeys(classnames), key=lambda name: (-len(name), name))
    return names[:count]


def touched_test_items(pairs: Sequence[tuple[str, str]], test_items: Mapping[str, int]) -> int:
    """Test items whose truth some wrong answer can earn under the lenient metric."""
    return sum(test_items.get(truth, 0) for truth in dict.fromkeys(t for t, _ in pairs))


def main(argv: list[str] | None = None) -> None:
    """Command line: the facts of a prepared dataset folder (clsrl.datasets.canonical)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset_dir", type=Path)
    args = parser.parse_args(argv)
    dataset = load_dataset(args.dataset_dir)
    names = dataset.classnames
    test = dataset.split("test")["label"].map(lambda label: names[label]).value_counts()
    pairs = lenient_pairs(names)
    print(f"{dataset.name}: {len(names)} classes")
    print(f"shared names: {shared_names(names) or 'none'}")
    print(
        f"lenient metric: {len(pairs)} pair(s), {touched_test_items(pairs, test)} of "
        f"{int(test.sum())} test items touched"
    )
    for truth, answer in pairs:
        print(f"  answer {answer!r} counts as {truth!r} ({int(test.get(truth, 0))} test items)")
    try:
        readable = math_verify_classes(names)
        print(f"math_verify reads a value from {len(readable)}: {listed(readable, quote=True)}")
    except ImportError as error:
        print(f"math_verify: not installed ({error})")
    options = longest_options(names, choice_count(len(names), 0.4))
    print(
        f"longest few-shot problem text: {len(problem_text(dataset.question, options))} "
        f"characters, {len(options)} options"
    )


if __name__ == "__main__":
    main()
