"""Pre-train the tiny model into the toy base model (rule build_toy_model)."""

import torch

from clsrl.toy_model import ToySettings, build_toy_model
from clsrl.workflow import job_log

sm = snakemake  # injected by Snakemake's script directive
with job_log(sm.log[0]):
    torch.set_num_threads(sm.threads)
    settings = ToySettings(
        seed=sm.params.seed,
        steps=sm.params.steps,
        batch_size=sm.params.batch_size,
        learning_rate=sm.params.learning_rate,
        image_size=sm.params.image_size,
    )
    build_toy_model(sm.input[0], sm.output[0], settings)
