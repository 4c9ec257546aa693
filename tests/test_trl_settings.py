"""TRL settings are checked against TRL's own config classes before any job runs."""

import dataclasses

import pytest
import yaml

from clsrl.config import ConfigError, validate_config
from clsrl.trl_settings import (
    MANAGED,
    STRING_CHOICES,
    installed_trl_fields,
    trl_fields,
    trl_types,
)
from clsrl.workflow.study import Study


def test_the_shipped_field_names_and_types_are_the_installed_trls():
    installed = installed_trl_fields()
    assert {trainer: sorted(names) for trainer, names in trl_fields().items()} == {
        "grpo": installed["grpo"],
        "sft": installed["sft"],
    }, "TRL changed: run `python -m clsrl.trl_settings --write`"
    assert trl_types() == installed["types"], (
        "TRL changed: run python -m clsrl.trl_settings --write"
    )


def test_every_managed_key_is_a_real_trl_setting():
    assert set(MANAGED) <= trl_fields()["grpo"] | trl_fields()["sft"]


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        (  # a GRPO-only setting under SFT
            {"training": {"trl": {"sft": {"num_generations": 8}}}},
            "'training.trl.sft.num_generations' is not a setting of trl.SFTConfig",
        ),
        (  # a key clsrl sets: the message names the config key to use
            {"training": {"trl": {"grpo": {"per_device_train_batch_size": 8}}}},
            "use training.grpo_completions_per_device or training.sft_examples_per_device",
        ),
        (
            {"training": {"trl": {"grpo": {"bf16": False}}}},
            "'training.trl.grpo.bf16' is set by clsrl: use training.precision instead",
        ),
        (  # a variant's key is checked against its own trainer
            {"method_variants": {"s": {"extends": "sft", "trl": {"beta": 0.1}}}},
            "'method_variants.s.trl.beta' is not a setting of trl.SFTConfig",
        ),
        (  # zero-shot trains nothing
            {"method_variants": {"z": {"extends": "zero-shot", "trl": {"beta": 0.1}}}},
            "'method_variants.z.trl': z extends a method that trains nothing",
        ),
    ],
)
def test_bad_trl_settings_are_named_with_the_fix(config, fragment):
    with pytest.raises(ConfigError) as error:
        validate_config(config)
    assert fragment in str(error.value)


def test_good_trl_settings_pass():
    config = {
        "training": {
            "trl": {"grpo": {"beta": 0.0, "num_generations": 8}, "sft": {"max_length": None}}
        },
        "method_variants": {"v": {"extends": "cls-rl", "trl": {"loss_type": "dr_grpo"}}},
    }
    assert validate_config(config)["training"]["trl"]["grpo"]["num_generations"] == 8


# ---------------------------------------------------------------------------------------------
# Values (issue 27): checked against TRL's own field types, choices and ranges before any job


def grpo(**settings) -> dict:
    return {"training": {"trl": {"grpo": settings}}}


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        (
            grpo(num_generations="four"),
            "num_generations' is 'four' (str); trl.GRPOConfig takes int",
        ),
        (grpo(learning_rate=[1]), "learning_rate' is [1] (list); trl.GRPOConfig takes float"),
        (grpo(loss_type="drgrpo"), "Did you mean 'dr_grpo'?"),
        (grpo(lr_scheduler_type="cosin"), "takes one of linear, cosine,"),
        (grpo(num_generations=0), "num_generations' is 0; GRPO compares the completions"),
        (grpo(num_generations=1), "at least 2"),
        (grpo(temperature=-1), "temperature' is -1.0; sampling needs a temperature above 0"),
        (grpo(temperature=0), "above 0"),
        (grpo(max_completion_length=6.5), "max_completion_length' is 6.5 (float)"),
        (grpo(top_p=1.5), "top_p is a probability mass in (0, 1]"),
        (grpo(num_generations=3), "num_generations 3 does not divide training.grpo_completions"),
        (
            {"method_variants": {"v": {"extends": "no-thinking", "trl": {"beta": "a lot"}}}},
            "method_variants.v.trl.beta' is 'a lot' (str); trl.GRPOConfig takes float",
        ),
        ({"training": {"trl": {"sft": {"loss_type": "nl"}}}}, "takes one of nll, dft"),
        (grpo(scale_rewards="grup"), "Did you mean 'group'?"),
    ],
)
def test_bad_trl_values_are_named_before_any_job(config, fragment):
    with pytest.raises(ConfigError) as error:
        validate_config(config)
    assert fragment in str(error.value)


def test_numbers_written_as_yaml_strings_are_numbers():
    # YAML 1.1 (PyYAML) reads 1e-6 and 4e-2, written without a dot, as strings
    config = yaml.safe_load(
        "training: {trl: {grpo: {learning_rate: 1e-6, beta: 4e-2}}}\n"
        "method_variants: {v: {extends: no-thinking, trl: {learning_rate: 2e-6}}}\n"
    )
    assert config["training"]["trl"]["grpo"]["learning_rate"] == "1e-6"
    validated = validate_config(config)
    assert validated["training"]["trl"]["grpo"] == {"learning_rate": 1e-6, "beta": 0.04}
    assert validated["method_variants"]["v"]["trl"] == {"learning_rate": 2e-6}
    spec = Study(validated).training_spec("v", "demo-colours", 4, 1)
    assert spec.trl["learning_rate"] == 2e-6  # what the training job gets
    Study(validated).summary()  # the plan's summary formats it (it crashed on the string)


def test_what_the_checks_accept_trl_accepts_and_its_choices_are_trls():
    trl = pytest.importorskip("trl")
    settings = {"learning_rate": "1e-6", "lr_scheduler_type": "cosine", "scale_rewards": False}
    validated = validate_config(grpo(**settings))["training"]["trl"]["grpo"]
    cpu = {"output_dir": "unused", "use_cpu": True, "bf16": False}
    trl.GRPOConfig(**cpu, **validated)  # constructs
    with pytest.raises(ValueError, match="cosin"):  # a choice the checks refuse, TRL refuses
        trl.GRPOConfig(**cpu, lr_scheduler_type="cosin")
    fields = {f.name: f for f in dataclasses.fields(trl.GRPOConfig)}
    sft_fields = {f.name: f for f in dataclasses.fields(trl.SFTConfig)}
    for trainer, table in STRING_CHOICES.items():
        known = fields if trainer == "grpo" else sft_fields
        for key, choices in table.items():
            help_text = known[key].metadata["help"]
            assert all(f"{choice}'" in help_text for choice in choices), (trainer, key)
