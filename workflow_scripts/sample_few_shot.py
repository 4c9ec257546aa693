"""Draw a seeded few-shot training set and write its questions (rule sample_few_shot)."""

from clsrl.datasets.canonical import load_dataset
from clsrl.fewshot import few_shot_questions
from clsrl.questions import OptionSettings, write_questions
from clsrl.workflow import job_log

sm = snakemake  # injected by Snakemake's script directive
with job_log(sm.log[0]):
    seed = int(sm.wildcards.seed)
    settings = OptionSettings(
        ratio=sm.params.ratio,
        min_choices=sm.params.min_choices,
        max_choices=sm.params.max_choices,
        floor_rule=sm.params.floor_rule,
        open_set=sm.params.open_set,
        seed=seed,
    )
    questions = few_shot_questions(
        load_dataset(sm.input[0]),
        int(sm.wildcards.shots),
        seed,
        settings,
        allow_fewer=sm.params.allow_fewer,
    )
    write_questions(sm.output[0], questions)
    print(f"wrote {len(questions)} training questions to {sm.output[0]}")
