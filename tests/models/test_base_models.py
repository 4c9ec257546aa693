"""Several base models in one study (clsrl.models.base_models): labels, config errors, and every job
of the study per model. The workflow side (one table with both, reruns limited to an added model)
is in tests/workflow/test_reruns.py."""

import pytest

from clsrl.config import ConfigError, validate_config
from clsrl.models.base_models import base_models, model_label
from clsrl.workflow.study import Study

TWO = ["builtin:tiny-qwen2-vl", "builtin:tiny-qwen2.5-vl"]


@pytest.mark.parametrize(
    ("model", "label"),
    [
        ("Qwen/Qwen2-VL-2B-Instruct", "Qwen2-VL-2B-Instruct"),
        ("HuggingFaceTB/SmolVLM-256M-Instruct", "SmolVLM-256M-Instruct"),
        ("builtin:tiny-qwen2.5-vl", "tiny-qwen2.5-vl"),
        ("/models/my-qwen/", "my-qwen"),
        ("./checkpoints/run-3/best", "best"),
    ],
)
def test_a_label_comes_from_the_model_alone(model, label):
    assert model_label(model) == label
    assert base_models([model, "builtin:toy-qwen2-vl"])[label] == model  # whatever else is listed


def test_one_model_a_list_or_labels_of_your_own():
    assert base_models("Qwen/Qwen2-VL-2B-Instruct") == {
        "Qwen2-VL-2B-Instruct": "Qwen/Qwen2-VL-2B-Instruct"
    }
    assert list(base_models(TWO)) == ["tiny-qwen2-vl", "tiny-qwen2.5-vl"]  # config order
    mine = {"qwen3": "Qwen/Qwen3-VL-2B-Instruct", "smol": "/models/smolvlm"}
    assert base_models(validate_config({"base_model": mine})["base_model"]) == mine


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (["org-a/model", "org-b/model"], "both get the label 'model'"),
        ({"my model": "org/model"}, "label 'my model' cannot name a folder"),
        ([], "should be non-empty"),
        (["org/model", "org/model"], "non-unique"),
        (["builtin:tiny-qwen3"], "unknown built-in model 'builtin:tiny-qwen3'"),
        ({"a": ""}, "'base_model.a'"),
    ],
)
def test_bad_base_models_are_refused_naming_the_key_and_the_fix(value, message):
    with pytest.raises(ConfigError, match="config key 'base_model") as refused:
        validate_config({"base_model": value})
    assert message in str(refused.value)


def test_a_clash_of_labels_says_how_to_name_them():
    with pytest.raises(ConfigError) as refused:
        validate_config({"base_model": ["/data/a/model", "/data/b/model"]})
    assert "base_model: {model-a: /data/a/model, model-b: /data/b/model}" in str(refused.value)


def test_every_job_of_the_study_is_made_once_per_base_model():
    one = Study(validate_config({"datasets": ["EuroSAT"], "base_model": TWO[0]}))
    two = Study(validate_config({"datasets": ["EuroSAT"], "base_model": TWO}))
    assert len(two.trained_runs()) == 2 * len(one.trained_runs())
    assert len(two.zero_shot_metrics()) == 2 * len(one.zero_shot_metrics())
    assert len(two.trained_metrics()) == 2 * len(one.trained_metrics())
    # the first model's jobs are the same paths with a second model listed: none reruns
    assert set(one.trained_metrics()) < set(two.trained_metrics())
    assert set(one.zero_shot_metrics()) < set(two.zero_shot_metrics())


def test_a_training_spec_and_record_name_their_base_model():
    study = Study(validate_config({"datasets": ["EuroSAT"], "base_model": TWO}))
    spec = study.training_spec("sft", "EuroSAT", 4, 1, model="tiny-qwen2.5-vl")
    assert spec.base_model == "builtin:tiny-qwen2.5-vl"
    one = Study(validate_config({"datasets": ["EuroSAT"], "base_model": TWO[1]}))
    assert one.training_spec("sft", "EuroSAT", 4, 1) == spec  # the same job as when alone
    record = study.eval_record("tiny-qwen2.5-vl", "zero-shot", "thinking", one.train_views[0])
    assert (record["model"], record["base_model"]) == ("tiny-qwen2.5-vl", TWO[1])
    with pytest.raises(ValueError, match="several base models"):
        study.training_spec("sft", "EuroSAT", 4, 1)
