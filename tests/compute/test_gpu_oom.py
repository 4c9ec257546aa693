"""A training job that runs out of GPU memory is reported as such, and its retry neither trains
again nor asks more host memory (clsrl.compute.gpu_oom). The CUDA error is raised where a GPU raises
it, in the trainer's step, by a stand-in: this machine has no GPU."""

from __future__ import annotations

import re
import shutil

import pytest
import torch

import clsrl.training.train
from clsrl.compute.gpu_oom import MARK, GpuOutOfMemory
from tests.conftest import ROOT, run_snakemake
from tests.training.test_faults import train_in_process
from tests.training.test_train import questions as questions  # the fixture
from tests.training.test_train import spec_for

CUDA_MESSAGE = (
    "CUDA out of memory. Tried to allocate 2.31 GiB. GPU 0 has a total capacity of 79.19 GiB of "
    "which 1.02 GiB is free."
)


def overflow(*args, **kwargs):
    raise torch.OutOfMemoryError(CUDA_MESSAGE)


@pytest.mark.faults
def test_an_out_of_memory_training_is_named_and_its_retry_stops_before_loading(
    monkeypatch, tiny_model_dir, colours_dir, questions, tmp_path
):
    from transformers import Trainer

    spec = spec_for("sft", {"max_steps": 2})
    monkeypatch.setattr(Trainer, "train", overflow)
    with pytest.raises(GpuOutOfMemory) as raised:
        train_in_process(spec, tiny_model_dir, questions, colours_dir, tmp_path)
    message = str(raised.value)
    assert "training ran out of GPU memory" in message and CUDA_MESSAGE.split(".")[0] in message
    assert "Ways out" in message and "training.lora.enabled: true" in message
    marks = list((tmp_path / "checkpoints").glob(f"spec-*/{MARK}"))
    assert len(marks) == 1 and not (tmp_path / "model").exists()

    prepared = []
    real_prepare = clsrl.training.train.prepare_trainer

    def counted(*args, **kwargs):
        prepared.append(1)
        return real_prepare(*args, **kwargs)

    monkeypatch.setattr(clsrl.training.train, "prepare_trainer", counted)
    with pytest.raises(GpuOutOfMemory, match="An earlier attempt of this job, with these same"):
        train_in_process(spec, tiny_model_dir, questions, colours_dir, tmp_path)
    assert prepared == []  # stopped before loading the model

    monkeypatch.undo()  # a changed setting starts afresh, and trains
    changed = spec_for("sft", {"max_steps": 2, "sft_examples_per_device": 1})
    monkeypatch.setattr(clsrl.training.train, "prepare_trainer", counted)
    train_in_process(changed, tiny_model_dir, questions, colours_dir, tmp_path)
    assert prepared == [1] and (tmp_path / "model" / "config.json").is_file()


# Started in every Python process of the run (PYTHONPATH), it acts only in the training's own:
# the trainer's step raises CUDA's out-of-memory error, as on a card too small.
SITECUSTOMIZE = f"""
import sys
if "clsrl.training.train" in " ".join(sys.orig_argv):
    import torch
    from transformers import Trainer

    def overflow(*args, **kwargs):
        raise torch.OutOfMemoryError({CUDA_MESSAGE!r})

    Trainer.train = overflow
"""
CONFIG = ROOT / "tests" / "configs" / "slurm.yaml"  # tiny model, two steps of No-Thinking
MODEL = "results/models/tiny-qwen2-vl/no-thinking/demo-colours/2shot/seed1"


@pytest.mark.workflow
def test_a_retry_after_gpu_out_of_memory_asks_no_more_memory_and_trains_nothing(tmp_path):
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(SITECUSTOMIZE)
    workdir = tmp_path / "run"
    workdir.mkdir()
    done = run_snakemake(
        workdir, "--cores", "1", "--retries", "1", MODEL,
        configfile=CONFIG, check=False, env={"PYTHONPATH": f"{hooks}:{ROOT}"},
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode != 0 and not (workdir / MODEL).exists()
    train_jobs = re.split(r"(?m)^(?:local)?rule train:$", output)[1:]
    assert len(train_jobs) == 2  # the job and its one retry
    asked = [re.search(r"mem_mb=(\d+)", job)[1] for job in train_jobs]
    assert asked[0] == asked[1]  # no more host memory for the retry
    assert "clsrl error: GpuOutOfMemory: training ran out of GPU memory" in output  # attempt 1
    retry_log = next((workdir / "logs" / "train").rglob("*.log")).read_text()  # the last attempt's
    assert "clsrl error: GpuOutOfMemory: An earlier attempt of this job, with these" in retry_log
    assert "training with " not in retry_log  # it stopped before loading the model
    assert "clsrl: a job stopped. clsrl error: GpuOutOfMemory: An earlier attempt" in output
    shutil.rmtree(workdir)


def test_an_out_of_memory_evaluation_names_the_batch_and_its_retry_loads_nothing(
    monkeypatch, tmp_path
):
    import clsrl.evaluation.evaluate as evaluate
    from clsrl.evaluation.evaluate import EvalSettings, run_evaluation

    loaded = []
    monkeypatch.setattr(evaluate, "read_questions", lambda path: [])
    monkeypatch.setattr(evaluate, "load_generator", lambda *args: loaded.append(args))
    monkeypatch.setattr(evaluate, "evaluate_questions", overflow)
    output = tmp_path / "eval"

    def run(batch_size):
        settings = EvalSettings("no-thinking", "paper", 8, 56, base_classes=False)
        predictions, metrics = output / "predictions.jsonl", output / "metrics.json"
        return run_evaluation(
            "model", tmp_path, tmp_path / "q.jsonl", predictions, metrics, settings,
            batch_size=batch_size, device="cpu", precision="float32",
        )  # fmt: skip

    with pytest.raises(GpuOutOfMemory, match="evaluation.batch_size: 64") as raised:
        run(64)
    assert "Lower evaluation.batch_size (e.g. 32)" in str(raised.value)
    assert len(loaded) == 1 and not (output / "metrics.json").exists()
    with pytest.raises(GpuOutOfMemory, match="An earlier attempt of this job"):
        run(64)
    assert len(loaded) == 1  # the retry stopped before loading the model
    with pytest.raises(GpuOutOfMemory, match="evaluation.batch_size: 32"):
        run(32)  # a smaller batch is tried (and overflows here again: the stand-in always does)
    assert len(loaded) == 2
