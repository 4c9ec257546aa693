# Training: one job per (method, view, shots, seed), through TRL's trainers (clsrl.training.train). The
# job's spec (clsrl.training.spec, with the training stage's version) is its only output-shaping
# param; its runtime settings (checkpoints, launch) travel as an object, which reruns nothing.


rule train:
    """One model: a method trained on a view's k-shot split from the base model (clsrl.training.train)."""
    input:
        model=base_model_input,
        dataset=view_dataset,
        questions=SPLIT,
    output:
        directory(MODEL),
    log:
        f"logs/train/{TRAINED_RUN}.log",
    benchmark:
        f"benchmarks/train/{TRAINED_RUN}.tsv"
    wildcard_constraints:
        method="|".join(TRAINED_METHODS) or "no-trained-method",
    conda:
        "../envs/clsrl.yaml"
    threads: STUDY.threads("training")
    resources:
        gpu=train_gpus,
        mem_mb=train_mem_mb,
        runtime=train_runtime,
    params:
        spec=train_spec_mapping,
        base_model=base_model_to_load,
        checkpoints=CHECKPOINTS,
        runtime=training_runtime,
    script:
        "../workflow_scripts/train.py"
