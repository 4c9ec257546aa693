# Questions with their option lists: the test questions every model is asked, and the seeded
# few-shot training sets per (view, shots, seed). A view is a dataset (all classes) or one half
# of its base-to-new split (NAME.base, NAME.new).


rule make_test_questions:
    input:
        prepared_dataset("view"),
    output:
        "results/questions/{view}/test.jsonl",
    log:
        "logs/make_test_questions/{view}.log",
    benchmark:
        "benchmarks/make_test_questions/{view}.tsv"
    conda:
        "../envs/clsrl.yaml"
    params:
        version=STAGE_VERSIONS["questions"],
        split="test",
        half=lambda wc: parse_view(wc.view)[1],
        options=lambda wc: view_option_params(wc.view),
        seed=config["options"]["test_seed"],
    script:
        "../workflow_scripts/make_questions.py"


rule sample_few_shot:
    input:
        prepared_dataset("view"),
    output:
        "results/splits/{view}/{shots}shot/seed{seed}/train.jsonl",
    log:
        "logs/sample_few_shot/{view}/{shots}shot/seed{seed}.log",
    benchmark:
        "benchmarks/sample_few_shot/{view}/{shots}shot/seed{seed}.tsv"
    conda:
        "../envs/clsrl.yaml"
    params:
        version=STAGE_VERSIONS["questions"],
        half=lambda wc: parse_view(wc.view)[1],
        options=lambda wc: view_option_params(wc.view),
        allow_fewer=config["training"]["allow_fewer_shots"],
    script:
        "../workflow_scripts/sample_few_shot.py"
