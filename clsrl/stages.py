"""Stage versions: the deliberate way to invalidate a stage when its code's behaviour changes.

Snakemake reruns a job when its params change, and every job carries its stage's version as a
param. Snakemake's `code` trigger is off (profiles/default/config.yaml): editing a workflow script
or a clsrl helper reruns nothing by itself. So:

- a refactor, a comment or a speed-up that leaves outputs as they were: change nothing here;
- a change that alters a stage's outputs (a fixed bug in answer parsing, a new prompt text, a
  different image resize): bump that stage's number here, in the same commit. Its jobs rerun, and
  the stages downstream of it rerun because their inputs changed; nothing upstream does.

See docs/reruns.md.
"""

# Each stage's number, with the modules whose behaviour it covers.
STAGE_VERSIONS = {
    "base_model": 2,  # clsrl.models.tiny, clsrl.toy
    "data": 1,  # clsrl.datasets (download, convert, demo generation)
    "questions": 1,  # clsrl.questions, clsrl.prompts option lists, clsrl.fewshot sampling
    # 2: float32 master weights under bf16 compute (bf16 weights did not learn at lr 1e-6)
    "training": 2,  # clsrl.training (train, rewards, spec), clsrl.methods
    "evaluation": 1,  # clsrl.evaluation, clsrl.answers, clsrl.prompts
    "report": 2,  # clsrl.report (aggregate, plots, tables, answer_stats)
}

# A rule's own version, for a change that alters only the jobs that use the rule: a training spec
# that names a rule here carries its version (clsrl.training.spec), so those jobs rerun and no
# other does.
RULE_VERSIONS = {
    # 2: math_verify parses the label inside its answer tags, as the reference code's solution
    # column holds it ("BAE 146-200" and "BAE 146-300" both read as 146; issue 26)
    "thinking_accuracy_reference": 2,
}
