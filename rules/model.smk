# The base model: built offline for builtin:tiny-qwen2-vl and builtin:toy-qwen2-vl; hub names
# and local paths need no rule.


rule build_tiny_model:
    output:
        directory("results/base_model/tiny-qwen2-vl"),
    log:
        "logs/build_tiny_model.log",
    benchmark:
        "benchmarks/build_tiny_model.tsv"
    conda:
        "../envs/clsrl.yaml"
    params:
        version=STAGE_VERSIONS["base_model"],
        seed=config["tiny_model"]["seed"],
        image_pixels=config["tiny_model"]["image_pixels"],
    script:
        "../workflow_scripts/build_tiny_model.py"


rule build_toy_model:
    """builtin:toy-qwen2-vl: the tiny model after a short SFT pre-training (clsrl.toy_model)."""
    input:
        "results/base_model/tiny-qwen2-vl",
    output:
        directory("results/base_model/toy-qwen2-vl"),
    log:
        "logs/build_toy_model.log",
    benchmark:
        "benchmarks/build_toy_model.tsv"
    conda:
        "../envs/clsrl.yaml"
    threads: config["toy_model"]["threads"]
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        version=STAGE_VERSIONS["base_model"],
        seed=config["toy_model"]["seed"],
        steps=config["toy_model"]["steps"],
        batch_size=config["toy_model"]["batch_size"],
        learning_rate=config["toy_model"]["learning_rate"],
        image_size=config["demo_data"]["image_size"],
    script:
        "../workflow_scripts/build_toy_model.py"
