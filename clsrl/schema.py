"""The config schema shipped with the package, and its defaults: read by the config's validation
(clsrl.config) and by any stage that needs a default without a config (the demo data's counts).
"""

from __future__ import annotations

import copy
from importlib import resources

import yaml

SCHEMA_RESOURCE = "schemas/config.schema.yaml"


def load_schema() -> dict:
    """The config schema shipped with the package."""
    text = resources.files("clsrl").joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")
    return yaml.safe_load(text)


def schema_default(key: str):
    """The schema's default of a dotted config key.

    >>> schema_default("demo_data.image_size"), schema_default("training.shots")
    (56, [4])
    >>> schema_default("demo_data.per_class")
    {'train': 16, 'val': 4, 'test': 8}
    """
    node = load_schema()
    for part in key.split("."):
        node = node["properties"][part]
    value = copy.deepcopy(node["default"])
    return fill_defaults(value, node) if isinstance(value, dict) else value


def fill_defaults(config: dict, schema: dict) -> dict:
    """A copy of `config` where every missing key that has a schema default gets it, recursively.

    >>> schema = {"properties": {"a": {"default": {}, "properties": {"b": {"default": 1}}}}}
    >>> fill_defaults({}, schema)
    {'a': {'b': 1}}
    """
    filled = copy.deepcopy(config)
    for key, sub_schema in schema.get("properties", {}).items():
        if key not in filled and "default" in sub_schema:
            filled[key] = copy.deepcopy(sub_schema["default"])
        nested = "properties" in sub_schema or isinstance(
            sub_schema.get("additionalProperties"), dict
        )
        if isinstance(filled.get(key), dict) and nested:
            filled[key] = fill_defaults(filled[key], sub_schema)
    entries = schema.get("additionalProperties")  # a mapping of named entries, e.g. custom_datasets
    if isinstance(entries, dict) and "properties" in entries:
        for key, value in filled.items():
            if key not in schema.get("properties", {}) and isinstance(value, dict):
                filled[key] = fill_defaults(value, entries)
    return filled
