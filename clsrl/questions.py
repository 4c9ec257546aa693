"""Turn a dataset split into questions: each item with its fixed option list and problem text.

The questions file (JSON lines) is what training and evaluation read; every model evaluated on a
target reads the same file, so all of them see the same option lists.

    python -m clsrl.questions DATASET_DIR OUT.jsonl --split test --ratio 0.4 --seed 0
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, replace
from pathlib import Path

from clsrl.config import default_config
from clsrl.datasets.canonical import CanonicalDataset, load_dataset
from clsrl.datasets.registry import class_count
from clsrl.io import read_jsonl, write_atomic
from clsrl.prompts import choice_count, item_rng, option_list, problem_text
from clsrl.views import View


@dataclass(frozen=True)
class OptionSettings:
    """How option lists are drawn (protocol section 3): the `options` config section, as
    `option_params` resolves it for a view, with the seed of the draw."""

    ratio: float
    min_choices: int
    max_choices: int
    floor_rule: str
    open_set: bool
    seed: int


def option_params(config: dict, view: View) -> dict:
    """OptionSettings fields but the seed, from a validated config's `options` section: the
    few-shot ratio, or the base-to-new one for a half, and the floor rule in effect.

    >>> from clsrl.config import default_config
    >>> option_params(default_config(), View("EuroSAT", "base"))["ratio"]
    0.8
    """
    options = config["options"]
    params = {
        "ratio": options["fewshot_ratio" if view.half is None else "base2new_ratio"],
        "min_choices": options["min_choices"],
        "max_choices": options["max_choices"],
        "floor_rule": options["floor_rule"],
        "open_set": options["open_set"],
    }
    return {**params, "floor_rule": floor_rule_in_effect(params, view)}


def floor_rule_in_effect(options: dict, view: View) -> str:
    """`options["floor_rule"]`, or `paper` where both rules list the same number of classes for
    the view (its class count known before any data is made): a switch of `options.floor_rule`
    then reruns only the option lists it changes (protocol section 3: DTD and OxfordPets).

    >>> options = {"ratio": 0.4, "min_choices": 30, "max_choices": 100, "floor_rule": "all-classes"}
    >>> [floor_rule_in_effect(options, View(name)) for name in ("OxfordPets", "EuroSAT", "my-bird")]
    ['all-classes', 'paper', 'all-classes']
    """
    classes = class_count(view.dataset)
    if options.get("open_set"):
        return "paper"  # no option lists at all
    if options["floor_rule"] == "paper" or classes is None:
        return options["floor_rule"]
    chosen = view.classes(classes)
    count = classes if chosen is None else len(chosen)
    lists = {
        choice_count(
            count,
            options["ratio"],
            floor_rule=rule,
            min_choices=options["min_choices"],
            max_choices=options["max_choices"],
        )
        for rule in ("paper", options["floor_rule"])
    }
    return options["floor_rule"] if len(lists) > 1 else "paper"


def make_questions(
    dataset: CanonicalDataset,
    split: str,
    settings: OptionSettings,
    classes: list[int] | None = None,
) -> list[dict]:
    """One question per item of `split` (optionally only items of `classes`, e.g. base classes).

    Options are drawn among the classes of the question set, so a base-class test lists base
    classes only, each name once: classes that share a name (ImageNet's two "missile") are one
    option, as they are one answer. Each row: image, label, classname, options (None for open
    set), problem.
    """
    items = dataset.split(split)
    class_ids = sorted(set(range(dataset.num_classes)) if classes is None else set(classes))
    items = items[items["label"].isin(class_ids)]
    candidates = list(dict.fromkeys(dataset.classnames[label] for label in class_ids))
    count = choice_count(
        len(candidates),
        settings.ratio,
        floor_rule=settings.floor_rule,
        min_choices=settings.min_choices,
        max_choices=settings.max_choices,
    )
    questions = []
    for image, label in zip(items["image"], items["label"], strict=True):
        truth = dataset.classnames[label]
        options = None
        if not settings.open_set:
            rng = item_rng(settings.seed, dataset.name, split, image)
            options = option_list(candidates, truth, count, rng)
        questions.append(
            {
                "image": image,
                "label": int(label),
                "classname": truth,
                "options": options,
                "problem": problem_text(dataset.question, options),
            }
        )
    return questions


def write_questions(path: str | Path, questions: list[dict]) -> None:
    """Write questions as JSON lines, atomically."""
    write_atomic(path, "".join(json.dumps(q, ensure_ascii=False) + "\n" for q in questions))


def read_questions(path: str | Path) -> list[dict]:
    """Read a questions file written by `write_questions`."""
    return read_jsonl(path)


def write_test_questions(dataset_dir: str, out: str, options: dict, seed: int, half) -> int:
    """Write the test questions of a view (rule make_test_questions): the dataset's, or one half
    of its classes'; `options` are OptionSettings fields but the seed. Returns how many."""
    dataset = load_dataset(dataset_dir)
    classes = View(dataset.name, half).classes(dataset.num_classes)
    questions = make_questions(dataset, "test", OptionSettings(**options, seed=seed), classes)
    write_questions(out, questions)
    return len(questions)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset_dir")
    parser.add_argument("out")
    parser.add_argument("--split", default="test")
    parser.add_argument(
        "--ratio", type=float, help="share of classes listed (default: the paper's)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--view", help="the view whose settings apply (default: the folder's name)")
    args = parser.parse_args(argv)
    view = View.parse(args.view or Path(args.dataset_dir).name)
    settings = OptionSettings(**option_params(default_config(), view), seed=args.seed)
    if args.ratio is not None:
        settings = replace(settings, ratio=args.ratio)
    write_questions(args.out, make_questions(load_dataset(args.dataset_dir), args.split, settings))


if __name__ == "__main__":
    main()
