# Questions with their option lists: the test questions every model is asked, and the seeded
# few-shot training sets per (view, shots, seed). A view is a dataset (all classes) or one half
# of its base-to-new split (NAME.base, NAME.new; clsrl.views).


rule make_test_questions:
    """The test questions of a view, each with its fixed option list (clsrl.questions)."""
    input:
        view_dataset,
    output:
        QUESTIONS,
    log:
        "logs/make_test_questions/{view}.log",
    benchmark:
        "benchmarks/make_test_questions/{view}.tsv"
    conda:
        "../envs/clsrl.yaml"
    params:
        version=STAGE_VERSIONS["questions"],
        half=view_half,
        options=view_options,
        seed=STUDY.test_seed,
    script:
        "../workflow_scripts/make_questions.py"


rule sample_few_shot:
    """A seeded k-shot training set of a view, as questions (clsrl.fewshot)."""
    input:
        view_dataset,
    output:
        SPLIT,
    log:
        "logs/sample_few_shot/{view}/{shots}shot/seed{seed}.log",
    benchmark:
        "benchmarks/sample_few_shot/{view}/{shots}shot/seed{seed}.tsv"
    conda:
        "../envs/clsrl.yaml"
    params:
        version=STAGE_VERSIONS["questions"],
        half=view_half,
        options=view_options,
        allow_fewer=STUDY.allow_fewer_shots,
    script:
        "../workflow_scripts/sample_few_shot.py"
