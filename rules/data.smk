# Datasets in the canonical format (see README), and the questions every model is asked.


rule data:
    """Partial target: every dataset of the study, prepared."""
    input:
        expand("data/prepared/{dataset}", dataset=DATASETS),


rule generate_demo_dataset:
    output:
        directory("data/prepared/{dataset}"),
    log:
        "logs/generate_demo_dataset/{dataset}.log",
    wildcard_constraints:
        dataset="|".join(DEMO_DATASETS) or "no-demo-dataset",
    conda:
        "../envs/clsrl.yaml"
    params:
        seed=config["demo_data"]["seed"],
        image_size=config["demo_data"]["image_size"],
        per_class=config["demo_data"]["per_class"],
    script:
        "../workflow_scripts/generate_demo_dataset.py"


rule make_test_questions:
    input:
        "data/prepared/{dataset}",
    output:
        "results/questions/{dataset}/test.jsonl",
    log:
        "logs/make_test_questions/{dataset}.log",
    conda:
        "../envs/clsrl.yaml"
    params:
        split="test",
        ratio=config["options"]["fewshot_ratio"],
        min_choices=config["options"]["min_choices"],
        max_choices=config["options"]["max_choices"],
        floor_rule=config["options"]["floor_rule"],
        open_set=config["options"]["open_set"],
        seed=config["options"]["test_seed"],
    script:
        "../workflow_scripts/make_questions.py"
