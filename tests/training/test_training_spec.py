"""The resolved training settings: the paper preset checked against protocol section 6."""

import dataclasses
import hashlib
import json

import pytest

from clsrl.config import ConfigError, validate_config
from clsrl.training.spec import TrainingSpec, spec_checkpoint_dir, training_spec

PAPER = validate_config({"methods": ["zero-shot", "sft", "cls-rl", "no-thinking"]})


def paper_spec(method="cls-rl", dataset="Caltech101", gpus=8):
    config = {**PAPER, "training": {**PAPER["training"], "gpus": gpus}}
    return training_spec(config, method, dataset, shots=4, seed=1)


def test_paper_grpo_preset_matches_protocol_section_6():
    spec = paper_spec()
    print(json.dumps(spec.as_mapping(), indent=2))  # the resolved preset (pytest -s)
    trl = spec.trl
    assert trl["loss_type"] == "grpo"
    assert trl["beta"] == 0.04
    assert trl["num_generations"] == 4
    assert trl["temperature"] == 1.0 and trl["top_k"] == 50 and trl["top_p"] == 1.0
    assert trl["learning_rate"] == 1e-6 and trl["lr_scheduler_type"] == "linear"
    assert trl["warmup_steps"] == 0 and trl["weight_decay"] == 0.0
    assert trl["scale_rewards"] == "group" and trl["num_iterations"] == 1
    assert trl["max_completion_length"] == 1024
    assert trl["gradient_checkpointing"] is False
    # 8 GPUs x 4 completions (one prompt) x accumulation 2 = 64 completions per step
    assert (trl["per_device_train_batch_size"], trl["gradient_accumulation_steps"]) == (4, 2)
    assert spec.rewards == ("thinking_format", "thinking_accuracy")
    assert spec.prompt_style == "thinking" and spec.image_resize == 384
    assert spec.lora is None and spec.precision == "auto"
    assert "max_prompt_length" not in trl  # never truncate prompts with image tokens


@pytest.mark.parametrize("gpus", [1, 2, 4, 8, 16])
def test_64_completions_per_step_on_any_gpu_count(gpus):
    trl = paper_spec(gpus=gpus).trl
    total = trl["per_device_train_batch_size"] * trl["gradient_accumulation_steps"] * gpus
    assert total == 64


def test_a_gpu_count_that_cannot_split_the_batch_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="training.gpus"):
        paper_spec(gpus=3)


@pytest.mark.parametrize(
    ("dataset", "epochs"),
    [("ImageNet", 10), ("SUN397", 25), ("EuroSAT", 100), ("OxfordPets", 50), ("UCF101", 50)],
)
def test_paper_epochs_per_dataset(dataset, epochs):
    assert paper_spec(dataset=dataset).trl["num_train_epochs"] == epochs


def test_no_thinking_and_sft():
    no_thinking = paper_spec("no-thinking")
    assert no_thinking.rewards == ("no_thinking_accuracy",)
    assert no_thinking.prompt_style == "no-thinking"
    sft = paper_spec("sft")
    assert sft.trainer == "sft" and sft.prompt_style == "no-thinking"
    assert sft.trl["completion_only_loss"] is True and sft.trl["max_length"] is None
    per_step = sft.trl["per_device_train_batch_size"] * sft.trl["gradient_accumulation_steps"]
    assert per_step * 8 == 16  # the RL step's 16 prompts, on the paper's 8 GPUs


def test_a_variant_by_config_alone():
    config = validate_config(
        {
            "methods": ["cls-rl", "drgrpo8"],
            "method_variants": {
                "drgrpo8": {"extends": "cls-rl", "trl": {"loss_type": "dr_grpo", "beta": 0.0}},
            },
            "training": {"trl": {"grpo": {"max_completion_length": 256}}},
        }
    )
    spec = training_spec(config, "drgrpo8", "EuroSAT", shots=4, seed=2)
    assert spec.trl["loss_type"] == "dr_grpo" and spec.trl["beta"] == 0.0
    assert spec.trl["max_completion_length"] == 256  # the config-wide override applies
    assert spec.rewards == ("thinking_format", "thinking_accuracy")  # inherited
    assert training_spec(config, "cls-rl", "EuroSAT", 4, 2).trl["beta"] == 0.04  # untouched


def test_only_the_changed_method_changes_its_spec():
    changed = validate_config(
        {"method_variants": {}, "training": {"trl": {"sft": {"learning_rate": 3e-5}}}}
    )
    assert training_spec(changed, "sft", "x", 4, 1) != training_spec(PAPER, "sft", "x", 4, 1)
    assert training_spec(changed, "cls-rl", "x", 4, 1) == training_spec(PAPER, "cls-rl", "x", 4, 1)


def test_trainer_seed_split_uses_the_few_shot_seed():
    config = validate_config({"training": {"trainer_seed": "split"}})
    assert training_spec(config, "no-thinking", "x", 4, 3).trl["seed"] == 3
    assert paper_spec("no-thinking").trl["seed"] == 100  # the paper's text


def test_a_variant_of_an_unknown_method_is_a_config_error():
    with pytest.raises(ConfigError, match="method_variants.mine.extends"):
        validate_config({"method_variants": {"mine": {"extends": "clsrl"}}})


def test_think_after_answer_and_lora_variants_by_config():
    config = validate_config(
        {
            "methods": ["taa", "nt-lora"],
            "method_variants": {
                "taa": {
                    "extends": "cls-rl",
                    "prompt_style": "think-after-answer",
                    "rewards": ["answer_then_reason_format", "thinking_accuracy"],
                },
                "nt-lora": {"extends": "no-thinking", "lora": True},
            },
        }
    )
    taa = training_spec(config, "taa", "x", 4, 1)
    assert taa.prompt_style == "think-after-answer"
    assert taa.rewards == ("answer_then_reason_format", "thinking_accuracy")
    assert taa.lora is None
    assert training_spec(config, "nt-lora", "x", 4, 1).lora["r"] == 64


def test_trackers_change_how_a_job_reports_never_its_spec():
    """training.report_to lives in the job's runtime (no param): no training reruns for it."""
    from clsrl.workflow.study import Study

    tracked = validate_config({"training": {"report_to": ["tensorboard"]}})
    for method in ("sft", "cls-rl", "no-thinking"):
        assert training_spec(tracked, method, "x", 4, 1) == training_spec(PAPER, method, "x", 4, 1)
    assert Study(tracked).training_runtime().report_to == ("tensorboard",)
    assert Study(PAPER).training_runtime().report_to == ()


# Each spec's param (Snakemake compares its repr) and checkpoint hash as the dict-based specs
# wrote them before TrainingSpec (022005e): a job finished or checkpointed then is neither rerun
# nor restarted after it.
BEFORE_THE_CLASS = [
    ("cls-rl", "StanfordCars", "b5d4abba37d7", "fdc5ae0649dd"),  # with rule_versions
    ("no-thinking", "EuroSAT.base", "918bcec74ffb", "9af5c971229b"),
    ("sft", "EuroSAT", "7c85b133b279", "78ab47d84118"),
]


@pytest.mark.parametrize(("method", "view", "checkpoint_hash", "param_digest"), BEFORE_THE_CLASS)
def test_the_spec_mapping_is_the_param_and_hash_that_finished_jobs_hold(
    method, view, checkpoint_hash, param_digest
):
    config = validate_config(
        {
            "datasets": ["StanfordCars", "EuroSAT"],
            "methods": ["cls-rl", "no-thinking", "sft"],
            "training": {"accuracy_rule": "reference-code", "lora": {"enabled": True}},
        }
    )
    spec = training_spec(config, method, view, 4, 1)
    mapping = spec.as_mapping()
    assert hashlib.sha256(repr(mapping).encode()).hexdigest()[:12] == param_digest
    assert spec.hash == checkpoint_hash
    assert spec_checkpoint_dir("ck", spec).name == f"spec-{checkpoint_hash}"
    stored = json.loads(json.dumps(mapping))  # as training_spec.json and the launcher carry it
    assert TrainingSpec.from_mapping(stored) == spec
    assert repr(TrainingSpec.from_mapping(stored).as_mapping()) == repr(mapping)


def test_a_spec_cannot_be_changed_in_place_and_a_wrong_mapping_says_what_is_off():
    spec = paper_spec()
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.seed = 2
    with pytest.raises(TypeError):
        spec.trl["learning_rate"] = 1.0
    assert spec.replace(seed=2).seed == 2 and spec.seed == 1
    mapping = {**spec.as_mapping(), "learning_rate": 1.0}
    del mapping["trl"]
    with pytest.raises(ValueError, match="missing trl; unknown learning_rate"):
        TrainingSpec.from_mapping(mapping)
