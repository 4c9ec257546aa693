"""Restoring a checkpoint (clsrl.training.restore), the checks on checkpoints
(clsrl.training.checkpoints), full disks in words (clsrl.compute.disk_space) and staging folders
(clsrl.io). The whole-run outcomes of each fault are in tests/training/test_faults.py."""

import errno
import json
import os
from collections import namedtuple

import pytest
import torch
from safetensors.torch import load_file, save_file

from clsrl.compute.disk_space import DiskFull, disk_full_explained, is_full_disk_error
from clsrl.models.loading import load_model_and_processor
from clsrl.training.checkpoints import COMMIT_FILE, checkpoint_problem, file_sizes
from clsrl.training.restore import CheckpointMismatch, load_full_weights, weight_checksum
from tests.training.test_train import questions as questions  # the fixture
from tests.training.test_train import spec_for


def test_a_checksum_sees_one_changed_bit_in_a_large_tensor_and_not_the_device_order():
    values = torch.randn(20_000_000)  # more than one summation chunk
    changed = values.clone()
    changed[17_000_123] = torch.nextafter(changed[17_000_123], torch.tensor(10.0))
    assert weight_checksum(values) != weight_checksum(changed)
    assert weight_checksum(values) == weight_checksum(values.flip(0))  # order-independent
    half = values[:1000].bfloat16()
    assert weight_checksum(half) == weight_checksum(half.clone())


def perturbed_checkpoint(model_dir, folder):
    """A checkpoint as `save_pretrained` writes it (saved names, tied head left out), of the
    model at `model_dir` with every weight changed."""
    model, _ = load_model_and_processor(str(model_dir), device="cpu")
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.125)
    model.save_pretrained(folder)
    return model


def test_full_weights_load_under_their_in_memory_names_with_the_tied_head(tiny_model_dir, tmp_path):
    trained = perturbed_checkpoint(tiny_model_dir, tmp_path / "checkpoint-4")
    saved = load_file(tmp_path / "checkpoint-4/model.safetensors")
    assert "model.layers.0.mlp.up_proj.weight" in saved and "lm_head.weight" not in saved

    model, _ = load_model_and_processor(str(tiny_model_dir), device="cpu")
    checksums = load_full_weights(model, tmp_path / "checkpoint-4")
    expected = trained.state_dict()
    for name, tensor in model.state_dict().items():  # the head too, through the tie
        assert torch.equal(tensor, expected[name]), name
    assert checksums["model.language_model.layers.0.mlp.up_proj.weight"] == weight_checksum(
        expected["model.language_model.layers.0.mlp.up_proj.weight"]
    )


def test_a_checkpoint_that_does_not_fit_the_model_is_refused_naming_the_keys(
    tiny_model_dir, tmp_path
):
    folder = tmp_path / "checkpoint-4"
    perturbed_checkpoint(tiny_model_dir, folder)
    saved = load_file(folder / "model.safetensors")
    del saved["model.norm.weight"]
    saved["model.extra.weight"] = torch.zeros(2)
    save_file(saved, folder / "model.safetensors", metadata={"format": "pt"})

    model, _ = load_model_and_processor(str(tiny_model_dir), device="cpu")
    with pytest.raises(CheckpointMismatch) as refused:
        load_full_weights(model, folder)
    said = str(refused.value)
    assert f"{folder} does not hold the weights of this model" in said
    assert "missing model.language_model.norm.weight" in said
    assert "unexpected model.language_model.extra.weight" in said  # renamed as loading does


def test_a_checkpoint_without_weights_is_refused(tiny_model_dir, tmp_path):
    model, _ = load_model_and_processor(str(tiny_model_dir), device="cpu")
    (tmp_path / "checkpoint-2").mkdir()
    with pytest.raises(CheckpointMismatch, match="holds no model weights"):
        load_full_weights(model, tmp_path / "checkpoint-2")


def test_the_trainers_own_loading_still_restores_nothing_of_a_qwen2_vl_checkpoint(
    tiny_model_dir, questions, colours_dir, tmp_path
):
    """Why clsrl.training.restore replaces it (transformers 5.24, issue 43701): when this fails
    after an upgrade, the Trainer loads renamed checkpoints itself and the replacement may go."""
    from clsrl.training.train import prepare_trainer

    perturbed_checkpoint(tiny_model_dir, tmp_path / "checkpoint-4")
    trainer, _ = prepare_trainer(
        spec_for("sft", {"max_steps": 1}), str(tiny_model_dir), questions, colours_dir, tmp_path
    )
    before = {name: tensor.clone() for name, tensor in trainer.model.state_dict().items()}
    trainer._load_from_checkpoint(str(tmp_path / "checkpoint-4"))
    after = trainer.model.state_dict()
    assert all(torch.equal(before[name], after[name]) for name in before)


@pytest.mark.parametrize(
    ("part", "said"),
    [
        ("_load_optimizer_and_scheduler", "the optimizer holds no state"),
        ("_load_rng_state", "the RNG states were not restored"),
    ],
)
def test_a_resume_that_misses_a_part_of_the_checkpoint_stops(
    part, said, tiny_model_dir, questions, colours_dir, tmp_path, monkeypatch
):
    """Were the Trainer to skip restoring the optimizer (or the RNG states), the job stops
    instead of recording a resume that did not happen."""
    from transformers import Trainer

    from clsrl.training.train import runtime_from, train
    from tests.training.test_faults import Crash, crash_after_commit

    # GRPO: its sampling draws on the generators, so their states at step 2 are not a fresh seed's
    spec = spec_for("no-thinking", {"max_steps": 4}, learning_rate=0.01)
    run = (spec, str(tiny_model_dir), questions, colours_dir, tmp_path / "model", tmp_path / "ck")
    crash_after_commit(monkeypatch, step=2)
    with pytest.raises(Crash):
        train(*run, runtime_from(save_steps=2))
    monkeypatch.undo()
    if part == "_load_rng_state":  # the file stays, its states do not reach the generators
        monkeypatch.setattr(torch.random, "set_rng_state", lambda state: None)
    else:
        monkeypatch.setattr(Trainer, part, lambda self, checkpoint: None)
    with pytest.raises(CheckpointMismatch, match=said):
        train(*run, runtime_from(save_steps=2))


def committed_checkpoint(folder, spec, step=4):
    checkpoint = folder / f"checkpoint-{step}"
    checkpoint.mkdir(parents=True)
    (checkpoint / "model.safetensors").write_bytes(b"w" * 100)
    (checkpoint / "optimizer.pt").write_bytes(b"o" * 50)
    commit = {"global_step": step, "spec_hash": spec.hash, "files": file_sizes(checkpoint)}
    (checkpoint / COMMIT_FILE).write_text(json.dumps(commit))
    return checkpoint


SPEC = spec_for("sft")


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda c: None, None),  # intact: resumable
        (lambda c: (c / COMMIT_FILE).unlink(), "never committed"),
        (lambda c: (c / "optimizer.pt").write_bytes(b"o" * 20), "optimizer.pt: 20 bytes, com"),
        (lambda c: (c / "optimizer.pt").unlink(), "optimizer.pt: None bytes, committed 50"),
        (lambda c: (c / "extra.bin").write_bytes(b"x"), "extra.bin: 1 bytes, committed None"),
        (lambda c: c.rename(c.with_name("checkpoint-6")), "its commit names another job or step"),
    ],
)
def test_a_checkpoint_is_resumable_only_as_it_was_committed(damage, problem, tmp_path):
    checkpoint = committed_checkpoint(tmp_path, SPEC)
    damage(checkpoint)
    checkpoint = next(tmp_path.glob("checkpoint-*"))
    found = checkpoint_problem(checkpoint, SPEC)
    assert found == problem if problem is None else problem in found


def test_a_checkpoint_of_another_spec_is_not_resumable(tmp_path):
    checkpoint = committed_checkpoint(tmp_path, SPEC)
    other = SPEC.replace(method="no-thinking")
    assert "its commit names another job or step" in checkpoint_problem(checkpoint, other)


Usage = namedtuple("Usage", "total used free")
SHORT_WRITE = RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 1 vs 2")


@pytest.mark.parametrize(
    ("error", "free", "full"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), 10**12, True),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), 10**12, True),  # a cluster's quota
        (SHORT_WRITE, 10, True),  # torch.save's zip writer, with less free than needed
        (SHORT_WRITE, 10**12, False),  # ... with space enough: something else
        (OSError(errno.EIO, "Input/output error"), 10, False),
        (ValueError("bad value"), 10, False),
    ],
)
def test_a_full_disk_is_told_from_other_errors(error, free, full, tmp_path, monkeypatch):
    monkeypatch.setattr("shutil.disk_usage", lambda path: Usage(10**12, 0, free))
    assert is_full_disk_error(error, tmp_path, needed_bytes=1000) is full


def test_a_full_disk_names_the_disk_the_path_and_the_space(tmp_path, monkeypatch):
    monkeypatch.setattr("shutil.disk_usage", lambda path: Usage(8 * 2**30, 0, 3 * 2**20))
    with pytest.raises(DiskFull) as full:
        with disk_full_explained(tmp_path / "checkpoints", 5 * 2**30, "a checkpoint"):
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 7 vs 9")
    said = str(full.value)
    assert f"saving a checkpoint to {tmp_path}/checkpoints needs about 5.0 GiB" in said
    assert "3.0 MiB of 8.0 GiB are free" in said and "is full" in said
    assert full.value.errno == errno.ENOSPC and "unexpected pos 7 vs 9" in said


def test_a_staging_folder_left_by_a_killed_process_is_removed(tmp_path):
    from clsrl.io import folder_written_atomically

    stale = tmp_path / ".model.partial-999999"  # another process id: a killed save's
    stale.mkdir()
    (stale / "model.safetensors").write_bytes(b"half")
    with folder_written_atomically(tmp_path / "model") as staging:
        staging.mkdir()
        (staging / "done").write_text("yes")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    assert os.listdir(tmp_path / "model") == ["done"]
