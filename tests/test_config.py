"""The config schema: defaults, and one clear message per mistake naming the key and the fix."""

from pathlib import Path

import pytest
import yaml

from clsrl.config import ConfigError, validate_config
from clsrl.schema import load_schema

ROOT = Path(__file__).resolve().parents[1]


def test_shipped_config_is_valid_and_complete():
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    validated = validate_config(config)
    assert validated["datasets"] == ["demo-colours", "demo-shapes", "demo-patterns"]
    assert validated["base_model"] == "builtin:toy-qwen2-vl"


def test_empty_config_gets_every_default():
    config = validate_config({})
    assert config["options"] == {
        "fewshot_ratio": 0.4,
        "base2new_ratio": 0.8,
        "min_choices": 30,
        "max_choices": 100,
        "floor_rule": "paper",
        "open_set": False,
        "test_seed": 0,
    }
    assert config["images"]["resize"] == 384  # the paper's code
    assert config["demo_data"]["per_class"] == {"train": 16, "val": 4, "test": 8}


def _leaves(schema, path=()):
    for key, sub in schema.get("properties", {}).items():
        yield (*path, key), sub
        yield from _leaves(sub, (*path, key))


@pytest.mark.parametrize(
    "path_and_schema", list(_leaves(load_schema())), ids=lambda p: ".".join(p[0])
)
def test_every_schema_key_has_type_description_and_default(path_and_schema):
    path, sub = path_and_schema
    assert sub.get("description"), f"{'.'.join(path)} has no description"
    assert "default" in sub, f"{'.'.join(path)} has no default"
    assert "type" in sub or "enum" in sub, f"{'.'.join(path)} has no type"


def test_every_schema_key_is_commented_in_config_yaml():
    text = (ROOT / "config.yaml").read_text()
    # a key with a comment on its line, or commented out (`# floor_rule: paper  # ...`: the protocol
    # preset sets it)
    commented = {line.split(":")[0].strip(" #") for line in text.splitlines() if "#" in line}
    commented |= {  # a key whose comment is on the line(s) above it
        lines[i + 1].split(":")[0].strip()
        for lines in [text.splitlines()]
        for i in range(len(lines) - 1)
        if lines[i].lstrip().startswith("#")
    }
    for path, _ in _leaves(load_schema()):
        assert path[-1] in commented, f"config.yaml lacks a comment for {'.'.join(path)}"


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        # typo in a nested key: named with its path and the likely fix
        (
            {"evaluation": {"batch_sise": 4}},
            ["'evaluation.batch_sise' is not allowed", "'batch_size'"],
        ),
        # unknown top-level key
        ({"dataset": ["demo-colours"]}, ["'dataset' is not allowed", "'datasets'"]),
        # wrong type
        ({"evaluation": {"batch_size": "big"}}, ["'evaluation.batch_size'", "integer", "'big'"]),
        # value out of range
        ({"evaluation": {"batch_size": 0}}, ["'evaluation.batch_size'", "minimum"]),
        # a value outside an enum
        ({"options": {"floor_rule": "paperr"}}, ["'options.floor_rule'", "'paper'"]),
        # unknown dataset, with a suggestion and the known names
        ({"datasets": ["demo-colors"]}, ["'datasets[0]'", "'demo-colors'", "'demo-colours'"]),
        # unknown method
        ({"methods": ["zero_shot"]}, ["'methods[0]'", "'zero-shot'"]),
        # unknown built-in model
        ({"base_model": "builtin:tiny"}, ["'base_model'", "builtin:tiny-qwen2-vl"]),
        # a custom dataset name with a dot (dots name base/new halves)
        (
            {"custom_datasets": {"my.birds": {"question": "Q?", "image_folder": "b"}}},
            ["custom_datasets.my.birds", "'.'"],
        ),
        # inconsistent bounds
        ({"options": {"min_choices": 50, "max_choices": 10}}, ["options.min_choices"]),
        # a list item of the wrong kind
        (
            {"evaluation": {"zero_shot_styles": ["thinking", "cot"]}},
            ["zero_shot_styles[1]", "'cot'"],
        ),
    ],
)
def test_bad_config_names_the_key(config, expected):
    with pytest.raises(ConfigError) as raised:
        validate_config(config)
    message = str(raised.value)
    for fragment in expected:
        assert fragment in message
    assert "config.yaml" in message  # says where to fix it


def test_all_problems_are_reported_at_once():
    with pytest.raises(ConfigError) as raised:
        validate_config({"evaluation": {"batch_size": "x", "devise": "cpu"}})
    assert "batch_size" in str(raised.value) and "devise" in str(raised.value)


def test_hub_names_and_local_paths_are_accepted():
    assert validate_config({"base_model": "Qwen/Qwen2-VL-2B-Instruct"})["base_model"]
    assert validate_config({"base_model": "/models/my-qwen"})["base_model"] == "/models/my-qwen"


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        (  # a misspelt dataset in the epochs table would silently be ignored
            {"training": {"epochs": {"default": 50, "EuroSat": 5}}},
            "config key 'training.epochs.EuroSat': unknown dataset 'EuroSat'. Did you mean "
            "'EuroSAT'?",
        ),
        (  # SFT has no rewards
            {"method_variants": {"s": {"extends": "sft", "rewards": ["thinking_format"]}}},
            "'method_variants.s.rewards': s trains with SFT, which uses no rewards",
        ),
        (  # zero-shot trains nothing: LoRA, a prompt style or rewards mean nothing
            {"method_variants": {"z": {"extends": "zero-shot", "lora": True}}},
            "'method_variants.z.lora': z extends a method that trains nothing",
        ),
        (
            {"method_variants": {"z": {"extends": "zero-shot", "prompt_style": "thinking"}}},
            "'method_variants.z.prompt_style': z extends a method that trains nothing",
        ),
        (  # GRPO without a reward learns nothing
            {"method_variants": {"g": {"extends": "cls-rl", "rewards": []}}},
            "'method_variants.g.rewards': g trains with GRPO, which needs at least one reward",
        ),
    ],
)
def test_keys_that_mean_nothing_where_they_are_set_are_refused(config, fragment):
    with pytest.raises(ConfigError) as error:
        validate_config(config)
    assert fragment in str(error.value)


def test_the_old_evaluation_dtype_key_still_works_with_a_warning():
    warnings = []
    config = validate_config({"evaluation": {"dtype": "bfloat16"}}, warnings)
    assert config["evaluation"]["precision"] == "bf16" and "dtype" not in config["evaluation"]
    assert warnings == [
        "config key 'evaluation.dtype' is deprecated: write 'evaluation.precision: bf16' "
        "(precision has one vocabulary: auto, bf16, fp32, fp16)."
    ]
    with pytest.raises(ConfigError, match="are both set"):
        validate_config({"evaluation": {"dtype": "float32", "precision": "fp32"}})
