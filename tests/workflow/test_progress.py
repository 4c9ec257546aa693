"""clsrl.workflow.progress beside a running study: a real Snakemake run of tests/configs/small.yaml,
read while a job runs, then killed half-way; the partial tables say what is done, started and
missing."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import time

import pandas as pd
import pytest

from clsrl.workflow.progress import INCOMPLETE, progress, started_outputs
from tests.conftest import ROOT, SNAKEMAKE

pytestmark = pytest.mark.workflow
CONFIG = ROOT / "tests" / "configs" / "small.yaml"


def test_a_mark_is_read_as_snakemake_writes_it(tmp_path):
    """Snakemake's own encoding (snakemake.persistence: urlsafe base64, split at NAME_MAX)."""
    from snakemake.persistence.file import FilePersistence

    output = "results/models/tiny/no-thinking/demo-colours/2shot/seed1"
    record = FilePersistence._record_path(
        type("Persistence", (), {"_max_len": 40, "_fetch_max_len": lambda self, subject: 40})(),
        str(tmp_path / INCOMPLETE),
        output,
    )
    os.makedirs(os.path.dirname(record), exist_ok=True)
    open(record, "w").write("{}")
    assert len(base64.urlsafe_b64encode(output.encode())) > 40  # split into folders
    assert started_outputs(tmp_path) == {output}


def test_progress_of_a_study_killed_half_way(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    command = [*SNAKEMAKE, "--snakefile", str(ROOT / "Snakefile"), "--directory", str(tmp_path)]
    study = subprocess.Popen(
        [*command, "--configfile", str(CONFIG), "--cores", "1"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline, seen_running = time.monotonic() + 600, False
        while time.monotonic() < deadline and study.poll() is None:
            done = list(tmp_path.glob("results/eval/**/metrics.json"))
            if done and any(m.startswith("results/") for m in started_outputs(tmp_path)):
                os.killpg(study.pid, signal.SIGSTOP)  # frozen mid-job, so the mark stays
                marks = [m for m in started_outputs(tmp_path) if m.startswith("results/")]
                if not marks:  # the job ended just before the freeze
                    os.killpg(study.pid, signal.SIGCONT)
                    continue
                progress([str(CONFIG)], tmp_path)  # beside the running study
                status = pd.read_csv(tmp_path / "results/progress/status.csv")
                started = status["trainings started"] + status["evaluations started"]
                assert started.sum() >= 1, (marks, status)
                # a job that wrote its metrics but is not yet unmarked counts as started
                finished = status["evaluations done"] + status["evaluations started"]
                assert finished.sum() >= len(done)
                seen_running = True
                os.killpg(study.pid, signal.SIGCONT)
                break
            time.sleep(0.2)
        assert seen_running, "no job was seen running with an evaluation done"
    finally:
        os.killpg(study.pid, signal.SIGCONT)  # a frozen process would not take the SIGINT
        os.killpg(study.pid, signal.SIGINT)  # the study is stopped half-way
        study.wait(120)
    report = progress([str(CONFIG)], tmp_path)
    fewshot = (tmp_path / "results/progress/fewshot.md").read_text()
    assert "missing" in fewshot  # what no evaluation has given yet
    assert any(char.isdigit() for line in fewshot.splitlines()[2:4] for char in line)
    status = (tmp_path / "results/progress/status.csv").read_text()
    assert "trainings to do" in status and "evaluations done" in status
    assert "In all: trainings done" in report
