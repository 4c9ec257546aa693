# Evaluation: one job per (model, prompt style, target view). Its settings and identity are
# params (a change reruns it); batch size and backend travel as an object, which reruns nothing.


rule evaluate_zero_shot:
    """The base model, untrained, on a target view in one prompt style (clsrl.evaluation.evaluate)."""
    input:
        model=base_model_input,
        dataset=target_dataset,
        questions=QUESTIONS.replace("{view}", "{target}"),
    output:
        predictions=f"{EVAL_ZERO_SHOT}/predictions.jsonl",
        metrics=f"{EVAL_ZERO_SHOT}/metrics.json",
    log:
        f"logs/evaluate/{ZERO_SHOT_RUN}.log",
    benchmark:
        f"benchmarks/evaluate/{ZERO_SHOT_RUN}.tsv"
    conda:
        "../envs/clsrl.yaml"
    threads: STUDY.threads("evaluation")
    resources:
        gpu=eval_gpus,
        mem_mb=eval_mem_mb,
        runtime=eval_runtime,
    params:
        version=STAGE_VERSIONS["evaluation"],
        model=base_model_to_load,
        record=zero_shot_record,
        settings=zero_shot_settings,
        device=STUDY.eval_device,
        precision=STUDY.eval_precision,
        runtime=evaluation_runtime,
    script:
        "../workflow_scripts/evaluate.py"


rule evaluate_trained:
    """A trained model on a target view, in the prompt style it was trained with."""
    input:
        model=MODEL,
        dataset=target_dataset,
        questions=QUESTIONS.replace("{view}", "{target}"),
    output:
        predictions=f"{EVAL_TRAINED}/predictions.jsonl",
        metrics=f"{EVAL_TRAINED}/metrics.json",
    log:
        f"logs/evaluate/{TRAINED_RUN}/{{target}}.log",
    benchmark:
        f"benchmarks/evaluate/{TRAINED_RUN}/{{target}}.tsv"
    wildcard_constraints:
        method="|".join(TRAINED_METHODS) or "no-trained-method",
    conda:
        "../envs/clsrl.yaml"
    threads: STUDY.threads("evaluation")
    resources:
        gpu=eval_gpus,
        mem_mb=eval_mem_mb,
        runtime=eval_runtime,
    params:
        version=STAGE_VERSIONS["evaluation"],
        model=trained_model,
        record=trained_record,
        settings=trained_settings,
        device=STUDY.eval_device,
        precision=STUDY.eval_precision,
        runtime=evaluation_runtime,
    script:
        "../workflow_scripts/evaluate.py"
