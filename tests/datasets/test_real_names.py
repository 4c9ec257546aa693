"""Facts that follow from the 11 benchmarks' real class names (issue 26), checked against what the
code ships: the registry's derived fields, the docs' tables, and prompts at real length."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from PIL import Image

from clsrl.datasets.benchmarks import BENCHMARKS, CANONICAL_ORDER
from clsrl.datasets.canonical import CanonicalDataset
from clsrl.datasets.name_facts import (
    lenient_pairs,
    longest_options,
    math_verify_classes,
    shared_names,
)
from clsrl.datasets.registry import math_verify_may_fire
from clsrl.prompts import PROMPT_STYLES, choice_count, problem_text, render_prompt
from clsrl.questions import OptionSettings, make_questions
from tests.real_names import (
    FAMILY_COLUMNS,
    MARKERS,
    PAIRS_DOC,
    TABLE_PAGES,
    class_test_items,
    marked_tables,
    pairs_document,
    real_classnames,
    with_tables,
)

math_verify = pytest.importorskip("math_verify", reason="pip install 'clsrl[reference]'")


@pytest.mark.parametrize("name", CANONICAL_ORDER)
def test_the_registry_agrees_with_the_real_names(name):
    names = real_classnames(name)
    benchmark = BENCHMARKS[name]
    assert len(names) == benchmark.classes
    assert sorted(shared_names(names)) == sorted(benchmark.shared_names)
    readable = math_verify_classes(names)  # the reference reward's own parse of each solution
    assert benchmark.math_verify_fires == bool(readable)
    assert math_verify_may_fire(name) == bool(readable)
    counts = class_test_items(name)
    if counts is not None:
        assert sorted(counts) == sorted(set(names))


def test_math_verify_reads_the_protocols_counts_of_class_names():
    # protocol section 5: 28 of StanfordCars' 196 names, 20 of FGVCAircraft's 100
    assert len(math_verify_classes(real_classnames("StanfordCars"))) == 28
    assert len(math_verify_classes(real_classnames("FGVCAircraft"))) == 20
    assert "BAE 146-200" in math_verify_classes(real_classnames("FGVCAircraft"))


def test_coops_renames_and_drops_are_the_real_split_files_names():
    eurosat = set(real_classnames("EuroSAT"))
    renames = BENCHMARKS["EuroSAT"].rename_classes
    assert set(renames.values()) <= eurosat and not set(renames) & eurosat
    assert not set(BENCHMARKS["Caltech101"].drop_classes) & set(real_classnames("Caltech101"))


def test_imagenets_shared_names_fall_in_one_half_of_base_to_new():
    names = list(real_classnames("ImageNet"))
    assert shared_names(names) == {"missile": [657, 744], "sunglasses": [836, 837]}
    base = math.ceil(len(names) / 2)  # neither name is both a base and a new class
    for labels in shared_names(names).values():
        assert len({label < base for label in labels}) == 1


def test_a_shared_name_is_one_option():
    names = ["missile", "dog", "missile"]
    items = pd.DataFrame(
        [{"image": f"{label}.jpg", "label": label, "split": "test"} for label in range(3)]
    )
    dataset = CanonicalDataset("/unused", "toy", "Q?", names, items)
    settings = OptionSettings(0.4, 30, 100, "paper", False, seed=1)
    for question in make_questions(dataset, "test", settings):
        assert sorted(question["options"]) == ["dog", "missile"]
    assert [q["classname"] for q in make_questions(dataset, "test", settings)] == names


def test_lenient_pairs_are_found_by_the_metrics_own_rule():
    caltech = lenient_pairs(real_classnames("Caltech101"))
    assert ("ant", "elephant") in caltech and ("chair", "wheelchair") in caltech
    assert ("rose", "desert-rose") in lenient_pairs(real_classnames("OxfordFlowers"))
    assert lenient_pairs(real_classnames("EuroSAT")) == []


def test_the_docs_tables_and_the_pairs_document_are_computed_from_the_real_names():
    assert marked_tables() == list(MARKERS)  # every table is in a page
    for page in TABLE_PAGES:
        text = page.read_text(encoding="utf-8")
        assert text == with_tables(text), f"{page.name}: rerun python -m tests.real_names"
    assert PAIRS_DOC.read_text(encoding="utf-8") == pairs_document()


@pytest.mark.parametrize("architecture", FAMILY_COLUMNS)
def test_the_longest_option_list_of_every_benchmark_reaches_every_family_whole(architecture):
    """The evaluation's model inputs (clsrl.evaluation.inference.prompt_inputs) hold every option of
    the longest list each dataset can give, in every prompt style: nothing truncates them."""
    from clsrl.evaluation.inference import prompt_inputs
    from clsrl.models.tiny import build_processor, build_tokenizer

    corpus = [name for dataset in CANONICAL_ORDER for name in real_classnames(dataset)]
    tokenizer = build_tokenizer(corpus, architecture)
    processor = build_processor(tokenizer, 56 * 56, 56 * 56, architecture)
    image = Image.new("RGB", (56, 56))
    for dataset in CANONICAL_ORDER:
        names = list(dict.fromkeys(real_classnames(dataset)))
        options = longest_options(names, choice_count(len(names), 0.4))
        problem = problem_text(BENCHMARKS[dataset].question, options)
        for style in PROMPT_STYLES:
            inputs = prompt_inputs(processor, [image], [render_prompt(style, problem)])
            decoded = processor.tokenizer.decode(inputs["input_ids"][0])
            assert problem in decoded, (dataset, style)
