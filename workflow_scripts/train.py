"""Launch one training job (rule train): clsrl.training.train in one process, or one process per
GPU."""

import json
import os
import sys
from pathlib import Path

from clsrl.compute.gpu_slots import gpu_slots
from clsrl.compute.resources import signal_lead_seconds
from clsrl.joblog import job_log, run_forwarding_signals, time_limit_stop
from clsrl.training.spec import launch_command
from clsrl.workflow.study import TRACKING, TRAINED_RUN

sm = snakemake  # injected by Snakemake's script directive
with job_log(sm.log[0]), gpu_slots(sm.resources.gpu):
    spec, runtime = dict(sm.params.spec), sm.params.runtime
    wildcards = dict(sm.wildcards.items())
    run = TRAINED_RUN.format(**wildcards)  # the job's identity: a tracker's run name
    accelerate_config = (
        Path(sm.scriptdir).parent / f"envs/accelerate/{runtime.multi_gpu_config}.yaml"
    )
    command = [
        *launch_command(spec["processes"], str(accelerate_config), sys.executable),
        *(
            "-m",
            "clsrl.training.train",
            "--spec",
            json.dumps(spec),
            "--base-model",
            sm.params.base_model,
        ),
        *("--questions", sm.input.questions, "--dataset", sm.input.dataset),
        *("--output", sm.output[0], "--checkpoints", sm.params.checkpoints),
        *("--save-steps", str(runtime.save_steps)),
        *(["--keep-checkpoints"] if runtime.keep_checkpoints else []),
        *("--report-to", ",".join(runtime.report_to), "--run-name", run),
    ]
    print(" ".join(command), flush=True)
    threads = max(1, sm.threads // spec["processes"])  # per process, as the job reserved
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    if "tensorboard" in runtime.report_to:  # event files of the job, beside the results
        env["TENSORBOARD_LOGGING_DIR"] = str(Path(TRACKING.format(**wildcards)).resolve())
    code = run_forwarding_signals(command, env, time_limit_stop(signal_lead_seconds))
    if code:  # 75: stopped on SIGTERM with a checkpoint saved; a rerun resumes from it
        sys.exit(f"training exited with status {code}; see the log above")
