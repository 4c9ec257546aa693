# Aggregation into tables and figures.


rule zero_shot_table:
    """Partial target: the zero-shot accuracy table."""
    input:
        "results/tables/zero_shot.csv",


rule aggregate:
    input:
        zero_shot_metrics(),
    output:
        long="results/tables/accuracy_long.csv",
        zero_shot="results/tables/zero_shot.csv",
        zero_shot_md="results/tables/zero_shot.md",
    log:
        "logs/aggregate.log",
    conda:
        "../envs/clsrl.yaml"
    params:
        targets=DATASETS,
    script:
        "../workflow_scripts/aggregate.py"


rule plot_zero_shot:
    input:
        "results/tables/accuracy_long.csv",
    output:
        "results/figures/zero_shot_accuracy.png",
    log:
        "logs/plot_zero_shot.log",
    conda:
        "../envs/clsrl.yaml"
    params:
        targets=DATASETS,
    script:
        "../workflow_scripts/plot_accuracy.py"
