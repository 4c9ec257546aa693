# Evaluation: one job per (model, prompt style, target dataset).

EVAL = config["evaluation"]


rule evaluate_zero_shot:
    input:
        model=base_model_input(),
        dataset="data/prepared/{target}",
        questions="results/questions/{target}/test.jsonl",
    output:
        predictions="results/eval/zero-shot/{style}/{target}/predictions.jsonl",
        metrics="results/eval/zero-shot/{style}/{target}/metrics.json",
    log:
        "logs/evaluate/zero-shot/{style}/{target}.log",
    benchmark:
        "benchmarks/evaluate/zero-shot/{style}/{target}.tsv"
    conda:
        "../envs/clsrl.yaml"
    threads: EVAL["threads"]
    resources:
        gpu=0 if EVAL["device"] == "cpu" else 1,
        mem_mb=4000,
    params:
        model=base_model_to_load,
        record=lambda wc: {
            "method": "zero-shot",
            "train_dataset": None,
            "shots": 0,
            "seed": None,
            "style": wc.style,
            "target": wc.target,
        },
        settings=lambda wc: eval_settings(wc.style),
        device=EVAL["device"],
        dtype=EVAL["dtype"],
    script:
        "../workflow_scripts/evaluate.py"


rule evaluate_trained:
    input:
        model="results/models/{method}/{dataset}/{shots}shot/seed{seed}",
        dataset="data/prepared/{target}",
        questions="results/questions/{target}/test.jsonl",
    output:
        predictions="results/eval/{method}/{dataset}/{shots}shot/seed{seed}/{target}/predictions.jsonl",
        metrics="results/eval/{method}/{dataset}/{shots}shot/seed{seed}/{target}/metrics.json",
    log:
        "logs/evaluate/{method}/{dataset}/{shots}shot/seed{seed}/{target}.log",
    benchmark:
        "benchmarks/evaluate/{method}/{dataset}/{shots}shot/seed{seed}/{target}.tsv"
    wildcard_constraints:
        method="|".join(TRAINED_METHODS) or "no-trained-method",
        shots=r"\d+",
        seed=r"\d+",
    conda:
        "../envs/clsrl.yaml"
    threads: EVAL["threads"]
    resources:
        gpu=0 if EVAL["device"] == "cpu" else 1,
        mem_mb=4000,
    params:
        model=lambda wc, input: input.model,
        record=lambda wc: {
            "method": wc.method,
            "train_dataset": wc.dataset,
            "shots": int(wc.shots),
            "seed": int(wc.seed),
            "style": method_style(wc.method),
            "target": wc.target,
        },
        settings=lambda wc: eval_settings(method_style(wc.method)),
        device=EVAL["device"],
        dtype=EVAL["dtype"],
    script:
        "../workflow_scripts/evaluate.py"
