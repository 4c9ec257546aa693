"""Model families (clsrl.families): the table, the refusal of an unknown family, and each family's
tiny random build through the study's steps: SFT (full and LoRA), CLS-RL and No-Thinking GRPO,
evaluation in both prompt styles (`-m families`)."""

import pytest

from clsrl.config import TINY_BUILDS, validate_config
from clsrl.families import FAMILIES, UnknownFamilyError, family_for
from tests.conftest import paper_eval, paper_options


def test_every_family_has_a_tiny_build_of_its_own_architecture():
    from clsrl.tiny_model import SHAPES

    for model_type, family in FAMILIES.items():
        assert family.tiny_builtin in TINY_BUILDS, family.name
        assert SHAPES[TINY_BUILDS[family.tiny_builtin]].architecture == model_type
        validate_config({"base_model": f"builtin:{family.tiny_builtin}"})  # a known built-in


def test_an_unknown_family_is_refused_with_its_model_type_and_what_to_add():
    with pytest.raises(UnknownFamilyError) as refused:
        family_for("llava_onevision", "llava-hf/llava-onevision-qwen2-0.5b-ov-hf")
    message = str(refused.value)
    assert "model_type 'llava_onevision'" in message
    assert "llava-hf/llava-onevision-qwen2-0.5b-ov-hf" in message
    assert "clsrl/families.py" in message and "Qwen2.5-VL (qwen2_5_vl)" in message


def test_loading_a_model_of_an_unknown_family_names_it(tiny_model_dir, tmp_path, monkeypatch):
    from clsrl import families
    from clsrl.modeling import load_model_and_processor

    monkeypatch.setattr(families, "FAMILIES", {})
    with pytest.raises(UnknownFamilyError, match="model_type 'qwen2_vl'"):
        load_model_and_processor(str(tiny_model_dir), device="cpu")


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def family_model(request, tmp_path_factory):
    """(model_type, the family's tiny random build, saved like a hub checkpoint)."""
    from clsrl.datasets.demo import demo_texts
    from clsrl.tiny_model import build_tiny_model

    shape = TINY_BUILDS[FAMILIES[request.param].tiny_builtin]
    folder = tmp_path_factory.mktemp(request.param) / "model"
    return request.param, build_tiny_model(folder, seed=0, corpus=demo_texts(), shape=shape)


@pytest.mark.families
def test_a_family_loads_through_the_auto_classes_as_its_checkpoint_would(family_model):
    from clsrl.modeling import load_model_and_processor

    model_type, folder = family_model
    model, processor = load_model_and_processor(str(folder), device="cpu")
    assert model.config.model_type == model_type
    assert family_for(model.config.model_type) is FAMILIES[model_type]
    vocabulary = processor.tokenizer.get_vocab()
    assert all(token in vocabulary for token in FAMILIES[model_type].placeholder_tokens)


@pytest.mark.families
def test_a_family_goes_through_training_and_evaluation(family_model, colours_dir, tmp_path):
    import pandas as pd

    from clsrl.datasets.canonical import load_dataset
    from clsrl.evaluate import evaluate_questions
    from clsrl.fewshot import few_shot_questions
    from clsrl.inference import TransformersGenerator
    from clsrl.modeling import load_model_and_processor
    from clsrl.questions import make_questions, write_questions
    from clsrl.train import LOG_HISTORY_FILE, train
    from tests.test_train import spec_for

    model_type, folder = family_model
    dataset = load_dataset(colours_dir)
    split = tmp_path / "train.jsonl"
    write_questions(split, few_shot_questions(dataset, 1, 1, paper_options(seed=1)))
    test = make_questions(dataset, "test", paper_options())[:8]
    runs = {
        "sft": spec_for("sft", {"max_steps": 2}),
        "sft-lora": spec_for("sft", {"max_steps": 2, "lora": {"enabled": True}}),
        "cls-rl": spec_for("cls-rl", {"max_steps": 2}),
        "no-thinking": spec_for("no-thinking", {"max_steps": 2}),
    }
    for name, spec in runs.items():
        output = tmp_path / name
        train(spec, str(folder), split, colours_dir, output, tmp_path / f"ck-{name}")
        assert pd.read_csv(output / LOG_HISTORY_FILE)["step"].max() == 2, (model_type, name)
        model, processor = load_model_and_processor(str(output), device="cpu")
        assert model.config.model_type == model_type  # saved as the same family
        style = "thinking" if name == "cls-rl" else "no-thinking"
        settings = paper_eval(style, max_new_tokens=8, image_resize=56)
        generator = TransformersGenerator(model, processor)
        rows, metrics = evaluate_questions(generator, test, dataset.root, settings, batch_size=4)
        assert len(rows) == len(test) and metrics["n"] == len(test), (model_type, name)


@pytest.mark.families
def test_a_study_on_a_tiny_family_model_plans_its_build(tmp_path):
    import yaml

    from tests.conftest import run_snakemake

    config = tmp_path / "family.yaml"
    config.write_text(
        yaml.safe_dump({"base_model": "builtin:tiny-qwen2.5-vl", "datasets": ["demo-colours"]})
    )
    planned = run_snakemake(tmp_path, "--dry-run", configfile=config)
    assert "results/base_model/tiny-qwen2.5-vl" in planned.stdout
    assert "build_tiny_model" in planned.stdout and "build_toy_model" not in planned.stdout
