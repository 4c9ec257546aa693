"""Generate one built-in demo dataset in the canonical format (rule generate_demo_dataset)."""

from clsrl.datasets.demo import generate_demo_dataset
from clsrl.joblog import job_log

sm = snakemake  # injected by Snakemake's script directive
with job_log(sm.log[0]):
    settings = sm.params.settings
    dataset = generate_demo_dataset(
        sm.wildcards.dataset,
        sm.output[0],
        seed=settings["seed"],
        per_class=dict(settings["per_class"]),
        image_size=settings["image_size"],
    )
    print(f"wrote {len(dataset.items)} images of {dataset.num_classes} classes to {sm.output[0]}")
