"""Pre-train the tiny model into the toy base model (rule build_toy_model)."""

import torch

from clsrl.toy_model import ToySettings, build_toy_model
from clsrl.workflow import job_log

sm = snakemake  # injected by Snakemake's script directive
with job_log(sm.log[0]):
    torch.set_num_threads(sm.threads)
    build_toy_model(sm.input[0], sm.output[0], ToySettings(**sm.params.settings))
