"""Launch one training job (rule train): clsrl.training.train in one process, or one process per
GPU."""

import sys
from pathlib import Path

from clsrl.compute.gpu_slots import gpu_slots
from clsrl.joblog import job_log
from clsrl.training.launch import run_training_job
from clsrl.training.spec import TrainingSpec
from clsrl.workflow.study import TRACKING, TRAINED_RUN

sm = snakemake  # injected by Snakemake's script directive
with job_log(sm.log[0]), gpu_slots(sm.resources.gpu):
    wildcards = dict(sm.wildcards.items())
    code = run_training_job(
        TrainingSpec.from_mapping(sm.params.spec),
        sm.params.runtime,
        base_model=sm.params.base_model,
        questions=sm.input.questions,
        dataset=sm.input.dataset,
        output=sm.output[0],
        checkpoints=sm.params.checkpoints,
        run_name=TRAINED_RUN.format(**wildcards),  # the job's identity: a tracker's run name
        threads=sm.threads,
        tracking_dir=TRACKING.format(**wildcards),
        accelerate_configs=Path(sm.scriptdir).parent / "envs" / "accelerate",
    )
    if code:  # 75: stopped on SIGTERM with a checkpoint saved; a rerun resumes from it
        sys.exit(f"training exited with status {code}; see the log above")
