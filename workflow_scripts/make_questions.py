"""Write the test questions of a view (rule make_test_questions)."""

from clsrl.datasets.canonical import load_dataset
from clsrl.joblog import job_log
from clsrl.questions import OptionSettings, make_questions, write_questions
from clsrl.views import View

sm = snakemake  # injected by Snakemake's script directive
with job_log(sm.log[0]):
    dataset = load_dataset(sm.input[0])
    settings = OptionSettings(**sm.params.options, seed=sm.params.seed)
    classes = View(dataset.name, sm.params.half).classes(dataset.num_classes)
    questions = make_questions(dataset, "test", settings, classes=classes)
    write_questions(sm.output[0], questions)
    print(f"wrote {len(questions)} questions to {sm.output[0]}")
