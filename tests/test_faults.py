"""Fault injection: each fault a user's run can meet, and what it loses (README "Faults").

Training: kill -9, a changed spec, a save that fails midway (a full disk), SIGTERM. Outputs:
permissions, key order. Downloads, datasets and hub models: see the tests named in the README's
table.
"""

import errno
import os
import signal
import subprocess
import sys
import threading
import time

import pandas as pd
import pytest
import torch

from clsrl.checkpoints import COMMIT_FILE
from clsrl.io import read_json
from clsrl.train import EXIT_STOPPED, LOG_HISTORY_FILE, RECORD_FILE, train
from tests.conftest import paper_options
from tests.test_train import questions as questions  # the fixture
from tests.test_train import spec_for, train_command

pytestmark = pytest.mark.faults
WAIT_S = 120
ROOT_DIR = __import__("pathlib").Path(__file__).resolve().parents[1]


def committed(checkpoints):
    """Steps of the committed checkpoints below a job's checkpoint folder."""
    return sorted(
        int(p.parent.name.split("-")[1]) for p in checkpoints.glob(f"spec-*/*/{COMMIT_FILE}")
    )


def start_training(spec, tmp_path, tiny_model_dir, colours_dir, questions, *extra):
    command = [
        sys.executable,
        *train_command(spec, tmp_path, tiny_model_dir, colours_dir, questions),
    ]
    return subprocess.Popen(
        [*command, *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def kill_after_first_commit(process, checkpoints):
    """SIGKILL (no chance to clean up, like a node failure) once a checkpoint is committed."""
    deadline = time.monotonic() + WAIT_S
    try:
        while not committed(checkpoints):
            assert process.poll() is None, "training ended before its first checkpoint"
            assert time.monotonic() < deadline, f"no checkpoint within {WAIT_S} s"
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.communicate()
    return committed(checkpoints)[-1]


def test_kill_9_during_training_resumes_from_the_last_committed_checkpoint(
    tiny_model_dir, colours_dir, questions, tmp_path
):
    spec = spec_for("no-thinking", {"max_steps": 60})
    out, checkpoints = tmp_path / "model", tmp_path / "checkpoints"
    process = start_training(
        spec, tmp_path, tiny_model_dir, colours_dir, questions, "--save-steps", "3"
    )
    saved = kill_after_first_commit(process, checkpoints)
    assert not out.exists()  # no model is taken as finished
    assert 3 <= saved < 60

    train(spec, str(tiny_model_dir), questions, colours_dir, out, checkpoints)
    record = read_json(out / RECORD_FILE)
    assert record["resumed_from"].endswith(f"checkpoint-{saved}")
    assert record["global_step"] == 60
    assert pd.read_csv(out / LOG_HISTORY_FILE)["step"].max() == 60
    assert not checkpoints.exists()  # removed once the model is safe


def test_a_changed_spec_never_resumes_a_foreign_checkpoint(
    tiny_model_dir, colours_dir, questions, tmp_path, capsys
):
    old = spec_for(
        "no-thinking", {"max_steps": 40}, learning_rate=0.5, lr_scheduler_type="constant"
    )
    out, checkpoints = tmp_path / "model", tmp_path / "checkpoints"
    process = start_training(
        old, tmp_path, tiny_model_dir, colours_dir, questions, "--save-steps", "2"
    )
    kill_after_first_commit(process, checkpoints)

    new = spec_for("no-thinking", {"max_steps": 6}, learning_rate=0.2, lr_scheduler_type="constant")
    train(new, str(tiny_model_dir), questions, colours_dir, out, checkpoints)
    assert "starting fresh: the checkpoints in" in capsys.readouterr().out
    assert read_json(out / RECORD_FILE)["resumed_from"] is None
    history = pd.read_csv(out / LOG_HISTORY_FILE)
    assert history["step"].tolist() == [1, 2, 3, 4, 5, 6]
    assert (history["learning_rate"] == 0.2).all()  # the new rate from step 1


def test_a_save_that_fails_midway_never_blocks_the_next_run(
    tiny_model_dir, colours_dir, questions, tmp_path, monkeypatch
):
    spec = spec_for("sft", {"max_steps": 6})
    out, checkpoints = tmp_path / "model", tmp_path / "checkpoints"
    real_save = torch.save

    def disk_full_at_step_4(obj, path, *args, **kwargs):
        if "checkpoint-4" in str(path):  # the model is written, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_save(obj, path, *args, **kwargs)

    monkeypatch.setattr(torch, "save", disk_full_at_step_4)
    with pytest.raises(OSError, match="No space left"):
        train(spec, str(tiny_model_dir), questions, colours_dir, out, checkpoints, runtime(2))
    monkeypatch.undo()
    partial = next(checkpoints.glob("spec-*/checkpoint-4"))  # half a checkpoint is left
    assert not (partial / COMMIT_FILE).exists() and committed(checkpoints) == [2]

    train(spec, str(tiny_model_dir), questions, colours_dir, out, checkpoints, runtime(2))
    record = read_json(out / RECORD_FILE)
    assert record["resumed_from"].endswith("checkpoint-2") and record["global_step"] == 6


def runtime(save_steps):
    from clsrl.train import runtime_from

    return runtime_from(save_steps=save_steps)


def test_sigterm_saves_a_checkpoint_and_the_rerun_loses_no_step(
    tiny_model_dir, colours_dir, questions, tmp_path
):
    spec = spec_for("no-thinking", {"max_steps": 200})
    out, checkpoints = tmp_path / "model", tmp_path / "checkpoints"
    process = start_training(
        spec, tmp_path, tiny_model_dir, colours_dir, questions, "--save-steps", "1000"
    )
    lines, steps_done = [], threading.Event()

    def read():
        for line in process.stdout:
            lines.append(line)
            if sum("'step_time'" in seen for seen in lines) >= 3:
                steps_done.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert steps_done.wait(WAIT_S), "".join(lines[-20:])
    logged_before = sum("'step_time'" in line for line in lines)
    process.send_signal(signal.SIGTERM)  # what SLURM sends before the time limit
    assert process.wait(WAIT_S) == EXIT_STOPPED
    reader.join(10)
    said = "".join(lines)
    assert "SIGTERM received: saving a checkpoint after step" in said
    saved = committed(checkpoints)[-1]
    assert saved >= logged_before  # every step completed before the signal is in it
    assert not out.exists()

    train(spec, str(tiny_model_dir), questions, colours_dir, out, checkpoints)
    record = read_json(out / RECORD_FILE)
    assert record["resumed_from"].endswith(f"checkpoint-{saved}")
    assert record["global_step"] == 200


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
from clsrl.workflow import run_forwarding_signals
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
    from clsrl.tiny_model import build_tiny_model

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
import clsrl.hub as hub
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
from clsrl.evaluate import run_evaluation
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
