"""Literal tables for answer parsing, the rewards (protocol section 5) and metrics (section 7)."""

import pytest

from clsrl.answers import (
    answer_then_reason_format,
    extract_eval_answer,
    lenient_match,
    no_thinking_accuracy,
    strict_match,
    think_answer_agrees,
    thinking_accuracy,
    thinking_format,
)

OPTION_ECHO = "red, green, blue, yellow, purple"


@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        ("<think>a</think><answer>b</answer>", 1.0),  # minimal well-formed
        ("<think>a</think>\n \n<answer>b</answer>", 1.0),  # whitespace between the blocks
        ("<think>multi\nline</think><answer>two\nlines</answer>", 1.0),  # DOTALL inside the tags
        ("<think>a</think><answer>b</answer>\n", 0.0),  # trailing newline after </answer>
        ("\n<think>a</think><answer>b</answer>", 0.0),  # anything before <think>
        ("<answer>b</answer>", 0.0),  # no think block
        ("<think>a</think>", 0.0),  # no answer block
        ("<answer>b</answer><think>a</think>", 0.0),  # wrong order
        ("b", 0.0),  # no tags at all
    ],
)
def test_thinking_format_reward(completion, expected):
    assert thinking_format(completion) == expected


@pytest.mark.parametrize(
    ("completion", "truth", "expected"),
    [
        ("<think>x</think><answer>Red</answer>", "red", 1.0),  # case is ignored
        ("<think>x</think><answer> red </answer>", " red\n", 1.0),  # both sides stripped
        ("<answer>dark red</answer>", "red", 0.0),  # no substring match
        ("<answer>grilled cheese</answer>", "grilled_cheese", 0.0),  # no `_`/space folding
        ("<answer>red\n</answer>", "red", 0.0),  # answer spans lines: not DOTALL, no tag match
        ("red", "red", 1.0),  # no tags: the whole completion, stripped
        ("  red\n", "red", 1.0),  # no tags, whitespace stripped
        ("<answer>red</answer><answer>blue</answer>", "blue", 0.0),  # the first tag counts
        ("<answer>red</answer>\n", "red", 1.0),  # trailing newline after </answer> is fine here
    ],
)
def test_thinking_accuracy_reward(completion, truth, expected):
    assert thinking_accuracy(completion, truth) == expected


@pytest.mark.parametrize(
    ("completion", "truth", "expected"),
    [
        ("red", "red", 1.0),  # exact
        ("red", "red ", 1.0),  # the label is stripped
        ("Red", "red", 0.0),  # case-sensitive
        ("red\n", "red", 0.0),  # the completion is NOT stripped
        (" red", "red", 0.0),  # leading whitespace fails too
        ("<answer>red</answer>", "red", 0.0),  # tags are not parsed
        ("grilled cheese", "grilled_cheese", 0.0),  # underscores kept
    ],
)
def test_no_thinking_accuracy_reward(completion, truth, expected):
    assert no_thinking_accuracy(completion, truth) == expected


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("<think>t</think><answer>red</answer>", "red"),  # tag content
        ("<answer>\n  red\n</answer>", "red"),  # DOTALL with inner whitespace
        ("<answer>two\nlines</answer>", "two\nlines"),  # spans lines
        ("  red \n", "red"),  # no tag: the whole output stripped
        ("<answer>red", "<answer>red"),  # unclosed tag: the whole output
    ],
)
def test_extract_eval_answer(output, expected):
    assert extract_eval_answer(output) == expected


@pytest.mark.parametrize(
    ("answer", "truth", "lenient", "strict"),
    [
        ("red", "red", True, True),  # exact
        ("RED", "red", True, True),  # case
        ("dark red", "red", True, False),  # containment is lenient only
        (OPTION_ECHO, "blue", True, False),  # echoing the option list: lenient counts it
        ("grilled cheese sandwich", "grilled_cheese_sandwich", True, False),  # `_` -> space retry
        ("grilled_cheese_sandwich", "grilled_cheese_sandwich", True, True),  # raw name
        ("blue", "red", False, False),  # wrong
        ("", "red", False, False),  # empty answer
    ],
)
def test_eval_metrics(answer, truth, lenient, strict):
    assert lenient_match(answer, truth) is lenient
    assert strict_match(answer, truth) is strict


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("<think>it looks blue</think><answer>blue</answer>", True),  # agree
        ("<think>it looks blue</think><answer>red</answer>", False),  # disagree
        ("<think>red? no, blue</think><answer>blue</answer>", True),  # the last class named counts
        ("<think>no idea</think><answer>blue</answer>", None),  # no class in the thinking
        ("<answer>blue</answer>", None),  # no thinking
        ("<think>grilled cheese</think><answer>grilled_cheese</answer>", True),  # `_` variants
    ],
)
def test_think_answer_agreement(output, expected):
    assert think_answer_agrees(output, ["red", "blue", "grilled_cheese"]) is expected


@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        ("<answer>cat</answer><reason>r</reason>", 1.0),  # minimal
        ("<answer>cat</answer>\n<reason>multi\nline</reason>", 1.0),  # whitespace, DOTALL
        ("<answer>cat</answer>", 0.0),  # no reason
        ("<reason>r</reason><answer>cat</answer>", 0.0),  # wrong order
        ("<answer>cat</answer><reason>r</reason>\n", 0.0),  # trailing newline
    ],
)
def test_think_after_answer_format_reward(completion, expected):
    assert answer_then_reason_format(completion) == expected
