"""Evaluating one model on one target (clsrl.evaluation.evaluate) with a stand-in generator whose
answers are chosen per question: what each prediction and the metrics say, and that batching
changes nothing of them."""

import pytest

from clsrl.datasets.canonical import load_dataset
from clsrl.evaluation.evaluate import evaluate_questions
from clsrl.prompts import render_prompt
from clsrl.questions import make_questions
from tests.conftest import paper_eval, paper_options


class ScriptedGenerator:
    """A backend that answers each prompt from `answers` (problem text -> output) and records
    the batches it was called with."""

    def __init__(self, answers: dict[str, str]):
        self.answers, self.batches = answers, []

    def __call__(self, images, prompts, max_new_tokens):
        assert len(images) == len(prompts)
        self.batches.append((len(images), max_new_tokens))
        return [self.answers[prompt] for prompt in prompts]


@pytest.fixture(scope="module")
def questions(colours_dir):
    return make_questions(load_dataset(colours_dir), "test", paper_options())[:10]


def scripted(questions, style, output_of) -> ScriptedGenerator:
    """A generator answering question i with `output_of(i, question)`, in the rendered prompt."""
    settings = paper_eval(style)
    return ScriptedGenerator(
        {
            render_prompt(style, q["problem"], settings.wording, base=False): output_of(i, q)
            for i, q in enumerate(questions)
        }
    )


def test_each_prediction_scores_its_own_answer_and_the_metrics_count_them(questions, colours_dir):
    """Questions 0-5 answered right, 6 with another class, 7-9 with no class at all."""
    other = {q["classname"] for q in questions}

    def output_of(i, question):
        if i < 6:
            return question["classname"]
        if i == 6:
            return next(name for name in sorted(other) if name != question["classname"])
        return "I cannot tell."

    generator = scripted(questions, "no-thinking", output_of)
    predictions, metrics = evaluate_questions(
        generator, questions, colours_dir, paper_eval("no-thinking"), batch_size=4
    )
    assert [p["image"] for p in predictions] == [q["image"] for q in questions]
    assert [p["lenient_correct"] for p in predictions] == [True] * 6 + [False] * 4
    assert metrics["n"] == 10
    assert metrics["lenient_accuracy"] == pytest.approx(60.0)
    assert metrics["strict_accuracy"] == pytest.approx(60.0)
    assert generator.batches == [(4, 1024), (4, 1024), (2, 1024)]  # the paper's max_new_tokens


def test_a_thinking_answer_is_read_from_its_answer_tags(questions, colours_dir):
    def output_of(i, question):
        wrong = "not-a-colour" if i % 2 else question["classname"]
        return f"<think>It looks like {question['classname']}.</think> <answer>{wrong}</answer>"

    generator = scripted(questions, "thinking", output_of)
    predictions, metrics = evaluate_questions(
        generator, questions, colours_dir, paper_eval("thinking"), batch_size=3
    )
    assert [p["lenient_correct"] for p in predictions] == [i % 2 == 0 for i in range(10)]
    assert metrics["lenient_accuracy"] == pytest.approx(50.0)


@pytest.mark.parametrize("batch_size", [1, 3, 10, 64])
def test_the_batch_size_changes_no_prediction(questions, colours_dir, batch_size):
    def output_of(i, question):
        return question["classname"] if i % 3 else "blue"

    reference, _ = evaluate_questions(
        scripted(questions, "no-thinking", output_of),
        questions,
        colours_dir,
        paper_eval("no-thinking"),
        batch_size=2,
    )
    predictions, metrics = evaluate_questions(
        scripted(questions, "no-thinking", output_of),
        questions,
        colours_dir,
        paper_eval("no-thinking"),
        batch_size=batch_size,
    )
    assert predictions == reference
    assert metrics["batch_size"] == batch_size
