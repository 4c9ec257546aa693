"""Write the questions (option lists and problem texts) of one split (rule make_test_questions)."""

from clsrl.datasets.canonical import load_dataset
from clsrl.questions import OptionSettings, make_questions, write_questions
from clsrl.workflow import job_log

sm = snakemake  # injected by Snakemake's script directive
with job_log(sm.log[0]):
    settings = OptionSettings(
        ratio=sm.params.ratio,
        min_choices=sm.params.min_choices,
        max_choices=sm.params.max_choices,
        floor_rule=sm.params.floor_rule,
        open_set=sm.params.open_set,
        seed=sm.params.seed,
    )
    questions = make_questions(load_dataset(sm.input[0]), sm.params.split, settings)
    write_questions(sm.output[0], questions)
    print(f"wrote {len(questions)} questions to {sm.output[0]}")
