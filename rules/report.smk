# Aggregation into tables and figures.


rule zero_shot_table:
    """Partial target: the zero-shot accuracy table."""
    input:
        "results/tables/zero_shot.csv",


rule fewshot_table:
    """Partial target: the few-shot table (each method on its own training dataset)."""
    input:
        "results/tables/fewshot.csv",
        "results/figures/fewshot_accuracy.png",


rule aggregate:
    input:
        zero_shot_metrics(),
        trained_metrics(),
    output:
        long="results/tables/accuracy_long.csv",
        zero_shot="results/tables/zero_shot.csv",
        zero_shot_md="results/tables/zero_shot.md",
        fewshot="results/tables/fewshot.csv",
        fewshot_md="results/tables/fewshot.md",
        fewshot_strict="results/tables/fewshot_strict.csv",
        fewshot_strict_md="results/tables/fewshot_strict.md",
    log:
        "logs/aggregate.log",
    conda:
        "../envs/clsrl.yaml"
    params:
        targets=DATASETS,
    script:
        "../workflow_scripts/aggregate.py"


rule plot_fewshot:
    input:
        "results/tables/accuracy_long.csv",
    output:
        "results/figures/fewshot_accuracy.png",
    log:
        "logs/plot_fewshot.log",
    conda:
        "../envs/clsrl.yaml"
    params:
        targets=DATASETS,
    script:
        "../workflow_scripts/plot_accuracy.py"


rule plot_reward_curves:
    input:
        expand(
            "results/models/{method}/{dataset}/{shots}shot/seed{seed}",
            method=TRAINED_METHODS,
            dataset=DATASETS,
            shots=config["training"]["shots"],
            seed=config["training"]["seeds"],
        ),
    output:
        "results/figures/reward_curves.png",
    log:
        "logs/plot_reward_curves.log",
    conda:
        "../envs/clsrl.yaml"
    script:
        "../workflow_scripts/plot_reward_curves.py"
