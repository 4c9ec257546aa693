# Training: one job per (method, dataset, shots, seed), through TRL's trainers (clsrl.train).
import json

from clsrl.training_spec import training_spec

TRAINING = config["training"]


rule train:
    input:
        model=base_model_input(),
        dataset="data/prepared/{dataset}",
        questions="results/splits/{dataset}/{shots}shot/seed{seed}/train.jsonl",
    output:
        directory("results/models/{method}/{dataset}/{shots}shot/seed{seed}"),
    log:
        "logs/train/{method}/{dataset}/{shots}shot/seed{seed}.log",
    benchmark:
        "benchmarks/train/{method}/{dataset}/{shots}shot/seed{seed}.tsv"
    wildcard_constraints:
        method="|".join(TRAINED_METHODS) or "no-trained-method",
        shots=r"\d+",
        seed=r"\d+",
    conda:
        "../envs/clsrl.yaml"
    threads: 2
    resources:
        gpu=TRAINING["gpus"],
        mem_mb=16000,
    params:
        spec=lambda wc: json.dumps(
            training_spec(config, wc.method, wc.dataset, int(wc.shots), int(wc.seed)),
            sort_keys=True,
        ),
        base_model=base_model_to_load,
        launcher=training_launcher(),
        checkpoints="results/checkpoints/{method}/{dataset}/{shots}shot/seed{seed}",
        save_steps=TRAINING["save_steps"],
        keep=lambda wc: "--keep-checkpoints" if TRAINING["keep_checkpoints"] else "",
    shell:
        "{params.launcher} -m clsrl.train --spec {params.spec:q}"
        " --base-model {params.base_model:q} --questions {input.questions}"
        " --dataset {input.dataset} --output {output} --checkpoints {params.checkpoints}"
        " --save-steps {params.save_steps} {params.keep} > {log} 2>&1"
