"""clsrl.resources: what each job asks a scheduler for, and bench/gpu_hours.py's sums."""

import importlib.util

import pytest

from clsrl.config import validate_config
from clsrl.resources import eval_resources, train_resources
from tests.conftest import ROOT

PAPER = validate_config(
    {
        "datasets": ["ImageNet", "EuroSAT"],
        "methods": ["sft", "cls-rl", "no-thinking"],
        "training": {"gpus": 8},
    }
)
TINY = validate_config({"base_model": "builtin:tiny-qwen2-vl", "training": {"max_steps": 2}})


@pytest.mark.parametrize(
    ("config", "method", "view", "attempt", "expected"),
    [
        # the paper's ImageNet timings on 8 A100 (35, 1587, 94 min) x 1.5, plus 10 min start-up
        (PAPER, "sft", "ImageNet", 1, {"gpu": 8, "mem_mb": 128000, "runtime": 63}),
        (PAPER, "cls-rl", "ImageNet", 1, {"gpu": 8, "mem_mb": 128000, "runtime": 2392}),
        (PAPER, "no-thinking", "ImageNet", 1, {"gpu": 8, "mem_mb": 128000, "runtime": 152}),
        # EuroSAT: 10 classes but 100 epochs; its base half trains on 5 classes
        (PAPER, "cls-rl", "EuroSAT", 1, {"gpu": 8, "mem_mb": 128000, "runtime": 249}),
        (PAPER, "cls-rl", "EuroSAT.base", 1, {"gpu": 8, "mem_mb": 128000, "runtime": 130}),
        # a retry asks for twice the memory and time, a third try three times
        (PAPER, "no-thinking", "ImageNet", 2, {"gpu": 8, "mem_mb": 256000, "runtime": 304}),
        (PAPER, "no-thinking", "ImageNet", 3, {"gpu": 8, "mem_mb": 384000, "runtime": 456}),
        # the tiny model: little memory; max_steps caps the work whatever the epochs
        (TINY, "no-thinking", "demo-colours", 1, {"gpu": 1, "mem_mb": 2000, "runtime": 11}),
    ],
)
def test_train_resources(config, method, view, attempt, expected):
    assert train_resources(config, method, view, shots=4, attempt=attempt) == expected


@pytest.mark.parametrize(
    ("config", "style", "target", "expected"),
    [
        (PAPER, "thinking", "ImageNet", {"gpu": 1, "mem_mb": 8000, "runtime": 373}),
        (PAPER, "no-thinking", "ImageNet", {"gpu": 1, "mem_mb": 8000, "runtime": 323}),
        (PAPER, "no-thinking", "EuroSAT.new", {"gpu": 1, "mem_mb": 8000, "runtime": 36}),
        # evaluation on the CPU asks for no GPU
        (
            validate_config({"evaluation": {"device": "cpu"}}),
            "thinking",
            "demo-colours",
            {"gpu": 0, "mem_mb": 8000, "runtime": 11},
        ),
    ],
)
def test_eval_resources(config, style, target, expected):
    assert eval_resources(config, style, target) == expected


def test_attempt_starts_at_one():
    with pytest.raises(ValueError, match="attempt must be 1 or more"):
        train_resources(PAPER, "sft", "ImageNet", shots=4, attempt=0)


@pytest.mark.workflow
def test_gpu_hours_of_a_dry_run_through_the_slurm_profile(capsys):
    spec = importlib.util.spec_from_file_location("gpu_hours", ROOT / "bench" / "gpu_hours.py")
    gpu_hours = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_hours)
    gpu_hours.main(["--configfile", str(ROOT / "tests" / "configs" / "slurm.yaml")])
    table = capsys.readouterr().out
    # 2 models trained and 8 evaluations, 1 GPU x 11 min each: 10 x 11 / 60 GPU-hours
    assert "| train | SLURM | 2 | 1 | 0.2 | 0 |" in table
    assert "| evaluate_trained | SLURM | 4 | 1 | 0.2 | 1 |" in table
    assert "| aggregate | login node | 1 | 0 |  | 0 |" in table
    assert table.strip().endswith("| **2** |")
