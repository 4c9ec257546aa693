"""The study a config describes (clsrl.workflow.study.Study): what the rules ask it, each setting
resolved once, and the same values its jobs' own resolvers give."""

from dataclasses import asdict

import pytest
import yaml

from clsrl.config import default_config, validate_config
from clsrl.evaluation.runtime import evaluation_runtime
from clsrl.questions import option_params
from clsrl.toy.settings import shipped_settings, toy_settings
from clsrl.training.runtime import training_runtime
from clsrl.views import View
from clsrl.workflow.study import Study
from tests.conftest import ROOT


def demo() -> Study:
    return Study(validate_config(yaml.safe_load((ROOT / "config.yaml").read_text())))


def test_the_views_and_targets_of_a_few_shot_and_base_to_new_study():
    study = Study(validate_config({"datasets": ["EuroSAT", "UCF101"], "methods": ["sft"]}))
    views = ["EuroSAT", "UCF101", "EuroSAT.base", "UCF101.base"]  # few-shot, then base-to-new
    assert [view.name for view in study.train_views] == views
    assert study.eval_targets(View.parse("UCF101")) == ["EuroSAT", "UCF101"]  # every dataset
    assert study.eval_targets(View.parse("UCF101.base")) == [
        "UCF101.base",
        "UCF101.new",
    ]  # its own halves


def test_a_job_gets_the_threads_devices_and_data_settings_of_the_config():
    config = validate_config(
        {
            "training": {"threads": 3, "gpus": 2},
            "evaluation": {"threads": 5, "device": "cpu", "precision": "fp32"},
            "data": {"threads": 7, "download_retries": 9},
        }
    )
    study = Study(config)
    assert study.threads("training") == 6  # per process, times one process per GPU
    assert (study.threads("evaluation"), study.threads("data")) == (5, 7)
    assert (study.eval_device, study.eval_precision) == ("cpu", "fp32")
    assert study.data_settings["download_retries"] == 9


def test_each_runtime_and_option_setting_is_the_one_its_stage_resolves():
    """One resolver per setting: the study hands on what the stage's own function gives."""
    config = validate_config({"options": {"floor_rule": "all-classes"}})
    study = Study(config)
    assert study.training_runtime() == training_runtime(config)
    assert study.evaluation_runtime() == evaluation_runtime(config)
    for view in (View("DescribableTextures"), View("OxfordPets", "base"), View("my-birds")):
        assert study.option_params(view) == option_params(config, view)
    assert study.option_params(View("OxfordPets"))["floor_rule"] == "all-classes"


@pytest.mark.parametrize(
    "view, floor_rule",
    [("EuroSAT", "paper"), ("OxfordPets", "all-classes"), ("DescribableTextures", "all-classes")],
)
def test_the_floor_rule_in_effect_is_paper_where_both_rules_list_the_same(view, floor_rule):
    config = validate_config({"options": {"floor_rule": "all-classes"}})
    assert option_params(config, View.parse(view))["floor_rule"] == floor_rule


def test_the_demo_copies_the_shipped_toy_model_and_other_settings_pretrain_one():
    assert demo().toy_model_source() == "shipped"
    assert demo().toy_model_params() == shipped_settings()["toy"]
    config = validate_config({**yaml.safe_load((ROOT / "config.yaml").read_text())})
    config["toy_model"]["steps"] += 1
    study = Study(config)
    assert study.toy_model_source() == "built" and study.shipped_toy_model() is None
    assert study.toy_model_params() == asdict(toy_settings(config))


def test_a_study_with_one_base_model_lets_a_job_leave_the_model_out():
    study = Study(default_config())
    assert study.base_model() == "Qwen/Qwen2-VL-2B-Instruct"
    assert study.training_spec("sft", "EuroSAT", 4, 1).base_model == study.base_model()
