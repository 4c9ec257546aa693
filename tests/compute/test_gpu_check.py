"""bench/gpu_check.py at toy sizes on the CPU, so the GPU measurement cannot rot unnoticed."""

import importlib.util
import json
import sys

from clsrl.compute.resources import measured_costs, train_wall_seconds
from tests.conftest import ROOT


def load_gpu_check():
    if str(ROOT / "bench") not in sys.path:  # as `python bench/gpu_check.py` has it: its rehearsal
        sys.path.insert(0, str(ROOT / "bench"))
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "bench" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gpu_check_tiny_writes_its_tables_and_the_cost_models_figures(tmp_path, capsys):
    load_gpu_check().main([str(tmp_path), "--tiny"])
    record = json.loads((tmp_path / "gpu_check.json").read_text())
    assert [(r["style"], r["batch"]) for r in record["evaluation"]] == [
        ("no-thinking", 2),
        ("no-thinking", 4),
        ("thinking", 2),
        ("thinking", 4),
    ]
    assert [(r["method"], r["gradient_checkpointing"]) for r in record["grpo"]] == [
        ("cls-rl", False),
        ("cls-rl", True),
        ("no-thinking", False),
    ]
    for row in record["grpo"]:
        assert len(row["step_seconds"]) == 2 and 0 < row["generate_share"] < 1
        assert row["completion_tokens_min"] == row["completion_length"]  # never stops early
    table = (tmp_path / "gpu_check.md").read_text()
    assert "| GRPO (4 completions per step) |" in table and "| thinking | 4 | 8 |" in table
    # the figures feed the cost model
    costs = measured_costs(record["costs"])
    assert costs.source.startswith("measured: CPU, ")
    from clsrl.config import validate_config
    from clsrl.training.spec import training_spec

    config = validate_config({"datasets": ["EuroSAT"], "methods": ["cls-rl", "sft"]})
    for method in ("cls-rl", "sft"):
        spec = training_spec(config, method, "EuroSAT", 4, 1)
        assert train_wall_seconds(spec, 10, costs) > 0
    assert set(costs.eval_per_image) == {"thinking", "direct"}


def test_the_memory_guide_prints_every_setting_for_every_card():
    spec = importlib.util.spec_from_file_location("memory", ROOT / "bench" / "memory_guide.py")
    memory = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(memory)
    from clsrl.compute.gpu_memory import TrainingShape, training_gib
    from clsrl.models.size import model_size

    size = model_size("Qwen/Qwen2-VL-2B-Instruct", 384)
    table = memory.guide(size).splitlines()
    assert table[0] == "| setting | GiB | 24 GB | 40 GB | 48 GB | 80 GB | 141 GB |"
    assert len(table) == 2 + 12 + 3  # 2 methods x 2 checkpointing x 3 sizes, 3 eval batches
    # weights, gradients, AdamW states, reference and autocast copies: 20 bytes per parameter
    weights_only = TrainingShape("grpo", None, 0, 0, False, 1)
    assert round(training_gib(size, weights_only)) == 41
