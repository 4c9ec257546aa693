# Training: one job per (method, view, shots, seed), through TRL's trainers (clsrl.train).
# The job's spec (clsrl.training_spec, with the training stage's version) is its only
# output-shaping param; runtime settings (save_steps, keep_checkpoints) are read by the script
# from the config, so changing them reruns nothing.
from clsrl.training_spec import training_spec

TRAINING = config["training"]


rule train:
    input:
        model=base_model_input(),
        dataset=prepared_dataset("view"),
        questions="results/splits/{view}/{shots}shot/seed{seed}/train.jsonl",
    output:
        directory("results/models/{method}/{view}/{shots}shot/seed{seed}"),
    log:
        "logs/train/{method}/{view}/{shots}shot/seed{seed}.log",
    benchmark:
        "benchmarks/train/{method}/{view}/{shots}shot/seed{seed}.tsv"
    wildcard_constraints:
        method="|".join(TRAINED_METHODS) or "no-trained-method",
    conda:
        "../envs/clsrl.yaml"
    threads: TRAINING["threads"] * TRAINING["gpus"]
    resources:
        gpu=train_resource("gpu"),
        mem_mb=train_resource("mem_mb"),
        runtime=train_resource("runtime"),
    params:
        spec=lambda wc: training_spec(
            config, wc.method, wc.view, int(wc.shots), int(wc.seed)
        ),
        base_model=base_model_to_load,
        checkpoints="results/checkpoints/{method}/{view}/{shots}shot/seed{seed}",
    script:
        "../workflow_scripts/train.py"
