"""The methods a study can train (clsrl.methods): the paper's four, and variants of them that a
config defines, each resolved to the trainer, prompt style, rewards and TRL settings its jobs
get."""

import pytest

from clsrl.config import validate_config
from clsrl.methods import METHODS, resolve_methods
from clsrl.workflow.study import Study


def test_the_papers_methods_train_and_ask_as_the_protocol_says():
    assert METHODS["zero-shot"].trainer is None
    assert (METHODS["sft"].trainer, METHODS["sft"].prompt_style) == ("sft", "no-thinking")
    cls_rl, no_thinking = METHODS["cls-rl"], METHODS["no-thinking"]
    assert (cls_rl.trainer, cls_rl.prompt_style) == ("grpo", "thinking")
    assert cls_rl.rewards == ("thinking_format", "thinking_accuracy")
    assert (no_thinking.trainer, no_thinking.prompt_style) == ("grpo", "no-thinking")
    assert no_thinking.rewards == ("no_thinking_accuracy",)  # no format reward: exact answers


def test_a_variant_inherits_its_parent_and_merges_its_trl_settings_over_the_parents():
    variants = {
        "cls-rl-lr": {"extends": "cls-rl", "trl": {"learning_rate": 1e-5}},
        "cls-rl-lr-8": {"extends": "cls-rl-lr", "trl": {"num_generations": 8}},
    }
    method = resolve_methods(variants)["cls-rl-lr-8"]
    assert (method.trainer, method.prompt_style, method.rewards) == (
        "grpo",
        "thinking",
        ("thinking_format", "thinking_accuracy"),
    )
    assert method.trl == {"learning_rate": 1e-5, "num_generations": 8}


def test_a_variant_reaches_its_jobs_training_spec():
    """What the variant changes is what its training jobs get (and nothing of the others')."""
    config = validate_config(
        {
            "datasets": ["EuroSAT"],
            "methods": ["no-thinking", "nt-slow"],
            "method_variants": {
                "nt-slow": {"extends": "no-thinking", "trl": {"learning_rate": 1e-7}}
            },
        }
    )
    study = Study(config)
    variant = study.training_spec("nt-slow", "EuroSAT", 4, 1)
    parent = study.training_spec("no-thinking", "EuroSAT", 4, 1)
    assert variant.trl["learning_rate"] == 1e-7
    assert parent.trl["learning_rate"] == 1e-6  # the paper's
    assert variant.rewards == parent.rewards and variant.prompt_style == "no-thinking"


@pytest.mark.parametrize(
    "variants, problem",
    [
        ({"a": {"extends": "nope"}}, "unknown method 'nope'"),
        ({"a": {"extends": "b"}, "b": {"extends": "a"}}, "a cycle of variants"),
    ],
)
def test_a_variant_of_nothing_is_refused_naming_its_key(variants, problem):
    with pytest.raises(ValueError, match="method_variants.a.extends") as error:
        resolve_methods(variants)
    assert problem in str(error.value)
