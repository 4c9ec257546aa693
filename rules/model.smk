# The base model: built offline for the tiny random models of every family (builtin:tiny-qwen2-vl,
# tiny-qwen2.5-vl, tiny-qwen3-vl, tiny-gemma3, tiny-idefics3: clsrl.models.base_models.BUILTIN_MODELS),
# builtin:toy-qwen2-vl and builtin:qwen2-vl-2b-random; hub names and local paths need no rule.


rule build_tiny_model:
    """builtin:tiny-qwen2-vl, tiny-qwen2.5-vl, tiny-qwen3-vl, tiny-gemma3 and
    tiny-idefics3: tiny random models built offline (clsrl.models.tiny;
    clsrl.models.base_models.BUILTIN_MODELS gives each its shape)."""
    output:
        directory(BASE_MODEL.format(name="{tiny}")),
    log:
        "logs/build_tiny_model/{tiny}.log",
    benchmark:
        "benchmarks/build_tiny_model/{tiny}.tsv"
    wildcard_constraints:
        tiny="|".join(re.escape(name) for name in TINY_BUILDS),
    conda:
        "../envs/clsrl.yaml"
    params:
        version=STAGE_VERSIONS["base_model"],
        settings=tiny_build_settings,
        shape=tiny_shape,
    script:
        "../workflow_scripts/build_tiny_model.py"


rule build_full_size_model:
    """builtin:qwen2-vl-2b-random: Qwen2-VL-2B's architecture, random weights, for rehearsals."""
    output:
        directory(BASE_MODEL.format(name="qwen2-vl-2b-random")),
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
        settings=STUDY.tiny_build_params("qwen2-vl-2b"),
        shape="qwen2-vl-2b",
    script:
        "../workflow_scripts/build_tiny_model.py"


rule build_toy_model:
    """builtin:toy-qwen2-vl: the shipped toy model (checksums checked), or the tiny model after
    the short SFT pre-training the config's toy_model settings ask for (clsrl.toy.model).
    """
    input:
        toy_model_base,
    output:
        directory(BASE_MODEL.format(name="toy-qwen2-vl")),
    log:
        "logs/build_toy_model.log",
    benchmark:
        "benchmarks/build_toy_model.tsv"
    conda:
        "../envs/clsrl.yaml"
    threads: STUDY.threads("toy_model")
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        version=STAGE_VERSIONS["base_model"],
        source=STUDY.toy_model_source(),
        shipped=STUDY.shipped_toy_model(),
        settings=STUDY.toy_model_params(),
        tiny=STUDY.tiny_model_params(),
    script:
        "../workflow_scripts/build_toy_model.py"
