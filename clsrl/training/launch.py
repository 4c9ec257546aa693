"""How rule train starts a training job: clsrl.training.train in this process's Python for one
process, or `accelerate launch` with one process per GPU; SIGTERM forwarded, and the job's time
limit turned into a stop with a checkpoint saved (clsrl.joblog).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from clsrl.compute.resources import signal_lead_seconds
from clsrl.joblog import run_forwarding_signals, time_limit_stop
from clsrl.training.runtime import TrainingRuntime
from clsrl.training.spec import TrainingSpec


def launch_command(processes: int, accelerate_config: str, python: str) -> list[str]:
    """How a training job starts clsrl.training.train: in-process Python for one process, else
    `accelerate launch` with one process per GPU.

    >>> launch_command(1, "fsdp.yaml", "python")
    ['python']
    >>> launch_command(4, "fsdp.yaml", "python")[3:]
    ['--num_processes', '4', '--config_file', 'fsdp.yaml']
    """
    if processes == 1:
        return [python]
    return [
        python,
        "-m",
        "accelerate.commands.launch",
        "--num_processes",
        str(processes),
        "--config_file",
        accelerate_config,
    ]


def run_training_job(
    spec: TrainingSpec,
    runtime: TrainingRuntime,
    *,
    base_model: str,
    questions: str,
    dataset: str,
    output: str,
    checkpoints: str,
    run_name: str,
    threads: int,
    accelerate_configs: Path,
    tracking_dir: str | None = None,
) -> int:
    """Run one training job to its end and return its exit status (75: stopped on SIGTERM with a
    checkpoint saved; a rerun resumes from it). `threads` are the job's, shared by its
    processes; `accelerate_configs` is the workflow's envs/accelerate folder; TensorBoard's event
    files go to `tracking_dir` when the runtime asks for them."""
    accelerate_config = accelerate_configs / f"{runtime.multi_gpu_config}.yaml"
    command = [
        *launch_command(spec.processes, str(accelerate_config), sys.executable),
        *("-m", "clsrl.training.train", "--spec", json.dumps(spec.as_mapping())),
        *("--base-model", base_model),
        *("--questions", questions, "--dataset", dataset),
        *("--output", output, "--checkpoints", checkpoints),
        *("--save-steps", str(runtime.save_steps)),
        *(["--keep-checkpoints"] if runtime.keep_checkpoints else []),
        *("--report-to", ",".join(runtime.report_to), "--run-name", run_name),
    ]
    print(" ".join(command), flush=True)
    per_process = max(1, threads // spec.processes)  # as the job reserved them
    env = {**os.environ, "OMP_NUM_THREADS": str(per_process)}
    if "tensorboard" in runtime.report_to and tracking_dir:  # the job's event files
        env["TENSORBOARD_LOGGING_DIR"] = str(Path(tracking_dir).resolve())
    return run_forwarding_signals(command, env, time_limit_stop(signal_lead_seconds))
