# Evaluation: one job per (model, prompt style, target dataset).

EVAL = config["evaluation"]


rule evaluate_zero_shot:
    input:
        model=base_model_input(),
        dataset=prepared_dataset("target"),
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
        gpu=eval_resource("gpu"),
        mem_mb=eval_resource("mem_mb"),
        runtime=eval_resource("runtime"),
    params:
        version=STAGE_VERSIONS["evaluation"],
        model=base_model_to_load,
        record=lambda wc: {
            "method": "zero-shot",
            "train_dataset": None,
            "shots": 0,
            "seed": None,
            "style": wc.style,
            "target": wc.target,
        },
        settings=lambda wc: eval_settings(wc.style, wc.target),
        device=EVAL["device"],
        dtype=EVAL["dtype"],
    script:
        "../workflow_scripts/evaluate.py"


rule evaluate_trained:
    input:
        model="results/models/{method}/{view}/{shots}shot/seed{seed}",
        dataset=prepared_dataset("target"),
        questions="results/questions/{target}/test.jsonl",
    output:
        predictions="results/eval/{method}/{view}/{shots}shot/seed{seed}/{target}/predictions.jsonl",
        metrics="results/eval/{method}/{view}/{shots}shot/seed{seed}/{target}/metrics.json",
    log:
        "logs/evaluate/{method}/{view}/{shots}shot/seed{seed}/{target}.log",
    benchmark:
        "benchmarks/evaluate/{method}/{view}/{shots}shot/seed{seed}/{target}.tsv"
    wildcard_constraints:
        method="|".join(TRAINED_METHODS) or "no-trained-method",
    conda:
        "../envs/clsrl.yaml"
    threads: EVAL["threads"]
    resources:
        gpu=eval_resource("gpu"),
        mem_mb=eval_resource("mem_mb"),
        runtime=eval_resource("runtime"),
    params:
        version=STAGE_VERSIONS["evaluation"],
        model=lambda wc, input: input.model,
        record=lambda wc: {
            "method": wc.method,
            "train_dataset": wc.view,
            "shots": int(wc.shots),
            "seed": int(wc.seed),
            "style": method_style(wc.method),
            "target": wc.target,
        },
        settings=lambda wc: eval_settings(method_style(wc.method), wc.target),
        device=EVAL["device"],
        dtype=EVAL["dtype"],
    script:
        "../workflow_scripts/evaluate.py"
