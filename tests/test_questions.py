"""Questions built from a canonical dataset: fixed option lists, deterministic from the seed."""

import pandas as pd
import pytest

from clsrl.datasets.canonical import CanonicalDataset
from clsrl.questions import make_questions, read_questions, write_questions
from tests.conftest import paper_options

CLASSNAMES = [f"class_{i}" for i in range(40)]


@pytest.fixture
def dataset(tmp_path):
    items = pd.DataFrame(
        {
            "image": [f"images/{i}.png" for i in range(80)],
            "label": [i % 40 for i in range(80)],
            "split": ["test"] * 80,
        }
    )
    return CanonicalDataset(
        root=tmp_path, name="toy", question="What is it?", classnames=CLASSNAMES, items=items
    )


def test_each_question_lists_the_truth_among_the_protocol_count(dataset):
    questions = make_questions(dataset, "test", paper_options(ratio=0.4))
    assert len(questions) == 80
    for question in questions:
        assert len(question["options"]) == 30  # floor(0.4 * 40) = 16 -> min(30, 40)
        assert question["classname"] in question["options"]
        assert question["classname"] == CLASSNAMES[question["label"]]
        assert question["problem"].startswith("What is it?\nPlease choose one from list [ ")


def test_same_seed_same_lists_other_seed_other_lists(dataset):
    first = make_questions(dataset, "test", paper_options(seed=1))
    assert first == make_questions(dataset, "test", paper_options(seed=1))
    assert first != make_questions(dataset, "test", paper_options(seed=2))


def test_lists_do_not_depend_on_item_order(dataset):
    reordered = CanonicalDataset(
        root=dataset.root,
        name=dataset.name,
        question=dataset.question,
        classnames=dataset.classnames,
        items=dataset.items.iloc[::-1].reset_index(drop=True),
    )
    forward = {q["image"]: q["options"] for q in make_questions(dataset, "test", paper_options())}
    backward = {
        q["image"]: q["options"] for q in make_questions(reordered, "test", paper_options())
    }
    assert forward == backward


def test_class_subset_lists_only_those_classes(dataset):
    base = list(range(20))
    questions = make_questions(dataset, "test", paper_options(ratio=0.8), classes=base)
    assert {q["label"] for q in questions} == set(base)
    allowed = {CLASSNAMES[i] for i in base}
    for question in questions:
        assert set(question["options"]) <= allowed
        assert len(question["options"]) == 20  # floor(0.8 * 20) = 16 -> min(30, 20)


def test_open_set_has_no_list(dataset):
    question = make_questions(dataset, "test", paper_options(open_set=True))[0]
    assert question["options"] is None and question["problem"] == "What is it?"


def test_round_trip(dataset, tmp_path):
    questions = make_questions(dataset, "test", paper_options())
    write_questions(tmp_path / "q.jsonl", questions)
    assert read_questions(tmp_path / "q.jsonl") == questions
