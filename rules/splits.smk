# Few-shot training sets per (dataset, shots, seed), as questions with their option lists.


rule sample_few_shot:
    input:
        "data/prepared/{dataset}",
    output:
        "results/splits/{dataset}/{shots}shot/seed{seed}/train.jsonl",
    log:
        "logs/sample_few_shot/{dataset}/{shots}shot/seed{seed}.log",
    conda:
        "../envs/clsrl.yaml"
    params:
        ratio=config["options"]["fewshot_ratio"],
        min_choices=config["options"]["min_choices"],
        max_choices=config["options"]["max_choices"],
        floor_rule=config["options"]["floor_rule"],
        open_set=config["options"]["open_set"],
        allow_fewer=config["training"]["allow_fewer_shots"],
    script:
        "../workflow_scripts/sample_few_shot.py"
