# The base model: built offline for builtin:tiny-qwen2-vl, builtin:toy-qwen2-vl and
# builtin:qwen2-vl-2b-random; hub names and local paths need no rule.


rule build_tiny_model:
    """builtin:tiny-qwen2-vl: a tiny random Qwen2-VL built offline (clsrl.tiny_model)."""
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
        shape="tiny",
    script:
        "../workflow_scripts/build_tiny_model.py"


rule build_full_size_model:
    """builtin:qwen2-vl-2b-random: Qwen2-VL-2B-Instruct's architecture with random weights, built
    offline for rehearsals and GPU measurements (clsrl.tiny_model, shape qwen2-vl-2b).
    """
    output:
        directory("results/base_model/qwen2-vl-2b-random"),
    log:
        "logs/build_full_size_model.log",
    benchmark:
        "benchmarks/build_full_size_model.tsv"
    conda:
        "../envs/clsrl.yaml"
    resources:
        mem_mb=16000,
        runtime=30,
    params:
        version=STAGE_VERSIONS["base_model"],
        seed=config["tiny_model"]["seed"],
        image_pixels=None,
        shape="qwen2-vl-2b",
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
