"""TRL settings are checked against TRL's own config classes before any job runs."""

import pytest

from clsrl.config import ConfigError, validate_config
from clsrl.trl_settings import MANAGED, installed_trl_fields, trl_fields


def test_the_shipped_field_names_are_the_installed_trls():
    installed = installed_trl_fields()
    assert {trainer: sorted(names) for trainer, names in trl_fields().items()} == {
        "grpo": installed["grpo"],
        "sft": installed["sft"],
    }, "TRL changed: run `python -m clsrl.trl_settings --write`"


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
