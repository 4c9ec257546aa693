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
    """The long table of every evaluation (how each model answered too: clsrl.report.answer_stats), the
    zero-shot and few-shot tables, how alike seeds answer (clsrl.report.aggregate)."""
    input:
        metrics=[*STUDY.zero_shot_metrics(), *STUDY.trained_metrics()],
        predictions=[
            path.replace("metrics.json", "predictions.jsonl")
            for path in [*STUDY.zero_shot_metrics(), *STUDY.trained_metrics()]
        ],
    output:
        long="results/tables/accuracy_long.csv",
        zero_shot="results/tables/zero_shot.csv",
        zero_shot_md="results/tables/zero_shot.md",
        fewshot=report(
            "results/tables/fewshot.csv",
            caption="../report/fewshot.rst",
            category="Tables",
        ),
        fewshot_md="results/tables/fewshot.md",
        fewshot_strict="results/tables/fewshot_strict.csv",
        fewshot_strict_md="results/tables/fewshot_strict.md",
        agreement="results/tables/seed_agreement.csv",
        agreement_md="results/tables/seed_agreement.md",
    log:
        "logs/aggregate.log",
    benchmark:
        "benchmarks/aggregate.tsv"
    conda:
        "../envs/clsrl.yaml"
    params:
        version=STAGE_VERSIONS["report"],
        targets=STUDY.targets,
        protocol=STUDY.protocol,
    script:
        "../workflow_scripts/aggregate.py"


rule plot_fewshot:
    """Few-shot accuracy per dataset and method, with seed error bars (clsrl.report.plots)."""
    input:
        "results/tables/accuracy_long.csv",
    output:
        report(
            "results/figures/fewshot_accuracy.png",
            caption="../report/figure.rst",
            category="Figures",
        ),
    log:
        "logs/plot_fewshot.log",
    benchmark:
        "benchmarks/plot_fewshot.tsv"
    conda:
        "../envs/clsrl.yaml"
    params:
        version=STAGE_VERSIONS["report"],
        targets=STUDY.targets,
    script:
        "../workflow_scripts/plot_accuracy.py"


rule plot_reward_curves:
    """The mean GRPO training reward per step of every GRPO run (clsrl.report.plots)."""
    input:
        STUDY.trained_models(),
    output:
        report(
            "results/figures/reward_curves.png",
            caption="../report/reward_curves.rst",
            category="Figures",
        ),
    log:
        "logs/plot_reward_curves.log",
    benchmark:
        "benchmarks/plot_reward_curves.tsv"
    conda:
        "../envs/clsrl.yaml"
    params:
        version=STAGE_VERSIONS["report"],
    script:
        "../workflow_scripts/plot_reward_curves.py"


rule base2new_table:
    """Partial target: the base-to-new table."""
    input:
        "results/tables/base2new.csv",


rule crossdataset:
    """Partial target: the cross-dataset matrices and heatmaps."""
    input:
        "results/tables/crossdataset",


rule study_tables:
    """Base-to-new table, cross-dataset matrices and heatmaps, comparison with the paper."""
    input:
        "results/tables/accuracy_long.csv",
    output:
        base2new=report(
            "results/tables/base2new.csv",
            caption="../report/base2new.rst",
            category="Tables",
        ),
        base2new_md="results/tables/base2new.md",
        base2new_strict="results/tables/base2new_strict.csv",
        base2new_strict_md="results/tables/base2new_strict.md",
        crossdataset=report(
            directory("results/tables/crossdataset"),
            patterns=["{name}.png"],
            caption="../report/crossdataset.rst",
            category="Cross-dataset",
        ),
        comparison=report(
            "results/tables/paper_comparison.csv",
            caption="../report/paper_comparison.rst",
            category="Tables",
        ),
        comparison_md="results/tables/paper_comparison.md",
    log:
        "logs/study_tables.log",
    benchmark:
        "benchmarks/study_tables.tsv"
    conda:
        "../envs/clsrl.yaml"
    params:
        version=STAGE_VERSIONS["report"],
        datasets=STUDY.datasets,
        targets=STUDY.targets,
        variants=STUDY.method_variants,
        base_models=STUDY.base_models,
        benchmarks=list(BENCHMARKS),
        protocol=STUDY.protocol,
    script:
        "../workflow_scripts/study_tables.py"
