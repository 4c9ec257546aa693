"""clsrl.compute.gpu_slots: a local GPU job claims free GPU ids by lock files, or keeps the
scheduler's."""

import subprocess
import sys
import time

import pytest

from clsrl.compute.gpu_slots import gpu_slots

DEVICES = ["0", "1"]


def hold_lock(path):
    """A separate process holding the exclusive lock on `path` until it is killed."""
    code = (
        "import fcntl, sys, time; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); "
        "print('held', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE)
    assert holder.stdout.readline().strip() == b"held"
    return holder


@pytest.mark.parametrize(
    ("count", "environ", "devices", "expected"),
    [
        (0, {}, DEVICES, []),  # a CPU job claims nothing
        (1, {"CUDA_VISIBLE_DEVICES": "3"}, DEVICES, ["3"]),  # SLURM chose: keep its GPU
        (2, {"CUDA_VISIBLE_DEVICES": "4,5"}, DEVICES, ["4", "5"]),  # a multi-GPU allocation
        (1, {}, [], []),  # no GPU on this machine: runs on the CPU
    ],
)
def test_no_claim_where_there_is_nothing_to_choose(tmp_path, count, environ, devices, expected):
    before = dict(environ)
    with gpu_slots(count, devices=devices, lock_dir=tmp_path, environ=environ) as claimed:
        assert claimed == expected
        assert environ == before
    assert list(tmp_path.iterdir()) == []


def test_claims_set_and_restore_cuda_visible_devices(tmp_path):
    environ = {}
    with gpu_slots(2, devices=["0", "1", "2"], lock_dir=tmp_path, environ=environ) as claimed:
        assert claimed == ["0", "1"]
        assert environ == {"CUDA_VISIBLE_DEVICES": "0,1"}
    assert environ == {}
    assert sorted(path.name for path in tmp_path.iterdir()) == ["gpu0.lock", "gpu1.lock"]


def test_a_gpu_held_by_another_process_is_skipped_then_freed_by_its_death(tmp_path):
    holder = hold_lock(tmp_path / "gpu0.lock")
    try:
        with gpu_slots(1, devices=DEVICES, lock_dir=tmp_path, environ={}) as claimed:
            assert claimed == ["1"]
    finally:
        holder.kill()
        holder.wait()
    with gpu_slots(2, devices=DEVICES, lock_dir=tmp_path, environ={}) as claimed:
        assert claimed == ["0", "1"]  # the kernel released the dead holder's lock


def test_waits_then_times_out_naming_the_fix(tmp_path):
    holder = hold_lock(tmp_path / "gpu1.lock")
    started = time.monotonic()
    try:
        with pytest.raises(TimeoutError, match="--resources gpu=N"):
            with gpu_slots(
                2, devices=DEVICES, lock_dir=tmp_path, environ={}, wait_s=0.3, poll_s=0.1
            ):
                pass
    finally:
        holder.kill()
        holder.wait()
    assert time.monotonic() - started >= 0.3
    # the partial claim (gpu0) was given back while waiting
    with gpu_slots(1, devices=["0"], lock_dir=tmp_path, environ={}, wait_s=0) as claimed:
        assert claimed == ["0"]


def test_more_gpus_than_the_machine_has_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="needs 3 GPUs but only 2"):
        with gpu_slots(3, devices=DEVICES, lock_dir=tmp_path, environ={}):
            pass


def test_gpu_ids_from_the_environment(tmp_path):
    environ = {"CLSRL_GPUS": "2,5"}
    with gpu_slots(1, lock_dir=tmp_path, environ=environ) as claimed:
        assert claimed == ["2"] and environ["CUDA_VISIBLE_DEVICES"] == "2"
