"""Training through the real TRL trainers on the tiny offline model (CPU)."""

import json

import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from clsrl.config import validate_config
from clsrl.datasets.canonical import load_dataset
from clsrl.fewshot import few_shot_questions
from clsrl.io import read_json
from clsrl.models.loading import load_model_and_processor
from clsrl.questions import write_questions
from clsrl.training import train as train_module
from clsrl.training.spec import TrainingSpec, training_spec
from clsrl.training.train import (
    LOG_HISTORY_FILE,
    RECORD_FILE,
    SPEC_FILE,
    dtypes_in_training,
    prepare_trainer,
    runtime_from,
    train,
)
from tests.conftest import paper_options

FAST = {
    "images": {"resize": 56},
    "training": {
        "grpo_completions_per_step": 8,
        "sft_examples_per_step": 4,
        "sft_examples_per_device": 4,
        "trl": {"grpo": {"max_completion_length": 8}},
    },
}


def spec_for(method, training=None, variants=None, **trl):
    config = {**FAST, "methods": [method], "method_variants": variants or {}}
    config["training"] = {**FAST["training"], **(training or {})}
    if trl:
        config["training"]["trl"] = {"grpo": {**FAST["training"]["trl"]["grpo"], **trl}, "sft": trl}
    return training_spec(validate_config(config), method, "demo-colours", shots=4, seed=1)


@pytest.fixture(scope="module")
def questions(colours_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("splits") / "train.jsonl"
    dataset = load_dataset(colours_dir)
    write_questions(path, few_shot_questions(dataset, 4, 1, paper_options(seed=1)))
    return path


def train_command(spec, tmp_path, model_dir, dataset_dir, questions):
    """`-m clsrl.training.train ...` arguments writing to tmp_path/model (checkpoints beside it)."""
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec.as_mapping()))
    return [
        *("-m", "clsrl.training.train", "--spec", str(spec_file), "--base-model", str(model_dir)),
        *("--questions", str(questions), "--dataset", str(dataset_dir)),
        *("--output", str(tmp_path / "model"), "--checkpoints", str(tmp_path / "checkpoints")),
    ]


def weights(model_dir):
    return load_file(model_dir / "model.safetensors")


@pytest.mark.parametrize(
    ("method", "lora"),
    [
        ("sft", False),
        ("cls-rl", False),
        ("no-thinking", False),
        ("no-thinking", True),  # LoRA, merged into the saved model
    ],
)
def test_each_method_trains_and_writes_a_loadable_model(
    method, lora, tiny_model_dir, colours_dir, questions, tmp_path
):
    spec = spec_for(method, {"max_steps": 2, "lora": {"enabled": lora, "r": 4, "alpha": 8}})
    out, checkpoints = tmp_path / "model", tmp_path / "checkpoints"
    train(
        spec,
        str(tiny_model_dir),
        questions,
        colours_dir,
        out,
        checkpoints,
        runtime_from(save_steps=1),
    )

    assert TrainingSpec.from_mapping(read_json(out / SPEC_FILE)) == spec
    record = read_json(out / RECORD_FILE)
    assert record["global_step"] == 2 and record["versions"]["trl"] == "1.16.0"
    history = pd.read_csv(out / LOG_HISTORY_FILE)
    assert history["step"].tolist() == [1, 2]
    if method != "sft":
        assert {"reward", "reward_std", "kl", "completions/mean_length"} <= set(history.columns)
    assert not checkpoints.exists()  # removed once the model is safe
    model, _ = load_model_and_processor(str(out), device="cpu")
    assert type(model).__name__ == "Qwen2VLForConditionalGeneration"
    assert not any("lora" in name for name in weights(out))  # adapters merged
    assert weights(out).keys() == weights(tiny_model_dir).keys()


def test_grpo_from_the_toy_model_gets_rewards_and_changes_parameters(
    colours_dir, questions, tmp_path
):
    from clsrl.toy.model import install_shipped

    toy = install_shipped(tmp_path / "toy")  # names 4 of the 16 colours: some answers are right
    grpo = spec_for("no-thinking", {"max_steps": 4}, learning_rate=1e-4)
    tuned = tmp_path / "tuned"
    train(grpo, str(toy), questions, colours_dir, tuned, tmp_path / "checkpoints")

    history = pd.read_csv(tuned / LOG_HISTORY_FILE)
    assert history["reward"].max() > 0  # the toy model answers some class names exactly
    assert history["reward_std"].max() > 0  # ... and not all alike, so advantages are non-zero
    before, after = weights(toy), weights(tuned)
    changed = [name for name in before if not torch.equal(before[name], after[name])]
    assert changed, "GRPO changed no parameter"


# --- precision: float32 master weights under bf16 compute -------------------------------------


@pytest.mark.parametrize(
    ("master", "learns"),
    [
        (torch.float32, True),  # what every job does
        (torch.bfloat16, False),  # control: bf16 weights round updates of lr 1e-6 away
    ],
)
def test_bf16_compute_learns_at_the_papers_rate_only_with_fp32_master_weights(
    master, learns, monkeypatch, tiny_model_dir, colours_dir, questions, tmp_path
):
    monkeypatch.setattr(train_module, "MASTER_WEIGHTS_DTYPE", master)
    spec = spec_for("sft", {"max_steps": 2, "precision": "bf16"}, learning_rate=1e-6)
    trainer, _ = prepare_trainer(
        spec, str(tiny_model_dir), questions, colours_dir, tmp_path / "checkpoints"
    )
    assert dtypes_in_training(trainer) == {
        "weights_dtype": str(master).removeprefix("torch."),
        "compute_dtype": "bfloat16",  # CPU autocast stands in for the GPU's here
        "reference_dtype": None,
    }
    before = {name: p.detach().clone() for name, p in trainer.model.named_parameters()}
    trainer.train()
    after = dict(trainer.model.named_parameters())
    changed = sum(int((before[n] != after[n]).sum()) for n in before)
    total = sum(p.numel() for p in before.values())
    print(f"{master}: {changed} of {total} weights changed")
    assert (changed > 0.9 * total) == learns
    assert (changed < 0.1 * total) == (not learns)


def test_grpo_keeps_fp32_master_weights_and_a_bf16_reference_model(
    tiny_model_dir, colours_dir, questions, tmp_path
):
    spec = spec_for("no-thinking", {"max_steps": 1, "precision": "bf16"})
    out = tmp_path / "model"
    train(spec, str(tiny_model_dir), questions, colours_dir, out, tmp_path / "checkpoints")
    record = read_json(out / RECORD_FILE)
    assert (record["weights_dtype"], record["compute_dtype"]) == ("float32", "bfloat16")
    assert record["reference_dtype"] == "bfloat16"  # frozen: the compute dtype is enough
    assert record["saved_dtype"] == "bfloat16"
    assert {t.dtype for t in weights(out).values()} == {torch.bfloat16}


@pytest.mark.parametrize("name", ["ddp", "fsdp", "deepspeed_zero3"])
def test_multi_gpu_configs_load_and_leave_precision_to_the_spec(name):
    from accelerate.commands.config.config_args import load_config_from_file

    from tests.conftest import ROOT

    config = load_config_from_file(str(ROOT / "envs/accelerate" / f"{name}.yaml"))
    # "no": TRL's bf16 flag (training.precision) decides; a "bf16" here would turn fp32 jobs bf16
    assert config.mixed_precision == "no"
    if name == "fsdp":  # resharding after forward would gather every layer per generated token
        assert config.fsdp_config["fsdp_reshard_after_forward"] is False


def test_a_tracker_gets_every_logged_step_and_the_job_keeps_its_history(
    tiny_model_dir, colours_dir, questions, tmp_path, monkeypatch
):
    """training.report_to: [tensorboard] writes event files offline, with the per-function
    rewards and the KL that log_history.csv holds, under the job's run name."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = tmp_path / "tracking"
    monkeypatch.setenv("TENSORBOARD_LOGGING_DIR", str(events))
    spec = spec_for("no-thinking", {"max_steps": 2})
    runtime = runtime_from(save_steps=1, report_to=("tensorboard",), run_name="tiny/nt/seed1")
    train(
        spec, str(tiny_model_dir), questions, colours_dir, tmp_path / "m", tmp_path / "c", runtime
    )

    accumulator = EventAccumulator(str(events))
    accumulator.Reload()
    scalars = set(accumulator.Tags()["scalars"])
    assert {"train/rewards/no_thinking_accuracy/mean", "train/kl", "train/loss"} <= scalars
    assert [event.step for event in accumulator.Scalars("train/kl")] == [1, 2]
    assert "tiny/nt/seed1" in str(accumulator.Tensors("args/text_summary")[0])
    history = pd.read_csv(tmp_path / "m" / LOG_HISTORY_FILE)
    assert history["step"].tolist() == [1, 2]  # the job's own record, whatever the trackers
