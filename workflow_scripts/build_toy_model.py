"""The toy base model: the shipped one, or pre-trained from the tiny model (build_toy_model)."""

import torch

from clsrl.joblog import job_log
from clsrl.toy.model import build_toy_model, install_shipped
from clsrl.toy.settings import ToySettings

sm = snakemake  # injected by Snakemake's script directive
with job_log(sm.log[0]):
    if sm.params.source == "shipped":
        print(f"the shipped toy model (checksums checked) -> {install_shipped(sm.output[0])}")
    else:
        torch.set_num_threads(sm.threads)
        settings = ToySettings(**sm.params.settings)
        build_toy_model(sm.input[0], sm.output[0], settings, dict(sm.params.tiny))
