"""Generate one built-in demo dataset in the canonical format (rule generate_demo_dataset)."""

from clsrl.datasets.demo import generate_demo_dataset
from clsrl.workflow import job_log

sm = snakemake  # injected by Snakemake's script directive
with job_log(sm.log[0]):
    dataset = generate_demo_dataset(
        sm.wildcards.dataset,
        sm.output[0],
        seed=sm.params.seed,
        per_class=dict(sm.params.per_class),
        image_size=sm.params.image_size,
    )
    print(f"wrote {len(dataset.items)} images of {dataset.num_classes} classes to {sm.output[0]}")
