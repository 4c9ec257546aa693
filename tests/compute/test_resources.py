"""clsrl.compute.resources: what each job asks a scheduler for, and bench/gpu_hours.py's sums."""

import importlib.util

import pytest

from clsrl.compute.resources import (
    FALLBACK,
    MEASURED_RESOURCE,
    cost_model,
    eval_resources,
    measured_costs,
    num_classes,
    train_resources,
    train_wall_seconds,
)
from clsrl.config import validate_config
from clsrl.training.spec import training_spec
from tests.conftest import ROOT

PAPER = validate_config(
    {"datasets": ["ImageNet", "EuroSAT"], "methods": ["sft", "cls-rl", "no-thinking"]}
)
PAPER_8 = validate_config({**PAPER, "training": {**PAPER["training"], "gpus": 8}})
TINY = validate_config({"base_model": "builtin:tiny-qwen2-vl", "training": {"max_steps": 2}})


@pytest.mark.parametrize(
    ("config", "method", "view", "attempt", "expected"),
    [
        # on the paper's 8 GPUs the fallback gives back its ImageNet timings (35, 1587, 94 min)
        # x 1.5, plus 10 min start-up
        (PAPER_8, "sft", "ImageNet", 1, {"gpu": 8, "mem_mb": 128000, "runtime": 63}),
        (PAPER_8, "cls-rl", "ImageNet", 1, {"gpu": 8, "mem_mb": 128000, "runtime": 2391}),
        (PAPER_8, "no-thinking", "ImageNet", 1, {"gpu": 8, "mem_mb": 128000, "runtime": 151}),
        # one GPU (the default): generation does not split over GPUs, training passes do, so
        # CLS-RL (mostly generating) takes 1.7x the 8-GPU time on 1/8 of the GPUs; SFT 8x
        (PAPER, "sft", "ImageNet", 1, {"gpu": 1, "mem_mb": 16000, "runtime": 430}),
        (PAPER, "cls-rl", "ImageNet", 1, {"gpu": 1, "mem_mb": 16000, "runtime": 4057}),
        (PAPER, "no-thinking", "ImageNet", 1, {"gpu": 1, "mem_mb": 16000, "runtime": 892}),
        # EuroSAT: 10 classes but 100 epochs; its base half trains on 5 classes
        (PAPER, "cls-rl", "EuroSAT", 1, {"gpu": 1, "mem_mb": 16000, "runtime": 415}),
        (PAPER, "cls-rl", "EuroSAT.base", 1, {"gpu": 1, "mem_mb": 16000, "runtime": 213}),
        # a retry asks for twice the memory and time, a third try three times
        (PAPER, "no-thinking", "ImageNet", 2, {"gpu": 1, "mem_mb": 32000, "runtime": 1784}),
        (PAPER, "no-thinking", "ImageNet", 3, {"gpu": 1, "mem_mb": 48000, "runtime": 2676}),
        # the tiny model: little memory; max_steps caps the work whatever the epochs
        (TINY, "no-thinking", "demo-colours", 1, {"gpu": 1, "mem_mb": 2000, "runtime": 11}),
    ],
)
def test_train_resources(config, method, view, attempt, expected):
    spec = training_spec(config, method, view, shots=4, seed=1)
    asked = train_resources(spec, num_classes(view), attempt, costs=FALLBACK)
    assert asked == expected


@pytest.mark.parametrize(
    ("config", "style", "target", "expected"),
    [
        (PAPER, "thinking", "ImageNet", {"gpu": 1, "mem_mb": 8000, "runtime": 370}),
        (PAPER, "no-thinking", "ImageNet", {"gpu": 1, "mem_mb": 8000, "runtime": 322}),
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
    assert eval_resources(config, style, target, costs=FALLBACK) == expected


MEASURED = {
    "measured_on": {"gpu": "NVIDIA H100 80GB HBM3", "date": "2026-11-28", "commit": "abc1234"},
    "grpo": {
        "thinking": {"gpu_seconds_per_completion": 0.5, "generate_share": 0.8},
        "direct": {"gpu_seconds_per_completion": 0.1, "generate_share": 0.1},
    },
    "sft": {"gpu_seconds_per_example": 0.2},
    "evaluation": {
        "thinking": {"gpu_seconds_per_image": 0.1},
        "direct": {"gpu_seconds_per_image": 0.02},
    },
}


def test_a_measured_costs_replaces_the_fallback_and_says_where_it_came_from():
    costs = measured_costs(MEASURED)
    assert costs.source == "measured: NVIDIA H100 80GB HBM3, 2026-11-28, commit abc1234"
    # ImageNet CLS-RL: 2,500 steps x 64 completions x 0.5 s on one GPU
    one, eight = (training_spec(c, "cls-rl", "ImageNet", 4, 1) for c in (PAPER, PAPER_8))
    assert train_wall_seconds(one, 1000, costs) == 2500 * 64 * 0.5
    # on 8 GPUs the generating 80% takes as long, the rest an eighth
    seconds_8 = train_wall_seconds(eight, 1000, costs)
    assert seconds_8 == pytest.approx(2500 * 64 * 0.5 * (0.8 + 0.2 / 8))


def test_the_measured_file_is_used_where_a_gpu_run_wrote_one():
    from importlib import resources

    written = resources.files("clsrl").joinpath(MEASURED_RESOURCE).is_file()
    assert cost_model().source.startswith("measured" if written else "fallback")


def test_attempt_starts_at_one():
    spec = training_spec(PAPER, "sft", "ImageNet", shots=4, seed=1)
    with pytest.raises(ValueError, match="attempt must be 1 or more"):
        train_resources(spec, 1000, attempt=0, costs=FALLBACK)


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
    assert "| **total** | | 22 | | | **2** |" in table
    # then per method and stage, under each cost model there is
    assert "| train | no-thinking | 2 | 0 |" in table
    assert "| evaluate | zero-shot | 4 | 1 |" in table
    assert "| **total** | | 10 | **2** |" in table
