"""The whole study on every model family at once (`-m families`): one config lists each family's
tiny random build as a base model, and the real Snakefile builds them, trains SFT, CLS-RL (LoRA)
and No-Thinking from each, evaluates every model (zero-shot in both prompt styles) and writes
one set of tables with a row per family. One dataset, one seed, one step per training."""

import pandas as pd
import pytest
import yaml

from clsrl.models.families import FAMILIES
from tests.conftest import run_snakemake
from tests.workflow.test_workflow import planned_jobs

pytestmark = [pytest.mark.families, pytest.mark.workflow]

MODELS = [f"builtin:{family.tiny_builtin}" for family in FAMILIES.values()]
STUDY = {
    "datasets": ["demo-colours"],
    "settings": ["fewshot"],
    "methods": ["zero-shot", "sft", "cls-rl-lora", "no-thinking"],
    "method_variants": {"cls-rl-lora": {"extends": "cls-rl", "lora": True}},
    "base_model": MODELS,
    "demo_data": {"per_class": {"train": 1, "val": 1, "test": 1}},
    "images": {"resize": 56},
    "evaluation": {"batch_size": 8, "max_new_tokens": 8, "device": "cpu"},
    "training": {
        "shots": [1],
        "seeds": [1],
        "max_steps": 1,
        "grpo_completions_per_step": 4,
        "grpo_completions_per_device": 4,
        "sft_examples_per_step": 4,
        "sft_examples_per_device": 4,
        "trl": {"grpo": {"max_completion_length": 8, "num_generations": 2}},
    },
}


@pytest.fixture(scope="module")
def family_study(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("families")
    config = workdir / "families.yaml"
    config.write_text(yaml.safe_dump(STUDY))
    planned = planned_jobs(run_snakemake(workdir, "--dry-run", configfile=config).stdout)
    run_snakemake(workdir, "--cores", "2", configfile=config)
    return workdir, planned


def test_every_family_is_built_trained_and_evaluated_by_the_workflow(family_study):
    _, planned = family_study
    families = len(FAMILIES)
    assert families >= 4
    assert planned["build_tiny_model"] == families
    assert planned["train"] == 3 * families  # sft, cls-rl-lora, no-thinking
    assert planned["evaluate_zero_shot"] == 2 * families  # both prompt styles
    assert planned["evaluate_trained"] == 3 * families


def test_each_family_has_its_rows_in_one_fewshot_table(family_study):
    workdir, _ = family_study
    fewshot = pd.read_csv(workdir / "results/tables/fewshot.csv")
    labels = [model.removeprefix("builtin:") for model in MODELS]
    assert list(dict.fromkeys(fewshot["model"])) == labels  # in the config's order
    for label in labels:
        rows = fewshot[fewshot["model"] == label]
        assert list(zip(rows["method"], rows["style"], strict=True)) == [
            ("zero-shot", "no-thinking"),
            ("zero-shot", "thinking"),
            ("sft", "no-thinking"),
            ("cls-rl-lora", "thinking"),
            ("no-thinking", "no-thinking"),
        ], label
        assert rows["demo-colours"].notna().all(), label


def test_each_trained_model_is_saved_as_its_own_family(family_study):
    workdir, _ = family_study
    for label in (model.removeprefix("builtin:") for model in MODELS):
        base = yaml.safe_load((workdir / f"results/base_model/{label}/config.json").read_text())
        for method in ("sft", "no-thinking"):
            folder = workdir / f"results/models/{label}/{method}/demo-colours/1shot/seed1"
            trained = yaml.safe_load((folder / "config.json").read_text())
            assert trained["model_type"] == base["model_type"], (label, method)
        adapter = workdir / f"results/models/{label}/cls-rl-lora/demo-colours/1shot/seed1"
        assert (adapter / "log_history.csv").is_file(), label
