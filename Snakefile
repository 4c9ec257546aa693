# clsrl: CLS-RL (arXiv 2503.16188) as a workflow. Run: snakemake --cores all
# This file only wires things up; rules live in rules/, logic in the clsrl package.
from snakemake.utils import min_version

min_version("9.0")


# config.yaml is the embedded demo; a --configfile replaces it (it does not extend it), so the
# keys a user's file leaves out take the schema's defaults, the paper's. --config overrides either.
# It is read beside this Snakefile, whatever the working directory (--directory).
if not workflow.overwrite_configfiles:

    configfile: f"{workflow.basedir}/config.yaml"


report: "report/workflow.rst"


# Validates the config (clsrl/schemas/config.schema.yaml) and fills its defaults before any rule.
include: "rules/common.smk"
# Job resources and the rules that run on the submitting machine (local rules).
include: "rules/resources.smk"
include: "rules/model.smk"
include: "rules/data.smk"
include: "rules/splits.smk"
include: "rules/train.smk"
include: "rules/evaluate.smk"
include: "rules/report.smk"


onstart:
    check_base_model()  # a hub model must be cached or reachable before any job loads it


onsuccess:
    remove_empty_checkpoint_folders()  # a finished training removes its checkpoints, not parents


onerror:
    report_failed_jobs()  # each failed job's known error ("clsrl error: ..."), at the end


rule all:
    """Every table and figure of the study."""
    default_target: True
    input:
        all_targets(),
