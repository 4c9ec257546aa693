"""A base model's size read from its config.json (clsrl.models.size), checked against the model
transformers builds from it and against the published parameter counts; the GPU memory estimates
and requests that follow from it (clsrl.compute.gpu_memory, clsrl.compute.resources,
clsrl.compute.sizing)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from clsrl.compute import resources
from clsrl.compute.gpu_memory import TrainingShape, fits, training_gib
from clsrl.compute.sizing import base_sizes, memory_problems
from clsrl.config import validate_config
from clsrl.models import tiny as tiny_model
from clsrl.models.base_models import TINY_BUILDS
from clsrl.models.size import TINY_PARAMETERS, model_size, size_of
from clsrl.workflow.study import Study

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "tests" / "data" / "model_configs"
# The hub's config.json of three models, and the parameter counts their model cards publish
# (the safetensors total): the 2B ships with clsrl, the others are copies in tests/data.
PUBLISHED = {
    str(ROOT / "clsrl" / "model_configs" / "Qwen2-VL-2B-Instruct"): 2_208_985_600,
    str(CONFIGS / "gemma-3-4b-it"): 4_300_079_472,
    str(CONFIGS / "Qwen2.5-VL-7B-Instruct"): 8_292_166_656,
}


def built_on_meta(config):
    """The model transformers builds from `config`, without memory for its weights."""
    from transformers import AutoModelForImageTextToText

    with torch.device("meta"):
        return AutoModelForImageTextToText.from_config(config)


def count(model) -> int:
    return sum(parameter.numel() for parameter in model.parameters())


@pytest.mark.parametrize("folder", list(PUBLISHED), ids=lambda folder: Path(folder).name)
def test_the_parameters_read_from_a_config_are_those_transformers_builds_and_publishes(folder):
    from transformers import AutoConfig

    size = model_size(folder, image_side=384)
    assert size.parameters == count(built_on_meta(AutoConfig.from_pretrained(folder)))
    assert size.parameters == PUBLISHED[folder]


@pytest.mark.parametrize("name", list(TINY_BUILDS))
def test_the_tiny_builds_parameter_table_matches_what_is_built(name):
    shape = tiny_model.SHAPES[TINY_BUILDS[name]]
    config = tiny_model.build_config(tiny_model.build_tokenizer((), shape.architecture), shape)
    built = count(built_on_meta(config))
    assert TINY_PARAMETERS[name] == built
    assert size_of(config, name, "test", 384).parameters == built  # the formulas, at tiny size


@pytest.mark.parametrize("folder", list(PUBLISHED), ids=lambda folder: Path(folder).name)
def test_the_lora_estimate_is_within_five_percent_of_peft_all_linear(folder):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoConfig

    model = built_on_meta(AutoConfig.from_pretrained(folder))
    with torch.device("meta"):
        adapted = get_peft_model(model, LoraConfig(r=64, target_modules="all-linear"))
    trainable = sum(p.numel() for p in adapted.parameters() if p.requires_grad)
    estimate = model_size(folder, image_side=384).lora_width * 64
    assert abs(estimate - trainable) / trainable < 0.05


def test_the_cost_models_reference_is_the_shipped_qwen2_vl_2b():
    size = model_size("Qwen/Qwen2-VL-2B-Instruct", image_side=384)
    assert size.parameters == resources.REFERENCE_PARAMETERS
    assert size.prompt_tokens == resources.REFERENCE_PROMPT_TOKENS
    assert (size.patches, size.image_tokens) == (784, 196)  # 384 px -> 392 = 28 x 14 px patches


def test_a_folder_without_config_json_is_assumed_2b_with_a_warning(tmp_path):
    study = Study(validate_config({"datasets": ["EuroSAT"], "base_model": str(tmp_path)}))
    sizes, warnings = base_sizes(study)
    assert sizes[tmp_path.name].parameters == resources.REFERENCE_PARAMETERS
    assert len(warnings) == 1 and "config.json" in warnings[0] and str(tmp_path) in warnings[0]


def paper_study(**extra) -> Study:
    base = {
        "qwen2-vl-2b": next(iter(PUBLISHED)),
        "gemma-3-4b": str(CONFIGS / "gemma-3-4b-it"),
        "qwen2.5-vl-7b": str(CONFIGS / "Qwen2.5-VL-7B-Instruct"),
    }
    return Study(validate_config({"datasets": ["EuroSAT"], "base_model": base, **extra}))


def test_larger_models_ask_more_host_memory_and_time_in_proportion():
    study = paper_study()
    asks = {
        label: resources.train_resources(
            study.training_spec("cls-rl", "EuroSAT", 4, 1, model=label), 10
        )
        for label in study.base_models
    }
    assert asks["qwen2-vl-2b"]["mem_mb"] == 16000  # the 2B figure itself
    assert asks["qwen2-vl-2b"]["mem_mb"] < asks["gemma-3-4b"]["mem_mb"]
    assert asks["gemma-3-4b"]["mem_mb"] < asks["qwen2.5-vl-7b"]["mem_mb"]
    start = resources.STARTUP_MINUTES
    ratio = (asks["qwen2.5-vl-7b"]["runtime"] - start) / (asks["qwen2-vl-2b"]["runtime"] - start)
    assert ratio == pytest.approx(8_292_166_656 / 2_208_985_600, rel=0.02)  # same tokens


def test_a_model_that_cannot_fit_the_card_is_refused_with_the_ways_out():
    study = paper_study(gpu_mem_gb=80)
    problems, warnings = memory_problems(study, base_sizes(study)[0])
    refused = "\n".join(problems)
    assert "'qwen2.5-vl-7b'" in refused and "gpu_mem_gb: 80" in refused
    for way in ("training.gpus: 8", "training.lora.enabled: true", "gradient_checkpointing"):
        assert way in refused
    assert "'qwen2-vl-2b'" not in refused  # the 2B fits with short completions: a warning
    assert any("'qwen2-vl-2b'" in warning for warning in warnings)
    on_h200 = paper_study(gpu_mem_gb=141)
    refused_on_h200 = "\n".join(memory_problems(on_h200, base_sizes(on_h200)[0])[0])
    assert "'qwen2.5-vl-7b'" in refused_on_h200 and "'gemma-3-4b'" not in refused_on_h200


def test_the_combined_way_out_does_fit():
    size = model_size(str(CONFIGS / "Qwen2.5-VL-7B-Instruct"), image_side=384)
    paper = TrainingShape("grpo", None, 1024, 4, False, 1)
    assert not fits(training_gib(size, paper.but(completion=0)), 80)
    assert fits(training_gib(size, paper.but(lora_rank=64, checkpointing=True)), 80)
    assert training_gib(size, paper.but(processes=8)) < training_gib(size, paper) / 2


def three_model_paper_study(tmp_path) -> tuple[Path, dict]:
    """bench/paper_study.yaml with three base models of different sizes, as local folders."""
    import yaml

    config = yaml.safe_load((ROOT / "bench" / "paper_study.yaml").read_text())
    config["base_model"] = {
        "qwen2-vl-2b": next(iter(PUBLISHED)),
        "gemma-3-4b": str(CONFIGS / "gemma-3-4b-it"),
        "qwen2.5-vl-7b": str(CONFIGS / "Qwen2.5-VL-7B-Instruct"),
    }
    path = tmp_path / "paper3.yaml"
    path.write_text(yaml.safe_dump(config))
    return path, config


@pytest.mark.workflow
def test_a_dry_run_of_three_models_asks_for_each_job_what_its_own_model_needs(tmp_path):
    import importlib.util

    from clsrl.views import View

    loader = importlib.util.spec_from_file_location("gpu_hours", ROOT / "bench" / "gpu_hours.py")
    gpu_hours = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(gpu_hours)
    path, config = three_model_paper_study(tmp_path)
    output = gpu_hours.dry_run(path, ROOT / "slurm")
    for label in config["base_model"]:  # one planning line per model, with its GPU-hours
        line = next(line for line in output.splitlines() if line.startswith(f"clsrl model {label}"))
        assert "parameters" in line and "GPU-hours requested" in line
    study = Study(validate_config(config))
    train_mem = {}
    for job in gpu_hours.planned_jobs(output):
        wildcards = gpu_hours.wildcards_of(job)
        if job["rule"] == "train":
            spec = study.training_spec(
                wildcards["method"], wildcards["view"], int(wildcards["shots"]),
                int(wildcards["seed"]), model=wildcards["model"],
            )  # fmt: skip
            assert spec.base_model == config["base_model"][wildcards["model"]]
            expected = resources.train_resources(spec, resources.num_classes(wildcards["view"]))
            train_mem.setdefault(wildcards["model"], set()).add(job["mem_mb"])
        elif job["rule"] == "evaluate_trained":
            expected = resources.eval_resources(
                study.config, study.method_style(wildcards["method"]), wildcards["target"],
                base_model=config["base_model"][wildcards["model"]],
            )  # fmt: skip
            assert View.parse(wildcards["target"]).dataset in study.all_datasets
        else:
            continue
        assert {key: job[key] for key in expected} == expected, job
    assert train_mem == {"qwen2-vl-2b": {16000}, "gemma-3-4b": {32000}, "qwen2.5-vl-7b": {61000}}


@pytest.mark.workflow
def test_a_model_that_cannot_fit_stops_the_run_before_any_job(tmp_path):
    import subprocess
    import sys

    path, _ = three_model_paper_study(tmp_path)
    workdir = tmp_path / "run"
    workdir.mkdir()
    command = [sys.executable, "-m", "snakemake", "--cores", "1", "--snakefile"]
    command += [str(ROOT / "Snakefile"), "--configfile", str(path), "--config", "gpu_mem_gb=80"]
    done = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "base model 'qwen2.5-vl-7b'" in done.stderr and "gpu_mem_gb: 80" in done.stderr
    assert "Ways out" in done.stderr and "training.lora.enabled: true" in done.stderr
    assert sorted(p.name for p in workdir.iterdir() if p.name != ".snakemake") == []
