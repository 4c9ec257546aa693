"""Write the test questions of a view (rule make_test_questions)."""

from clsrl.joblog import job_log
from clsrl.questions import write_test_questions

sm = snakemake  # injected by Snakemake's script directive
with job_log(sm.log[0]):
    params = sm.params
    count = write_test_questions(
        sm.input[0], sm.output[0], params.options, params.seed, params.half
    )
    print(f"wrote {count} questions to {sm.output[0]}")
