"""The `slurm` profile against a real SLURM cluster (tests/slurm_cluster.py) on this machine.

Runs as root where apt-get can install Debian's SLURM packages (CI does); skipped elsewhere.
Every sbatch call goes through a wrapper that records its arguments, so the test checks what
each job asked for; the results must equal those of a local run of the same config.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from clsrl.compute.resources import signal_lead_seconds
from tests.conftest import ROOT
from tests.slurm_cluster import (
    PARTITION,
    LocalCluster,
    ensure_installed,
    profile_for_this_cluster,
)

pytestmark = [pytest.mark.slurm, pytest.mark.workflow]
CONFIG = ROOT / "tests" / "configs" / "slurm.yaml"
LIMIT_S = 420  # per snakemake call, killed by `timeout -k 10` (the plugin can ignore SIGTERM)
# What each model job must ask for (clsrl/compute/resources.py for tests/configs/slurm.yaml): the
# tiny model's 2000 MB, a runtime of 10 minutes start-up plus a few seconds of work, one GPU.
# The run below sets the training runtime to 13 minutes with --set-resources: the job asks for it,
# and no --signal; it reads its limit from SLURM as it runs and sends its training SIGTERM a tenth
# of it ahead (78 s; it then saves a checkpoint): one runtime, one signal.
TRAIN_MINUTES = 13
EXPECTED = {
    "train": {
        "--gpus": "1",
        "--mem": "2000",
        "-t": str(TRAIN_MINUTES),
        "--cpus-per-task": "2",
        "--signal": None,
    },
    "evaluate_zero_shot": {
        "--gpus": "1",
        "--mem": "2000",
        "-t": "11",
        "--cpus-per-task": "1",
        "--signal": None,
    },
    "evaluate_trained": {
        "--gpus": "1",
        "--mem": "2000",
        "-t": "11",
        "--cpus-per-task": "1",
        "--signal": None,
    },
}
JOBS = {"train": 2, "evaluate_zero_shot": 4, "evaluate_trained": 4}  # all the others are local
TARGETS = ["results/tables/zero_shot.csv", "results/tables/fewshot.csv"]  # every model job


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    reason = ensure_installed()
    if reason:
        pytest.skip(f"no SLURM cluster for this test: {reason}")
    cluster = LocalCluster(tmp_path_factory.mktemp("slurm"))
    try:
        cluster.start()
    except PermissionError as error:  # e.g. a container that may not mknod the fake GPUs
        cluster.stop()
        pytest.skip(f"cannot start a SLURM cluster here: {error}")
    except BaseException:
        cluster.stop()
        raise
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def slurm_env(cluster, tmp_path_factory):
    """The cluster's client environment, with an sbatch that records its arguments first."""
    folder = tmp_path_factory.mktemp("sbatch")
    record = folder / "calls.jsonl"
    wrapper = folder / "bin" / "sbatch"
    wrapper.parent.mkdir()
    wrapper.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        f"with open({str(record)!r}, 'a') as calls:\n"
        "    calls.write(json.dumps(sys.argv[1:]) + '\\n')\n"
        f"os.execv({shutil.which('sbatch')!r}, ['sbatch', *sys.argv[1:]])\n"
    )
    wrapper.chmod(0o755)
    path = f"{wrapper.parent}{os.pathsep}{cluster.env['PATH']}"
    return {**cluster.env, "PATH": path}, record


def slurm_profile(tmp_path: Path) -> Path:
    """The profile for this cluster, keeping every job's SLURM log."""
    return profile_for_this_cluster(tmp_path / "profile", **{"slurm-keep-successful-logs": True})


def snakemake(workdir: Path, *args: str, env: dict, snakefile: Path = ROOT / "Snakefile"):
    """Run snakemake under `timeout -k 10`; fail with its output if it fails."""
    command = ["timeout", "-k", "10", str(LIMIT_S), sys.executable, "-m", "snakemake"]
    command += ["--snakefile", str(snakefile), "--directory", str(workdir), *args]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", **env}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=workdir)
    if done.returncode != 0:
        pytest.fail(f"snakemake failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


def sbatch_calls(record: Path) -> list[dict]:
    """Each recorded sbatch call as {rule, option: value}."""
    calls = []
    for line in record.read_text().splitlines():
        args, call = json.loads(line), {}
        for index, arg in enumerate(args):
            if arg.startswith("--") and "=" in arg:
                option, value = arg.split("=", 1)
                call[option] = value
            elif arg.startswith("-") and index + 1 < len(args):
                call[arg] = args[index + 1]
        call["rule"] = call["--comment"].removeprefix("rule_").split("_wildcards_")[0]
        calls.append(call)
    return calls


def result_files(workdir: Path) -> dict[str, bytes]:
    """Every prediction file and the tables, by path."""
    paths = sorted(workdir.glob("results/eval/**/predictions.jsonl"))
    paths += [workdir / "results/tables" / name for name in ("zero_shot.csv", "fewshot.csv")]
    return {str(path.relative_to(workdir)): path.read_bytes() for path in paths}


def test_workflow_runs_through_slurm_like_a_local_run(slurm_env, tmp_path):
    env, record = slurm_env
    local, cluster_run = tmp_path / "local", tmp_path / "slurm"
    local.mkdir(), cluster_run.mkdir()
    profile = slurm_profile(tmp_path)
    with ThreadPoolExecutor(max_workers=1) as beside:  # the local run while SLURM schedules
        local_run = beside.submit(
            snakemake, local, *TARGETS, "--cores", "2", "--configfile", str(CONFIG), env={}
        )
        done = snakemake(
            cluster_run,
            *TARGETS,
            *("--profile", str(profile), "--configfile", str(CONFIG)),
            *("--set-resources", f"train:runtime={TRAIN_MINUTES}"),
            env=env,
        )
        local_run.result()

    calls = sbatch_calls(record)
    assert {rule: sum(call["rule"] == rule for call in calls) for rule in JOBS} == JOBS, done.stderr
    assert len(calls) == sum(JOBS.values())  # the cheap rules ran here, as local rules
    for call in calls:
        assert call["-p"] == PARTITION
        assert {key: call.get(key) for key in EXPECTED[call["rule"]]} == EXPECTED[call["rule"]]
    local_results, cluster_results = result_files(local), result_files(cluster_run)
    assert len(local_results) == 2 + 8  # 4 zero-shot and 4 trained evaluations, 2 tables
    assert cluster_results.keys() == local_results.keys()
    for path, content in local_results.items():
        assert cluster_results[path] == content, f"{path} differs from the local run's"
    table = pd.read_csv(cluster_run / "results/tables/accuracy_long.csv")
    assert len(table) == 8
    for log in (cluster_run / "logs/train").rglob("*.log"):  # the limit as SLURM holds it
        assert f"SLURM time limit {TRAIN_MINUTES} min" in log.read_text(), log
        assert f"({signal_lead_seconds(TRAIN_MINUTES)} s ahead)" in log.read_text(), log


def test_a_job_killed_for_memory_is_retried_with_more(slurm_env, tmp_path):
    env, record = slurm_env
    record.write_text("")
    profile = slurm_profile(tmp_path)
    snakefile = ROOT / "tests" / "slurm" / "memory.smk"
    done = snakemake(tmp_path, "--profile", str(profile), env=env, snakefile=snakefile)
    asked = [call["--mem"] for call in sbatch_calls(record)]
    assert asked == ["1000", "2000"], done.stderr
    assert (tmp_path / "hungry.txt").read_text().strip() == "2000"
    first_log = sorted((tmp_path / "logs/slurm/rule_hungry").glob("*.log"))[0].read_text()
    assert "memory" in first_log.lower(), first_log


def test_sigterm_to_a_training_job_saves_and_its_retry_resumes(slurm_env, tmp_path):
    """What SLURM does ahead of a time limit (--signal=TERM@N) or on preemption: SIGTERM to
    every process of the job step. The training saves a checkpoint and exits; Snakemake resubmits
    the job, which resumes from that checkpoint and ends with the weights of the same job run
    without the signal (GRPO from the toy model, whose weights move; the job's 2 threads)."""
    from clsrl.training.spec import TrainingSpec
    from clsrl.training.train import runtime_from, train
    from tests.training.test_faults import assert_same_weights
    from tests.training.test_train import weights

    env, _ = slurm_env
    config = yaml.safe_load(CONFIG.read_text())
    config.update(datasets=["demo-colours"], methods=["no-thinking"])
    config.update(base_model="builtin:toy-qwen2-vl")
    config["training"].update(max_steps=100, save_steps=10_000)
    configfile = tmp_path / "long.yaml"
    configfile.write_text(yaml.safe_dump(config))
    run_name = "toy-qwen2-vl/no-thinking/demo-colours/2shot/seed1"
    model = f"results/models/{run_name}"
    command = ["timeout", "-k", "10", str(LIMIT_S), sys.executable, "-m", "snakemake"]
    command += ["--snakefile", str(ROOT / "Snakefile"), "--directory", str(tmp_path), model]
    command += ["--profile", str(slurm_profile(tmp_path)), "--configfile", str(configfile)]
    run = subprocess.Popen(
        command,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **env},
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    log = tmp_path / f"logs/train/{run_name}.log"
    deadline = time.monotonic() + LIMIT_S
    while not (log.exists() and log.read_text().count("'step_time'") >= 3):
        assert run.poll() is None, run.stdout.read()
        assert time.monotonic() < deadline, "the training job logged no steps"
        time.sleep(0.2)
    job = subprocess.run(
        ["squeue", "-h", "-o", "%i %k"], env=env, capture_output=True, text=True, check=True
    ).stdout
    job_id = next(line.split()[0] for line in job.splitlines() if "rule_train" in line)
    subprocess.run(["scancel", "--signal=TERM", job_id], env=env, check=True)
    output, _ = run.communicate(timeout=LIMIT_S)
    assert run.returncode == 0, output
    # checkpoints come every 10,000 steps: only the signal can have saved the one resumed from
    record = json.loads((tmp_path / model / "training_record.json").read_text())
    assert record["restored"], output
    assert record["restored"]["step"] >= 3  # the steps logged before it
    assert record["global_step"] == 100

    spec = TrainingSpec.from_mapping(
        json.loads((tmp_path / model / "training_spec.json").read_text())
    )
    base = tmp_path / "results/base_model/toy-qwen2-vl"
    questions = tmp_path / "results/splits/demo-colours/2shot/seed1/train.jsonl"
    uninterrupted = tmp_path / "uninterrupted"
    threads = torch.get_num_threads()
    torch.set_num_threads(int(EXPECTED["train"]["--cpus-per-task"]))  # the job's threads
    try:
        train(
            spec,
            str(base),
            questions,
            tmp_path / "data/prepared/demo-colours",
            uninterrupted / "model",
            uninterrupted / "checkpoints",
            runtime_from(save_steps=10_000),
        )
    finally:
        torch.set_num_threads(threads)
    assert_same_weights(tmp_path / model, weights(uninterrupted / "model"), base)
