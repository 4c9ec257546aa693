"""Draw a seeded few-shot training set of a view and write its questions (rule sample_few_shot)."""

from clsrl.datasets.canonical import load_dataset
from clsrl.fewshot import few_shot_questions
from clsrl.joblog import job_log
from clsrl.questions import OptionSettings, write_questions
from clsrl.views import View

sm = snakemake  # injected by Snakemake's script directive
with job_log(sm.log[0]):
    seed = int(sm.wildcards.seed)
    dataset = load_dataset(sm.input[0])
    questions = few_shot_questions(
        dataset,
        int(sm.wildcards.shots),
        seed,
        OptionSettings(**sm.params.options, seed=seed),
        classes=View(dataset.name, sm.params.half).classes(dataset.num_classes),
        allow_fewer=sm.params.allow_fewer,
    )
    write_questions(sm.output[0], questions)
    print(f"wrote {len(questions)} training questions to {sm.output[0]}")
