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
        settings=lambda wc: {
            "style": wc.style,
            "wording": EVAL["wording"],
            "batch_size": EVAL["batch_size"],
            "max_new_tokens": EVAL["max_new_tokens"],
            "image_resize": config["images"]["resize"],
        },
        device=EVAL["device"],
        dtype=EVAL["dtype"],
    script:
        "../workflow_scripts/evaluate.py"
