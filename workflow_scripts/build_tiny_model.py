"""Build a tiny random model of a family, or Qwen2-VL-2B's full-size random one, offline (rules
build_tiny_model, build_full_size_model)."""

from clsrl.datasets.demo import demo_texts
from clsrl.joblog import job_log
from clsrl.models.tiny import build_tiny_model

sm = snakemake  # injected by Snakemake's script directive
with job_log(sm.log[0]):
    settings = sm.params.settings
    build_tiny_model(
        sm.output[0],
        seed=settings["seed"],
        corpus=demo_texts(),
        image_min_pixels=settings["image_pixels"],
        image_max_pixels=settings["image_pixels"],
        shape=sm.params.shape,
    )
