"""Option lists, question text and prompt styles (protocol sections 3 and 4)."""

import random

import pytest

from clsrl.prompts import choice_count, option_list, problem_text, render_prompt

# The 11 benchmark datasets' class counts (protocol section 1) and the option-list size each gets.
# Base-to-new questions list classes of the base (ceil(n/2)) or new (floor(n/2)) half.
CLASS_COUNTS = {
    "ImageNet": 1000,
    "Caltech101": 100,
    "DescribableTextures": 47,
    "EuroSAT": 10,
    "Food101": 101,
    "OxfordFlowers": 102,
    "OxfordPets": 37,
    "StanfordCars": 196,
    "SUN397": 397,
    "UCF101": 101,
    "FGVCAircraft": 100,
}
EXPECTED_FEWSHOT = {  # floor(0.4 n), raised to min(30, n), capped at 100
    "ImageNet": 100,
    "Caltech101": 40,
    "DescribableTextures": 30,
    "EuroSAT": 10,
    "Food101": 40,
    "OxfordFlowers": 40,
    "OxfordPets": 30,
    "StanfordCars": 78,
    "SUN397": 100,
    "UCF101": 40,
    "FGVCAircraft": 40,
}
EXPECTED_BASE = {  # base classes = ceil(n/2); floor(0.8 * base) with the same floor and cap
    "ImageNet": 100,  # 500 -> 400 -> 100
    "Caltech101": 40,  # 50 -> 40
    "DescribableTextures": 24,  # 24 -> 19 -> min(30, 24) = 24
    "EuroSAT": 5,  # 5 -> 4 -> min(30, 5) = 5
    "Food101": 40,  # 51 -> 40
    "OxfordFlowers": 40,  # 51 -> 40
    "OxfordPets": 19,  # 19 -> 15 -> min(30, 19) = 19
    "StanfordCars": 78,  # 98 -> 78
    "SUN397": 100,  # 199 -> 159 -> 100
    "UCF101": 40,  # 51 -> 40
    "FGVCAircraft": 40,  # 50 -> 40
}


@pytest.mark.parametrize("dataset", list(CLASS_COUNTS))
def test_fewshot_choice_count_per_dataset(dataset):
    assert choice_count(CLASS_COUNTS[dataset], 0.4) == EXPECTED_FEWSHOT[dataset]


@pytest.mark.parametrize("dataset", list(CLASS_COUNTS))
def test_base_choice_count_per_dataset(dataset):
    base = -(-CLASS_COUNTS[dataset] // 2)
    assert choice_count(base, 0.8) == EXPECTED_BASE[dataset]


@pytest.mark.parametrize(
    ("n", "paper", "all_classes"),
    [
        (47, 30, 47),  # DTD: the only few-shot datasets where the two floor rules differ
        (37, 30, 37),  # OxfordPets
        (10, 10, 10),  # EuroSAT: fewer classes than the floor, both list all
        (100, 40, 40),  # above the floor: no difference
    ],
)
def test_floor_rules(n, paper, all_classes):
    assert choice_count(n, 0.4, floor_rule="paper") == paper
    assert choice_count(n, 0.4, floor_rule="all-classes") == all_classes


def test_option_list_always_holds_the_truth_once_and_has_the_size():
    names = [f"c{i}" for i in range(50)]
    for seed in range(200):
        truth = names[seed % 50]
        options = option_list(names, truth, 20, random.Random(seed))
        assert len(options) == 20
        assert len(set(options)) == 20
        assert options.count(truth) == 1


def test_option_list_order_varies_and_truth_position_is_not_fixed():
    names = [f"c{i}" for i in range(10)]
    positions = {
        option_list(names, "c3", 10, random.Random(seed)).index("c3") for seed in range(50)
    }
    assert len(positions) > 5


def test_problem_text_format():
    # newline after the question, one space after `[`, `, ` joins, nothing before `]`, raw names
    assert (
        problem_text("What type of object is in the photo?", ["grilled_cheese", "cat"])
        == "What type of object is in the photo?\n"
        "Please choose one from list [ grilled_cheese, cat]."
    )
    assert problem_text("Q?", None) == "Q?"  # open set


@pytest.mark.parametrize(
    ("style", "wording", "base", "expected"),
    [
        (
            "thinking",
            "train",
            False,
            "P\n Please output the thinking process in <think> </think> and final answer in "
            "<answer> </answer> tags.",
        ),
        ("no-thinking", "train", False, "P\n Please directly output the answer."),
        (
            "thinking",
            "reference-code",
            False,
            "P First output the thinking process in <think> </think> and final answer in "
            "<answer> </answer> tags.",
        ),
        (
            "thinking",
            "reference-code",
            True,
            "P Please output the thinking process in <think> </think> and final answer in "
            "<answer> </answer> tags.",
        ),
        ("no-thinking", "reference-code", False, "P Please directly output the answer name."),
    ],
)
def test_prompt_texts(style, wording, base, expected):
    assert render_prompt(style, "P", wording, base=base) == expected


def test_unknown_style_is_named():
    with pytest.raises(ValueError, match="'thinkng'"):
        render_prompt("thinkng", "P")
