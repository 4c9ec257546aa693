"""Fault injection: each fault a user's run can meet, and what it loses (docs/faults.md).

Training: every fault that resumes (kill -9 after a checkpoint, in one process and in two, SIGTERM,
a crash or a full disk during a checkpoint save, a full disk or a kill during the final save, a
changed spec) ends with the weights of the uninterrupted run: they are compared tensor by tensor,
exactly (two uninterrupted runs on one CPU are bit-identical), and must differ from the base
model's. Outputs: permissions, key order. Downloads, datasets and hub models: see the tests named
in the README's table.
"""

import errno
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from clsrl.compute.disk_space import DiskFull
from clsrl.io import read_json
from clsrl.training.checkpoints import COMMIT_FILE, CommitCheckpoints
from clsrl.training.train import EXIT_STOPPED, RECORD_FILE, runtime_from, train
from tests.conftest import paper_options
from tests.training.test_train import questions as questions  # the fixture
from tests.training.test_train import spec_for, train_command, weights

pytestmark = pytest.mark.faults
WAIT_S = 120
ROOT_DIR = Path(__file__).resolve().parents[2]
STEPS, SAVE_EVERY = 8, 2  # the probe: 8 steps, a checkpoint every 2
LORA = {"enabled": True, "r": 4, "alpha": 8}


def fault_spec(kind: str, **trl) -> dict:
    """A job that learns fast enough to tell any two weights apart: SFT and SFT-LoRA from the
    tiny random model, No-Thinking GRPO from the shipped toy model (which earns rewards; from a
    random model GRPO's weights never move). The paper's linear schedule, so a schedule that was
    not restored shows too."""
    if kind == "grpo":
        return spec_for("no-thinking", {"max_steps": STEPS}, **{"learning_rate": 1e-4, **trl})
    lora = {"lora": LORA} if kind == "lora" else {}
    return spec_for("sft", {"max_steps": STEPS, **lora}, **{"learning_rate": 0.01, **trl})


@pytest.fixture(scope="module")
def toy_model_dir(tmp_path_factory):
    from clsrl.toy.model import install_shipped

    return install_shipped(tmp_path_factory.mktemp("toy") / "model")


@pytest.fixture(scope="module")
def base_of(tiny_model_dir, toy_model_dir):
    """The base model folder of a fault_spec kind."""
    return lambda kind: toy_model_dir if kind == "grpo" else tiny_model_dir


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, base_of, colours_dir, questions):
    """The weights of each kind's uninterrupted run (trained once per module)."""
    runs = {}

    def weights_of(kind: str) -> dict:
        if kind not in runs:
            folder = tmp_path_factory.mktemp(f"uninterrupted-{kind}")
            train_in_process(fault_spec(kind), base_of(kind), questions, colours_dir, folder)
            runs[kind] = weights(folder / "model")
        return runs[kind]

    return weights_of


def train_in_process(spec, base, questions, colours_dir, folder, save_every=SAVE_EVERY):
    return train(
        spec,
        str(base),
        questions,
        colours_dir,
        folder / "model",
        folder / "checkpoints",
        runtime_from(save_steps=save_every),
    )


def assert_same_weights(model_dir: Path, reference: dict, base_dir: Path) -> None:
    """The model in `model_dir` has the uninterrupted run's weights, bit for bit, and is not
    the base model."""
    got = weights(model_dir)
    assert got.keys() == reference.keys()
    differ = {
        name: float((got[name].float() - reference[name].float()).abs().max())
        for name in got
        if not torch.equal(got[name], reference[name])
    }
    assert not differ, f"{len(differ)} tensors differ from the uninterrupted run: {differ}"
    base = weights(base_dir)
    assert any(not torch.equal(got[name], base[name]) for name in got), "the base model's weights"


def committed(checkpoints):
    """Steps of the committed checkpoints below a job's checkpoint folder."""
    return sorted(
        int(p.parent.name.split("-")[1]) for p in checkpoints.glob(f"spec-*/*/{COMMIT_FILE}")
    )


def restored_step(model_dir: Path) -> int:
    restored = read_json(model_dir / RECORD_FILE)["restored"]
    assert restored["weights"]["checked"] and restored["optimizer"]["step"] == restored["step"]
    return restored["step"]


# A training process that stops at a chosen point, so that a test can kill it exactly there:
# `after-commit N` (checkpoint-N committed), `sigterm-at N` (the end of step N, until SIGTERM
# comes), `in-final-save` (the final model half written to its staging folder).
PAUSING_TRAINER = r"""
import os, sys, time
import clsrl.training.checkpoints as checkpoints
import clsrl.training.publish as publish
import clsrl.training.train as train

if os.environ.get("ACCELERATE_USE_FSDP") == "true":
    from tests.training.fsdp_on_cpu import promote_fsdp_on_cpu

    promote_fsdp_on_cpu()

where, step = sys.argv[1], int(sys.argv[2])


def pause(what, until=lambda: False):
    print(f"\npaused {what}", flush=True)  # after tqdm's bar, on a line of its own
    deadline = time.monotonic() + 600
    while not until() and time.monotonic() < deadline:
        time.sleep(0.05)


commit = checkpoints.CommitCheckpoints.on_save
def on_save(self, args, state, control, **kwargs):
    commit(self, args, state, control, **kwargs)
    if where == "after-commit" and state.global_step == step and state.is_world_process_zero:
        pause(f"after committing checkpoint-{step}")
checkpoints.CommitCheckpoints.on_save = on_save

stop = checkpoints.StopOnSignal.on_step_end
def on_step_end(self, args, state, control, **kwargs):
    if where == "sigterm-at" and state.global_step == step:
        pause(f"at the end of step {step}", until=lambda: self.received is not None)
    return stop(self, args, state, control, **kwargs)
checkpoints.StopOnSignal.on_step_end = on_step_end

write_json = publish.write_json
def write_half_then_pause(path, data):
    write_json(path, data)
    if where == "in-final-save" and path.name == publish.SPEC_FILE:
        pause("in the final save")
publish.write_json = write_half_then_pause

train.main(sys.argv[3:])
"""


def start_pausing(
    tmp_path, spec, base, questions, colours_dir, where, step, *extra, launcher=(), env=None
):
    """Start a training process (in its own process group) that pauses `where`; return it once
    it says it paused."""
    script = tmp_path / "pausing_trainer.py"
    script.write_text(PAUSING_TRAINER)
    arguments = train_command(spec, tmp_path, base, colours_dir, questions)[2:]  # after -m ...
    process = subprocess.Popen(
        [*(launcher or [sys.executable]), str(script), where, str(step), *arguments, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        cwd=ROOT_DIR,
        env={**os.environ, "PYTHONPATH": str(ROOT_DIR), **(env or {})},
    )
    lines, paused = [], threading.Event()

    def read():
        for line in process.stdout:
            lines.append(line)
            if line.startswith("paused "):  # the pausing trainer's word
                paused.set()

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + WAIT_S
    while not paused.wait(0.1):
        if process.poll() is not None or time.monotonic() > deadline:
            kill_9(process)
            pytest.fail("the training never paused:\n" + "".join(lines[-30:]))
    process.lines = lines
    return process


def kill_9(process) -> None:
    """SIGKILL every process of the job (a node failure: nothing gets to clean up)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:  # the job had ended
        pass
    process.wait(WAIT_S)


def kill_9_at(where, step, tmp_path, spec, base, questions, colours_dir, **launch) -> None:
    """Train in a process that saves every SAVE_EVERY steps and pauses `where` (see
    PAUSING_TRAINER); kill -9 it there."""
    job = (tmp_path, spec, base, questions, colours_dir)
    kill_9(start_pausing(*job, where, step, "--save-steps", str(SAVE_EVERY), **launch))


class Crash(BaseException):
    """Stands for a kill inside a test's own process: nothing in the training job catches it."""


def resume_with_the_trainers_own_loading(monkeypatch) -> None:
    """Resume as clsrl did before clsrl.training.restore: transformers' Trainer loads the weights,
    and nothing checks what it restored."""
    from clsrl.training.restore import CheckpointRestore

    def trainers_own_loading(self, checkpoint, model=None):
        self._trainer_load(checkpoint, model)
        self.restored["weights"] = {"what": "the Trainer's own loading"}

    monkeypatch.setattr(CheckpointRestore, "_load_weights", trainers_own_loading)
    monkeypatch.setattr(CheckpointRestore, "on_train_begin", lambda *args, **kwargs: None)


def crash_after_commit(monkeypatch, step: int) -> None:
    """Make an in-process training raise Crash once checkpoint-`step` is committed."""
    commit = CommitCheckpoints.on_save

    def on_save(self, args, state, control, **kwargs):
        commit(self, args, state, control, **kwargs)
        if state.global_step == step:
            raise Crash

    monkeypatch.setattr(CommitCheckpoints, "on_save", on_save)


@pytest.mark.parametrize("kind", ["sft", "lora", "grpo"])
def test_kill_9_after_a_checkpoint_resumes_to_the_uninterrupted_weights(
    kind, base_of, uninterrupted, colours_dir, questions, tmp_path
):
    """The issue's probe: killed after checkpoint-4 of 8, rerun."""
    spec, base = fault_spec(kind), base_of(kind)
    kill_9_at("after-commit", 4, tmp_path, spec, base, questions, colours_dir)
    assert committed(tmp_path / "checkpoints") == [4]
    assert not (tmp_path / "model").exists()  # no model is taken as finished

    train_in_process(spec, base, questions, colours_dir, tmp_path)
    assert_same_weights(tmp_path / "model", uninterrupted(kind), base)
    assert restored_step(tmp_path / "model") == 4
    assert not (tmp_path / "checkpoints").exists()  # removed once the model is safe


def two_process_training(spec, folder, base, questions, colours_dir, sharding):
    """Train in 2 processes. A 2-GPU job launches them through `accelerate launch`, which uses
    torchrun for GPUs; on the CPU accelerate would need MPI, so torchrun starts them here (gloo),
    through tests/training/fsdp_on_cpu.py for FSDP."""
    folder.mkdir(exist_ok=True)
    command = train_command(spec, folder, base, colours_dir, questions)
    if sharding == "fsdp":
        command = [str(ROOT_DIR / "tests/training/fsdp_on_cpu.py"), *command[2:]]
    done = subprocess.run(
        [*TORCHRUN, *command],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT_DIR,
        env={**os.environ, "PYTHONPATH": str(ROOT_DIR), **sharding_environment(sharding)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    record = read_json(folder / "model" / RECORD_FILE)
    assert (record["world_size"], record.get("fsdp")) == (2, sharding == "fsdp")


TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]


def sharding_environment(sharding: str) -> dict:
    from tests.training.fsdp_on_cpu import fsdp_environment

    return fsdp_environment() if sharding == "fsdp" else {}


@pytest.mark.parametrize(
    ("sharding", "lora"),
    [("ddp", False), ("fsdp", False), ("fsdp", True)],  # DDP's LoRA loads as in one process
    ids=["ddp", "fsdp", "fsdp-lora"],
)
def test_a_two_process_training_killed_after_a_checkpoint_resumes_to_the_uninterrupted_weights(
    sharding, lora, tiny_model_dir, colours_dir, questions, tmp_path
):
    training = {"max_steps": 4, "gpus": 2, "sft_examples_per_device": 2}
    training["multi_gpu_config"] = sharding
    spec = spec_for("sft", {**training, **({"lora": LORA} if lora else {})}, learning_rate=0.01)
    assert spec.processes == 2 and spec.trl["gradient_accumulation_steps"] == 1
    reference, resumed = tmp_path / "uninterrupted", tmp_path / "resumed"
    args = (tiny_model_dir, questions, colours_dir)
    two_process_training(spec, reference, *args, sharding)

    resumed.mkdir()
    launch = {"launcher": TORCHRUN, "env": sharding_environment(sharding)}
    kill_9_at("after-commit", 2, resumed, spec, *args, **launch)
    assert committed(resumed / "checkpoints") == [2]
    two_process_training(spec, resumed, *args, sharding)
    assert_same_weights(resumed / "model", weights(reference / "model"), tiny_model_dir)
    assert restored_step(resumed / "model") == 2


def test_a_changed_spec_never_resumes_a_foreign_checkpoint(
    tiny_model_dir, uninterrupted, colours_dir, questions, tmp_path, capsys
):
    old, new = fault_spec("sft", learning_rate=0.5), fault_spec("sft")
    kill_9_at("after-commit", 2, tmp_path, old, tiny_model_dir, questions, colours_dir)
    train_in_process(new, tiny_model_dir, questions, colours_dir, tmp_path)
    assert "starting fresh: the checkpoints in" in capsys.readouterr().out
    assert_same_weights(tmp_path / "model", uninterrupted("sft"), tiny_model_dir)
    assert read_json(tmp_path / "model" / RECORD_FILE)["restored"] is None


def test_a_crash_during_a_checkpoint_save_resumes_the_one_before(
    tiny_model_dir, uninterrupted, colours_dir, questions, tmp_path, monkeypatch
):
    spec = fault_spec("sft")
    real_save = torch.save

    def fail_in_checkpoint_4(obj, path, *args, **kwargs):
        if "checkpoint-4" in str(path):  # the model is written, then the optimizer fails
            raise OSError(errno.EIO, "Input/output error", str(path))
        return real_save(obj, path, *args, **kwargs)

    monkeypatch.setattr(torch, "save", fail_in_checkpoint_4)
    with pytest.raises(OSError, match="Input/output error"):
        train_in_process(spec, tiny_model_dir, questions, colours_dir, tmp_path)
    monkeypatch.undo()
    partial = next((tmp_path / "checkpoints").glob("spec-*/checkpoint-4"))  # half of one
    assert (partial / "model.safetensors").exists() and not (partial / COMMIT_FILE).exists()
    assert committed(tmp_path / "checkpoints") == [2]

    train_in_process(spec, tiny_model_dir, questions, colours_dir, tmp_path)
    assert_same_weights(tmp_path / "model", uninterrupted("sft"), tiny_model_dir)
    assert restored_step(tmp_path / "model") == 2


def test_a_checkpoint_changed_after_its_commit_is_not_resumed(
    tiny_model_dir, uninterrupted, colours_dir, questions, tmp_path, capsys
):
    """A committed checkpoint whose file was cut short later (a failing disk, a copy cut off)
    is removed, never half-loaded: the rerun starts afresh and still ends as uninterrupted."""
    spec = fault_spec("sft")
    kill_9_at("after-commit", 4, tmp_path, spec, tiny_model_dir, questions, colours_dir)
    optimizer = next((tmp_path / "checkpoints").glob("spec-*/checkpoint-4/optimizer.pt"))
    with open(optimizer, "r+b") as handle:
        handle.truncate(optimizer.stat().st_size // 2)
    train_in_process(spec, tiny_model_dir, questions, colours_dir, tmp_path)
    said = capsys.readouterr().out
    assert "checkpoint-4: its files changed since its commit (optimizer.pt:" in said
    assert_same_weights(tmp_path / "model", uninterrupted("sft"), tiny_model_dir)
    assert read_json(tmp_path / "model" / RECORD_FILE)["restored"] is None


def test_sigterm_saves_a_checkpoint_and_the_rerun_ends_as_uninterrupted(
    base_of, uninterrupted, colours_dir, questions, tmp_path
):
    spec, base = fault_spec("grpo"), base_of("grpo")
    process = start_pausing(
        tmp_path, spec, base, questions, colours_dir, "sigterm-at", 3, "--save-steps", "1000"
    )
    process.send_signal(signal.SIGTERM)  # what SLURM sends before the time limit
    assert process.wait(WAIT_S) == EXIT_STOPPED
    assert "SIGTERM received: saving a checkpoint after step 3" in "".join(process.lines)
    assert committed(tmp_path / "checkpoints") == [3]  # every completed step is in it
    assert not (tmp_path / "model").exists()

    train_in_process(spec, base, questions, colours_dir, tmp_path)
    assert_same_weights(tmp_path / "model", uninterrupted("grpo"), base)
    assert restored_step(tmp_path / "model") == 3


def test_a_kill_during_the_final_save_leaves_no_staging_folder_and_the_rerun_publishes(
    tiny_model_dir, uninterrupted, colours_dir, questions, tmp_path
):
    spec = fault_spec("sft")
    kill_9_at("in-final-save", 0, tmp_path, spec, tiny_model_dir, questions, colours_dir)
    assert list(tmp_path.glob(".model.partial-*")) and not (tmp_path / "model").exists()

    train_in_process(spec, tiny_model_dir, questions, colours_dir, tmp_path)
    assert not list(tmp_path.glob(".model.partial-*"))  # the killed save's staging is gone
    assert_same_weights(tmp_path / "model", uninterrupted("sft"), tiny_model_dir)
    assert restored_step(tmp_path / "model") == STEPS  # nothing left to train: published as is


# --- a real full disk: a small tmpfs (root only; CI runs as root) ------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A 32 MiB tmpfs mounted for the test: a disk that really fills up."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(disk)], check=True)
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def fill_after_commit(monkeypatch, disk: Path, step: int, leave_bytes: int = 64 * 1024) -> Path:
    """After checkpoint-`step` is committed, fill `disk` but `leave_bytes`; return the filler."""
    filler = disk / "filler"
    commit = CommitCheckpoints.on_save

    def on_save(self, args, state, control, **kwargs):
        commit(self, args, state, control, **kwargs)
        if state.global_step == step:
            free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
            with open(filler, "wb") as handle:
                os.posix_fallocate(handle.fileno(), 0, free - leave_bytes)

    monkeypatch.setattr(CommitCheckpoints, "on_save", on_save)
    return filler


@pytest.mark.parametrize(
    "left_kib",
    [
        64,  # the weights do not fit: safetensors' "No space left on device (os error 28)"
        1280,  # the weights fit, the optimizer does not: torch.save's "unexpected pos N vs M"
    ],
)
def test_a_full_disk_at_a_checkpoint_is_named_and_the_rerun_ends_as_uninterrupted(
    left_kib, small_disk, tiny_model_dir, uninterrupted, colours_dir, questions, monkeypatch
):
    spec = fault_spec("sft")
    filler = fill_after_commit(monkeypatch, small_disk, step=2, leave_bytes=left_kib * 1024)
    with pytest.raises(DiskFull) as full:
        train_in_process(spec, tiny_model_dir, questions, colours_dir, small_disk)
    said = str(full.value)
    assert (
        f"the disk {small_disk} is full: saving a checkpoint to {small_disk}/checkpoints/" in said
    )
    assert "needs about 2.5 MiB, and" in said and "of 32.0 MiB are free" in said
    writer = "SafetensorError" if left_kib == 64 else "unexpected pos"
    assert writer in said, said
    monkeypatch.undo()
    filler.unlink()  # the user frees space
    assert committed(small_disk / "checkpoints") == [2]

    train_in_process(spec, tiny_model_dir, questions, colours_dir, small_disk)
    assert_same_weights(small_disk / "model", uninterrupted("sft"), tiny_model_dir)
    assert restored_step(small_disk / "model") == 2


@pytest.mark.parametrize("kind", ["sft", "grpo"])
def test_a_full_disk_at_the_final_save_publishes_the_trained_weights_on_the_rerun(
    kind, small_disk, base_of, uninterrupted, colours_dir, questions, monkeypatch
):
    """Before the fix, this rerun resumed at the last step, trained nothing and published the
    base model's weights."""
    spec, base = fault_spec(kind), base_of(kind)
    filler = fill_after_commit(monkeypatch, small_disk, step=STEPS)
    with pytest.raises(DiskFull, match=f"the disk {small_disk} is full: saving the model model"):
        train_in_process(spec, base, questions, colours_dir, small_disk)
    monkeypatch.undo()
    filler.unlink()
    assert not (small_disk / "model").exists() and not list(small_disk.glob(".model.partial-*"))

    train_in_process(spec, base, questions, colours_dir, small_disk)
    assert_same_weights(small_disk / "model", uninterrupted(kind), base)
    assert restored_step(small_disk / "model") == STEPS


def test_the_training_job_refuses_to_publish_base_weights_after_learning_steps(
    tiny_model_dir, colours_dir, questions, tmp_path, monkeypatch
):
    """The guard in the job itself: with the Trainer's own weight loading (which loads nothing
    for Qwen2-VL), a rerun after the last checkpoint would publish the base model; it stops."""
    from clsrl.training.publish import WeightsUnchanged

    spec = fault_spec("sft")
    kill_9_at("in-final-save", 0, tmp_path, spec, tiny_model_dir, questions, colours_dir)

    resume_with_the_trainers_own_loading(monkeypatch)
    with pytest.raises(WeightsUnchanged, match="equal the base model's, bit for bit"):
        train_in_process(spec, tiny_model_dir, questions, colours_dir, tmp_path)
    assert not (tmp_path / "model").exists()


CHILD = """
import signal, sys, time
def stop(number, frame):
    open(sys.argv[1], "w").write("saved")
    sys.exit(75)
signal.signal(signal.SIGTERM, stop)
print("ready", flush=True)
time.sleep(60)
"""
PARENT = """
import sys
from clsrl.joblog import run_forwarding_signals
sys.exit(run_forwarding_signals([sys.executable, "-c", sys.argv[1], sys.argv[2]]))
"""


def test_the_training_script_passes_sigterm_on_and_waits_for_the_save(tmp_path):
    """The workflow script (workflow_scripts/train.py) must not die before its training process
    has saved: SLURM signals both, and the step ends when the script does."""
    saved = tmp_path / "saved"
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, CHILD, str(saved)], stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout.readline() == "ready\n"
    parent.send_signal(signal.SIGTERM)  # to the script only: it passes it on
    assert parent.wait(30) == 75
    assert saved.read_text() == "saved"


def fake_squeue(folder: Path, limit: str, left: str) -> dict:
    """An environment whose `squeue` prints the job's time limit and time left as SLURM does."""
    squeue = folder / "squeue"
    squeue.write_text(f"#!/bin/sh\necho '{limit} {left}'\n")
    squeue.chmod(0o755)
    return {"SLURM_JOB_ID": "42", "PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}


def test_the_training_is_signalled_ahead_of_the_limit_slurm_holds_not_the_estimate(
    tmp_path, monkeypatch
):
    """One runtime, one signal: the job reads its limit from SLURM as it runs (a --set-resources
    runtime or an scontrol update included) and signals its training a tenth of it ahead."""
    from clsrl.compute.resources import signal_lead_seconds
    from clsrl.joblog import time_limit_stop

    for name, value in fake_squeue(tmp_path, "11:00", "10:58").items():
        monkeypatch.setenv(name, value)
    assert time_limit_stop(signal_lead_seconds) == 658 - 66
    for name, value in fake_squeue(tmp_path, "2-00:00:00", "1-23:59:00").items():
        monkeypatch.setenv(name, value)
    assert time_limit_stop(signal_lead_seconds) == 172740 - 600
    monkeypatch.delenv("SLURM_JOB_ID")
    assert time_limit_stop(signal_lead_seconds) is None  # not a SLURM job: no timer


def test_the_time_limit_timer_sigterms_the_training_which_saves(tmp_path):
    saved = tmp_path / "saved"
    env = {**os.environ, **fake_squeue(tmp_path, "1:02", "1:02")}  # signal in 2 s (60 s lead)
    timed = (
        "import sys\n"
        "from clsrl.compute.resources import signal_lead_seconds\n"
        "from clsrl.joblog import run_forwarding_signals, time_limit_stop\n"
        "stop = time_limit_stop(signal_lead_seconds)\n"
        "sys.exit(run_forwarding_signals([sys.executable, '-c', sys.argv[1], sys.argv[2]], "
        "None, stop))\n"
    )
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", timed, CHILD, str(saved)], env=env, capture_output=True, text=True
    )
    assert done.returncode == 75, done.stderr
    assert saved.read_text() == "saved"
    assert 1.5 < time.monotonic() - started < 30  # at the timer, not at the child's 60 s sleep
    assert "SLURM time limit 1 min, 62 s left: SIGTERM to the training in 2 s" in done.stdout


# --- outputs: permissions, a full disk ------------------------------------------------------------


@pytest.fixture
def umask_027():
    from clsrl import io

    previous = os.umask(0o027)
    io.umask.cache_clear()
    yield
    os.umask(previous)
    io.umask.cache_clear()


def test_outputs_honour_the_umask_like_open_would(tmp_path, tiny_model_dir, umask_027):
    from clsrl.io import write_json
    from clsrl.models.tiny import build_tiny_model

    write_json(tmp_path / "metrics.json", {"n": 1})  # tables, predictions, manifests likewise
    model = build_tiny_model(tmp_path / "model")  # model.safetensors: 0600 from transformers
    with open(tmp_path / "plain.txt", "w") as handle:  # what open() gives under this umask
        handle.write("x")
    expected = os.stat(tmp_path / "plain.txt").st_mode & 0o777
    assert expected == 0o640
    for path in [tmp_path / "metrics.json", *model.iterdir()]:
        assert os.stat(path).st_mode & 0o777 == expected, path
    assert os.stat(model).st_mode & 0o777 == 0o750


def test_a_full_disk_during_a_write_leaves_no_partial_output(tmp_path, monkeypatch):
    from clsrl.io import write_atomic

    (tmp_path / "metrics.json").write_text("the old, complete file")
    real_fdopen = os.fdopen

    class FullDisk:
        def __init__(self, handle):
            self.stream = real_fdopen(handle, "w")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.stream.close()

        def write(self, text):
            self.stream.write(text[: len(text) // 2])  # half is written, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fdopen", lambda handle, *args, **kwargs: FullDisk(handle))
    with pytest.raises(OSError, match="No space left"):
        write_atomic(tmp_path / "metrics.json", '{"n": 1, "accuracy": 50.0}')
    monkeypatch.undo()
    assert (tmp_path / "metrics.json").read_text() == "the old, complete file"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]  # no temporary left


# --- a hub model that is neither cached nor reachable -----------------------------------------

PROBE = """
import sys
import clsrl.models.hub as hub
hub.PROBE_TIMEOUT_S = 2
print(hub.hub_model_problem("org/some-model"))
"""


def probe_hub(tmp_path, **env):
    environment = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hub"), **env}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=environment, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip(), time.monotonic() - started


def test_an_uncached_model_with_the_hub_forbidden_is_named_with_the_fix(tmp_path):
    said, _ = probe_hub(tmp_path, HF_HUB_OFFLINE="1")
    assert "base_model 'org/some-model' is not in the hub cache (" in said
    assert "HF_HUB_OFFLINE=1 forbids downloading it" in said
    assert "`hf download org/some-model`" in said


def test_an_unreachable_hub_is_found_in_seconds(tmp_path):
    import socket

    with socket.socket() as closed:  # a port nothing listens on: connection refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    said, _ = probe_hub(tmp_path, HF_HUB_OFFLINE="0", HF_ENDPOINT=f"http://127.0.0.1:{port}")
    assert "asking the hub for it failed within 2 s" in said and "ConnectError" in said


def test_a_hub_that_drops_packets_times_out_instead_of_hanging(tmp_path):
    import socket

    silent = socket.socket()  # accepts connections, never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    try:
        port = silent.getsockname()[1]
        said, seconds = probe_hub(
            tmp_path, HF_HUB_OFFLINE="0", HF_ENDPOINT=f"http://127.0.0.1:{port}"
        )
    finally:
        silent.close()
    assert "failed within 2 s" in said and "Timeout" in said
    assert seconds < 30


def test_a_cached_model_needs_no_hub(tmp_path):
    snapshot = tmp_path / "hub/models--org--some-model/snapshots/abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (tmp_path / "hub/models--org--some-model/refs").mkdir()
    (tmp_path / "hub/models--org--some-model/refs/main").write_text("abc123")
    said, _ = probe_hub(tmp_path, HF_HUB_OFFLINE="1")
    assert said == "None"


@pytest.mark.workflow
def test_a_real_run_stops_before_any_job_when_the_hub_model_is_not_to_be_had(tmp_path):
    import yaml

    from tests.conftest import run_snakemake

    config = tmp_path / "c.yaml"
    config.write_text(
        yaml.safe_dump(
            {"datasets": ["demo-colours"], "methods": ["zero-shot"], "base_model": "org/some-model"}
        )
    )
    env = {"HF_HUB_CACHE": str(tmp_path / "hub")}
    planned = run_snakemake(tmp_path, "--dry-run", configfile=config, env=env)
    assert "evaluate_zero_shot" in planned.stdout  # planning needs no model
    done = run_snakemake(tmp_path, "--cores", "1", configfile=config, env=env, check=False)
    assert done.returncode != 0
    assert "clsrl: base_model 'org/some-model' is not in the hub cache" in done.stderr
    assert not (tmp_path / "data").exists() and not (tmp_path / "results").exists()


# --- held before: evaluation, concurrent runs, hostile names, paths with spaces -----------------

EVALUATE = """
import sys
from clsrl.evaluation.evaluate import run_evaluation
from tests.conftest import paper_eval
settings = paper_eval("thinking", max_new_tokens=64, image_resize=56)
run_evaluation(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], settings,
               batch_size=1, device="cpu", precision="fp32")
"""


def test_a_killed_evaluation_leaves_nothing_that_looks_complete(
    tiny_model_dir, colours_dir, tmp_path
):
    from clsrl.datasets.canonical import load_dataset
    from clsrl.questions import make_questions, write_questions

    questions = tmp_path / "test.jsonl"
    asked = make_questions(load_dataset(colours_dir), "test", paper_options())
    repeats = 1400 // len(asked)  # long enough to be killed in the middle
    write_questions(questions, asked * repeats)
    total = f"/{len(asked) * repeats} [".encode()  # tqdm's "done/total [" once answers come
    predictions, metrics = tmp_path / "out/predictions.jsonl", tmp_path / "out/metrics.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            EVALUATE,
            str(tiny_model_dir),
            str(colours_dir),
            str(questions),
            str(predictions),
            str(metrics),
        ],  # fmt: skip
        stderr=subprocess.PIPE,
    )
    seen = b""
    while total not in seen or seen.rsplit(total, 1)[0].endswith(b" 0"):
        chunk = process.stderr.read1(1024)  # tqdm's progress: answers are being generated
        assert chunk, seen.decode(errors="replace")[-2000:]
        seen += chunk
    process.kill()
    process.wait()
    assert not predictions.exists() and not metrics.exists()
    assert not list(tmp_path.glob("out/*"))  # no temporary file either


@pytest.mark.workflow
def test_two_runs_at_once_get_snakemakes_lock(tmp_path):
    from tests.conftest import ROOT, SNAKEMAKE, run_snakemake

    config = ROOT / "tests/configs/small.yaml"
    first = subprocess.Popen(
        [
            *SNAKEMAKE,
            "--snakefile",
            str(ROOT / "Snakefile"),
            "--directory",
            str(tmp_path),
            "--cores",
            "1",
            "--configfile",
            str(config),
        ],  # fmt: skip
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + WAIT_S
        while not list((tmp_path / ".snakemake/locks").glob("*")):
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        second = run_snakemake(tmp_path, "--cores", "1", configfile=config, check=False)
    finally:
        first.terminate()
        first.wait(WAIT_S)
    assert second.returncode != 0
    # refused: by the lock, or (when the first run has started a job) by its incomplete output
    refusals = ("Directory cannot be locked", "Incomplete files:")
    assert any(refusal in second.stdout + second.stderr for refusal in refusals)


HOSTILE = ["$(touch PWNED)", "a;b", "back`tick`", 'it\'s "quoted"', "café", "中文 名"]


@pytest.mark.workflow
def test_hostile_class_names_and_paths_with_spaces_reach_prompts_byte_exact(tmp_path):
    import json

    import yaml
    from PIL import Image

    from tests.conftest import run_snakemake

    work, images = tmp_path / "a work dir", tmp_path / "my images"
    for split, count in (("train", 2), ("test", 2)):
        for label, name in enumerate(HOSTILE):
            folder = images / split / name
            folder.mkdir(parents=True)
            for index in range(count):
                Image.new("RGB", (8, 8), (label * 40, index * 90, 0)).save(folder / f"{index}.png")
    work.mkdir()
    config = {
        "datasets": ["odd-names"],
        "methods": ["zero-shot"],
        "settings": ["fewshot"],
        "base_model": "builtin:tiny-qwen2-vl",
        "custom_datasets": {"odd-names": {"question": "Which one?", "image_folder": str(images)}},
        "evaluation": {"device": "cpu", "max_new_tokens": 2, "zero_shot_styles": ["no-thinking"]},
        "images": {"resize": 56},
    }
    configfile = work / "my config.yaml"
    configfile.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    run_snakemake(work, "--cores", "2", configfile=configfile)

    def rows(path):
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]

    questions = rows(work / "results/questions/odd-names/test.jsonl")
    predictions = rows(
        work / "results/eval/tiny-qwen2-vl/zero-shot/no-thinking/odd-names/predictions.jsonl"
    )
    assert sorted({q["classname"] for q in questions}) == sorted(HOSTILE)
    for question, prediction in zip(questions, predictions, strict=True):
        assert sorted(question["options"]) == sorted(HOSTILE)  # every name, byte-exact
        assert question["problem"] in prediction["prompt"]  # ... and so in the prompt
    assert "odd-names" in (work / "results/tables/zero_shot.csv").read_text(encoding="utf-8")
    assert not list(tmp_path.rglob("PWNED")) and not (ROOT_DIR / "PWNED").exists()


def test_every_test_the_faults_table_names_exists():
    """Each row of docs/faults.md names its tests (a bare name may be in any test file): a
    renamed or removed test must not leave a row that no test backs."""
    import re

    table = (ROOT_DIR / "docs" / "faults.md").read_text()
    named = re.findall(r"`(test_\w+\.py)?(?:::)?(test_\w+)?`", table)
    assert len(named) > 30
    test_files = {path.name: path for path in (ROOT_DIR / "tests").rglob("test_*.py")}
    every_file = "".join(path.read_text() for path in test_files.values())
    for module, function in named:
        source = test_files[module].read_text() if module else every_file
        assert not function or f"def {function}(" in source, (module, function)
