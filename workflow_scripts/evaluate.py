"""Evaluate one model on one target view (rules evaluate_zero_shot, evaluate_trained)."""

import torch

from clsrl.compute.gpu_slots import gpu_slots
from clsrl.evaluation.evaluate import EvalSettings, run_evaluation
from clsrl.joblog import job_log

sm = snakemake  # injected by Snakemake's script directive
with job_log(sm.log[0]), gpu_slots(sm.resources.gpu):
    torch.set_num_threads(sm.threads)
    metrics = run_evaluation(
        sm.params.model,
        sm.input.dataset,
        sm.input.questions,
        sm.output.predictions,
        sm.output.metrics,
        EvalSettings(**sm.params.settings),
        batch_size=sm.params.runtime.batch_size,
        device=sm.params.device,
        precision=sm.params.precision,
        backend=sm.params.runtime.backend,
        record=dict(sm.params.record),
    )
    print({key: metrics[key] for key in ("n", "lenient_accuracy", "strict_accuracy")})
