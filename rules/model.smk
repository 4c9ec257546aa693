# The base model: built offline for builtin:tiny-qwen2-vl; hub names and local paths need no rule.


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
