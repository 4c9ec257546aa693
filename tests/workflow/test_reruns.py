"""What reruns when: the real Snakefile on a small study, then one change at a time, and the exact
set of jobs a dry run plans (docs/reruns.md).

The workflow and the clsrl package are copied to a scratch folder (the package is put first on
PYTHONPATH), so the tests can edit a script, a helper or a stage version without touching the
repository.
"""

import os
import shutil

import pytest
import yaml

from tests.conftest import ROOT, run_snakemake
from tests.datasets.test_custom_datasets import _save, class_folders
from tests.workflow.test_workflow import planned_jobs

pytestmark = pytest.mark.workflow

STUDY = {
    "datasets": ["demo-colours"],
    "settings": ["fewshot"],
    "methods": ["zero-shot", "sft", "no-thinking"],
    "base_model": "builtin:tiny-qwen2-vl",
    "demo_data": {"per_class": {"train": 2, "val": 1, "test": 2}},
    "images": {"resize": 56},
    "evaluation": {
        "batch_size": 4,
        "max_new_tokens": 4,
        "device": "cpu",
        "targets": ["demo-colours", "my-birds"],  # a custom dataset, evaluated on only
    },
    # relative to the working directory, root / "work"
    "custom_datasets": {"my-birds": {"question": "Which bird?", "image_folder": "../birds"}},
    "training": {
        "shots": [2],
        "seeds": [1],
        "max_steps": 1,
        "grpo_completions_per_step": 8,
        "sft_examples_per_step": 4,
        "sft_examples_per_device": 4,
        "trl": {"grpo": {"max_completion_length": 4}},
    },
}
REPORT = {"aggregate": 1, "plot_fewshot": 1, "study_tables": 1, "all": 1}
EVALUATION_AND_REPORT = {"evaluate_zero_shot": 4, "evaluate_trained": 4, **REPORT}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("reruns")
    workflow = root / "workflow"
    workflow.mkdir()
    for name in ("Snakefile", "rules", "workflow_scripts", "profiles", "envs"):
        source = ROOT / name
        copy = shutil.copytree if source.is_dir() else shutil.copy
        copy(source, workflow / name)
    shutil.copytree(ROOT / "clsrl", root / "package" / "clsrl")
    work = root / "work"
    work.mkdir()
    class_folders(root / "birds", per_class=3)
    (work / "study.yaml").write_text(yaml.safe_dump(STUDY))
    run(root, "--cores", "2")
    return root


def run(root, *args, config=None):
    configfile = root / "work" / "study.yaml"
    if config is not None:
        configfile = root / "work" / "changed.yaml"
        configfile.write_text(yaml.safe_dump(config))
    env = {"PYTHONPATH": str(root / "package") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return run_snakemake(
        root / "work",
        *args,
        configfile=configfile,
        snakefile=root / "workflow" / "Snakefile",
        env=env,
    )


def plan(root, config=None):
    done = run(root, "--dry-run", config=config)
    return {} if "Nothing to be done" in done.stdout else planned_jobs(done.stdout)


def changed(**sections):
    config = yaml.safe_load(yaml.safe_dump(STUDY))
    for section, values in sections.items():
        if isinstance(values, dict):
            config.setdefault(section, {}).update(values)
        else:
            config[section] = values
    return config


@pytest.fixture
def edited(study):
    """Edit a file of the copied workflow or package for one test, then restore it."""
    saved = {}

    def edit(relative, old, new):
        path = study / relative
        saved.setdefault(path, path.read_text())
        text = path.read_text()
        assert old in text, f"{old!r} not in {relative}"
        path.write_text(text.replace(old, new, 1))

    yield edit
    for path, text in saved.items():
        path.write_text(text)


def test_nothing_changed_nothing_reruns(study):
    assert plan(study) == {}


def test_runtime_settings_rerun_nothing(study):
    config = changed(
        evaluation={"batch_size": 1, "threads": 2, "backend": "vllm"},
        training={"save_steps": 7, "threads": 1, "keep_checkpoints": True},
        toy_model={"threads": 1},
    )
    assert plan(study, config) == {}


def test_an_evaluation_setting_reruns_evaluations_only(study):
    assert plan(study, changed(evaluation={"max_new_tokens": 5})) == EVALUATION_AND_REPORT


def test_a_new_target_adds_only_its_evaluations(study):
    config = changed(evaluation={"targets": ["demo-colours", "my-birds", "demo-shapes"]})
    assert plan(study, config) == {
        "generate_demo_dataset": 1,  # the new target's data and questions
        "make_test_questions": 1,
        "evaluate_zero_shot": 2,  # 2 zero-shot styles on it
        "evaluate_trained": 2,  # each trained model on it
        **REPORT,
    }


def test_one_methods_hyperparameter_reruns_that_method_only(study):
    variant = {"no-thinking": {"extends": "no-thinking", "trl": {"learning_rate": 2e-6}}}
    assert plan(study, changed(method_variants=variant)) == {
        "train": 1,
        "evaluate_trained": 2,  # on both targets
        "plot_reward_curves": 1,
        **REPORT,
    }


def test_the_reference_code_protocol_reruns_exactly_what_it_changes(study):
    assert plan(study, changed(protocol="reference-code")) == {
        # my-birds' class count is unknown before it is prepared: its lists may change (the
        # demo's 16 classes get the same lists under both floor rules)
        "make_test_questions": 1,
        "train": 2,  # trainer seed 42
        "evaluate_zero_shot": 4,  # wording and empty answers
        "evaluate_trained": 4,
        "plot_reward_curves": 1,
        **REPORT,  # the tables say the protocol
    }


def test_the_floor_rule_alone_reruns_only_the_lists_it_can_change(study):
    assert plan(study, changed(options={"floor_rule": "all-classes"})) == {
        "make_test_questions": 1,  # my-birds
        "evaluate_zero_shot": 2,  # on my-birds
        "evaluate_trained": 2,
        **REPORT,
    }


def test_the_empty_answer_rule_alone_reruns_evaluations_only(study):
    config = changed(evaluation={"empty_answer": "reference-code"})
    assert plan(study, config) == EVALUATION_AND_REPORT


def test_the_accuracy_rule_retrains_nothing_where_math_verify_cannot_fire(study):
    # no CLS-RL run, and no class name of demo-colours holds a number: only the tables' label
    assert plan(study, changed(training={"accuracy_rule": "reference-code"})) == REPORT


def test_a_new_seed_adds_only_its_jobs(study):
    assert plan(study, changed(training={"seeds": [1, 2]})) == {
        "sample_few_shot": 1,
        "train": 2,  # sft and no-thinking on the new split
        "evaluate_trained": 4,  # each on both targets
        "plot_reward_curves": 1,
        **REPORT,
    }


def test_comments_in_a_script_or_a_helper_rerun_nothing(study, edited):
    edited("workflow/workflow_scripts/evaluate.py", '"""Evaluate', '"""(edited) Evaluate')
    edited(
        "package/clsrl/report/aggregate.py", "import pandas as pd", "import pandas as pd  # edited"
    )
    assert plan(study) == {}


def test_bumping_the_evaluation_version_reruns_all_evaluations_and_no_training(study, edited):
    edited("package/clsrl/stages.py", '"evaluation": 1,', '"evaluation": 2,')
    assert plan(study) == EVALUATION_AND_REPORT


def test_an_edit_to_a_custom_datasets_source_reruns_exactly_its_jobs(study):
    image = study / "birds" / "robin" / "added.png"
    _save(image)
    try:
        assert plan(study) == {
            "prepare_custom_dataset": 1,  # my-birds again, with its new image
            "make_test_questions": 1,
            "evaluate_zero_shot": 2,  # both styles on it
            "evaluate_trained": 2,  # each trained model on it; no training
            **REPORT,
        }
    finally:
        image.unlink()


def reversed_keys(value):
    """Every mapping with its keys in reverse order (as a user's YAML might list them)."""
    if isinstance(value, dict):
        return {key: reversed_keys(value[key]) for key in reversed(list(value))}
    return value


@pytest.mark.faults
def test_the_order_of_keys_in_the_yaml_reruns_nothing(study):
    config = reversed_keys({**STUDY, "demo_data": {"per_class": {"test": 2, "val": 1, "train": 2}}})
    path = study / "work" / "reordered.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))  # per_class, trl, custom_datasets...
    assert list(config["evaluation"]) == ["targets", "device", "max_new_tokens", "batch_size"]
    env = {"PYTHONPATH": str(study / "package") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = run_snakemake(
        study / "work",
        "--dry-run",
        configfile=path,
        snakefile=study / "workflow" / "Snakefile",
        env=env,
    )
    assert "Nothing to be done" in done.stdout, done.stdout


def test_a_second_base_model_adds_only_its_jobs(study):
    config = changed(base_model=["builtin:tiny-qwen2-vl", "builtin:tiny-qwen2.5-vl"])
    assert plan(study, config) == {
        "build_tiny_model": 1,  # the second model
        "train": 2,  # its sft and no-thinking
        "evaluate_zero_shot": 4,  # it, in 2 styles on 2 targets
        "evaluate_trained": 4,  # its 2 models on 2 targets
        "plot_reward_curves": 1,
        **REPORT,  # the tables gain its rows
    }


def test_two_base_models_make_one_table_with_both(study, tmp_path):
    import pandas as pd

    from clsrl.datasets.demo import demo_texts
    from clsrl.models.tiny import build_tiny_model

    root = tmp_path / "copy"
    shutil.copytree(study, root, symlinks=True)  # the finished one-model study, metadata too
    first = root / "work/results/models/tiny-qwen2-vl"
    before = {path: path.stat().st_mtime_ns for path in first.rglob("*") if path.is_file()}
    # the second: a local folder (labelled by its name) holding another family's model
    build_tiny_model(root / "work/second", seed=1, corpus=demo_texts(), shape="tiny-qwen2.5-vl")
    run(root, "--cores", "2", config=changed(base_model=[STUDY["base_model"], "./second"]))
    assert {path: path.stat().st_mtime_ns for path in before} == before  # none retrained
    fewshot = pd.read_csv(root / "work/results/tables/fewshot.csv")
    assert list(dict.fromkeys(fewshot["model"])) == ["tiny-qwen2-vl", "second"]
    for model in ("tiny-qwen2-vl", "second"):
        rows = fewshot[fewshot["model"] == model]
        assert set(rows["method"]) == {"zero-shot", "sft", "no-thinking"}, model
    crossdataset = root / "work/results/tables/crossdataset"
    assert sorted(p.name for p in crossdataset.iterdir() if p.is_dir()) == [
        "second",
        "tiny-qwen2-vl",
    ]
    long = pd.read_csv(root / "work/results/tables/accuracy_long.csv")
    assert set(long.loc[long["model"] == "second", "base_model"]) == {"./second"}
