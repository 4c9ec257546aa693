"""The real Snakefile: a dry run of the demo, a bad config, and a small run end to end."""

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from clsrl.training.launch import launch_command
from tests.conftest import ROOT, run_snakemake

SMALL_CONFIG = ROOT / "tests" / "configs" / "small.yaml"
EVAL = "results/eval/tiny-qwen2-vl"  # the evaluations of small.yaml's base model
pytestmark = pytest.mark.workflow


def planned_jobs(output: str) -> dict[str, int]:
    """Job counts per rule from the table a dry run prints."""
    table = output.split("Job stats:")[1].split("total")[0]
    return {rule: int(count) for rule, count in re.findall(r"^(\w+)\s+(\d+)$", table, flags=re.M)}


def test_demo_dry_run_plans_the_whole_dag(tmp_path):
    done = run_snakemake(tmp_path, "--dry-run", configfile=ROOT / "config.yaml")
    assert planned_jobs(done.stdout) == {
        "aggregate": 1,
        "all": 1,
        "build_toy_model": 1,  # installs the shipped toy model: no tiny model to build
        "evaluate_zero_shot": 6,  # 2 prompt styles x 3 datasets
        "evaluate_trained": 54,  # 18 models x 3 targets
        "generate_demo_dataset": 3,
        "make_test_questions": 3,
        "plot_fewshot": 1,
        "plot_reward_curves": 1,
        "sample_few_shot": 6,  # 3 datasets x 2 seeds
        "study_tables": 1,
        "train": 18,  # 3 trained methods x 3 datasets x 2 seeds
    }


def test_demo_with_base2new_adds_its_jobs(tmp_path):
    done = run_snakemake(
        tmp_path,
        "--dry-run",
        "--config",
        "settings=[fewshot,base2new]",
        configfile=ROOT / "config.yaml",
    )
    jobs = planned_jobs(done.stdout)
    assert jobs["train"] == 36 and jobs["evaluate_trained"] == 54 + 36
    assert jobs["evaluate_zero_shot"] == 6 + 12  # and both styles on the 6 halves


def test_a_hub_name_or_local_model_needs_no_build_job(tmp_path):
    done = run_snakemake(
        tmp_path,
        "--dry-run",
        "--config",
        "base_model=Qwen/Qwen2-VL-2B-Instruct",
        configfile=ROOT / "config.yaml",
    )
    jobs = planned_jobs(done.stdout)
    assert "build_tiny_model" not in jobs and "build_toy_model" not in jobs
    assert jobs["evaluate_zero_shot"] == 6 and jobs["train"] == 18


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        ({"evaluation": {"batch_sise": 2}}, "'evaluation.batch_sise' is not allowed"),  # typo
        ({"datasets": ["demo-colors"]}, "unknown dataset 'demo-colors'"),  # unknown dataset
        ({"evaluation": {"batch_size": "two"}}, "must be of type integer"),  # wrong type
        (  # a TRL typo, which would otherwise fail inside a GPU job, hours later
            {"training": {"trl": {"grpo": {"num_generation": 8}}}},
            "'training.trl.grpo.num_generation' is not a setting of trl.GRPOConfig. Did you mean "
            "'num_generations'",
        ),
        (  # the same inside a method variant
            {
                "methods": ["zero-shot", "nt8"],
                "method_variants": {
                    "nt8": {"extends": "no-thinking", "trl": {"num_generation": 8}}
                },
            },
            "'method_variants.nt8.trl.num_generation' is not a setting of trl.GRPOConfig. Did you "
            "mean 'num_generations'",
        ),
    ],
)
def test_bad_config_stops_before_any_job(tmp_path, bad, fragment):
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump(bad))
    done = run_snakemake(tmp_path, "--cores", "1", configfile=config, check=False)
    assert done.returncode != 0
    assert fragment in done.stderr
    assert "Invalid configuration" in done.stderr
    assert not (tmp_path / "results").exists() and not (tmp_path / "data").exists()


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("small-run")
    run_snakemake(workdir, "--cores", "2", configfile=SMALL_CONFIG)
    return workdir


def test_small_run_writes_tables_figure_and_predictions(small_run):
    table = pd.read_csv(small_run / "results/tables/zero_shot.csv")
    assert list(table.columns) == [
        "model",
        "method",
        "style",
        "metric",
        "demo-colours",
        "demo-shapes",
        "Average",
    ]
    assert sorted(zip(table["style"], table["metric"], strict=True)) == [
        ("no-thinking", "lenient"),
        ("no-thinking", "strict"),
        ("thinking", "lenient"),
        ("thinking", "strict"),
    ]
    assert table[["demo-colours", "demo-shapes"]].notna().all().all()
    assert (small_run / "results/tables/zero_shot.md").read_text().startswith("| model | method |")
    for name in ("fewshot_accuracy.png", "reward_curves.png"):
        figure = small_run / "results/figures" / name
        assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and figure.stat().st_size > 10_000
    fewshot = pd.read_csv(small_run / "results/tables/fewshot.csv")
    assert list(zip(fewshot["method"], fewshot["style"], strict=True)) == [
        ("zero-shot", "no-thinking"),
        ("zero-shot", "thinking"),
        ("sft", "no-thinking"),
        ("no-thinking", "no-thinking"),
    ]
    assert fewshot[["demo-colours", "demo-shapes", "Average"]].notna().all().all()

    metrics = json.loads(
        (small_run / f"{EVAL}/zero-shot/thinking/demo-shapes/metrics.json").read_text()
    )
    n_classes = (
        len((small_run / "data/prepared/demo-shapes/classnames.txt").read_text().split("\n")) - 1
    )
    assert metrics["n"] == 3 * n_classes  # every test image, 3 per class
    assert metrics["settings"]["max_new_tokens"] == 6
    assert metrics["provenance"]["versions"]["transformers"]
    predictions = [
        json.loads(line)
        for line in (small_run / f"{EVAL}/zero-shot/thinking/demo-shapes/predictions.jsonl")
        .read_text()
        .splitlines()
    ]
    assert len(predictions) == metrics["n"]
    assert all("Please choose one from list [ " in p["prompt"] for p in predictions)
    assert all("<think>" in p["prompt"] for p in predictions)


def test_small_run_logs_every_job_and_is_then_complete(small_run):
    logs = {
        p.relative_to(small_run / "logs").as_posix() for p in (small_run / "logs").rglob("*.log")
    }
    assert "build_tiny_model/tiny-qwen2-vl.log" in logs and "aggregate.log" in logs
    assert "evaluate/tiny-qwen2-vl/zero-shot/no-thinking/demo-colours.log" in logs
    done = run_snakemake(small_run, "--dry-run", configfile=SMALL_CONFIG)
    assert "Nothing to be done" in done.stdout


def test_every_model_sees_the_same_option_lists(small_run):
    def options(style):
        path = small_run / f"{EVAL}/zero-shot/{style}/demo-colours/predictions.jsonl"
        return [json.loads(line)["prompt"].split("\n")[1] for line in path.read_text().splitlines()]

    assert options("thinking") == options("no-thinking")


def test_built_model_reloads_like_a_hub_checkpoint(small_run):
    from clsrl.models.loading import load_model_and_processor

    model, processor = load_model_and_processor(
        str(small_run / "results/base_model/tiny-qwen2-vl"), device="cpu"
    )
    assert type(model).__name__ == "Qwen2VLForConditionalGeneration"
    assert Path(small_run / "results/base_model/tiny-qwen2-vl/config.json").exists()
    assert processor.tokenizer.padding_side == "left"


def test_small_run_trains_each_method_and_evaluates_it_on_every_target(small_run):
    models = small_run / "results/models/tiny-qwen2-vl"
    for method in ("sft", "no-thinking"):
        for dataset in ("demo-colours", "demo-shapes"):
            model = models / method / dataset / "2shot/seed1"
            spec = json.loads((model / "training_spec.json").read_text())
            assert spec["method"] == method and spec["dataset"] == dataset
            assert spec["trl"]["max_steps"] == 2
            for target in ("demo-colours", "demo-shapes"):
                metrics = json.loads(
                    (
                        small_run / f"{EVAL}/{method}/{dataset}/2shot/seed1/{target}/metrics.json"
                    ).read_text()
                )
                assert metrics["style"] == "no-thinking" and metrics["train_dataset"] == dataset
    assert not (small_run / "results/checkpoints").exists() or not any(
        (small_run / "results/checkpoints").rglob("checkpoint-*")
    )
    train_split = small_run / "results/splits/demo-colours/2shot/seed1/train.jsonl"
    assert len(train_split.read_text().splitlines()) == 2 * 16  # 2 shots x 16 colour classes
    base_split = small_run / "results/splits/demo-colours.base/2shot/seed1/train.jsonl"
    base_labels = {json.loads(line)["label"] for line in base_split.read_text().splitlines()}
    assert base_labels == set(range(8))  # ceil(16 / 2) base classes


def test_small_run_writes_the_study_tables_and_the_html_report(small_run):
    tables = small_run / "results/tables"
    base2new = pd.read_csv(tables / "base2new.csv")
    assert set(base2new["dataset"]) == {"demo-colours", "demo-shapes", "Average"}
    assert {"base", "new", "hm"} <= set(base2new.columns)
    assert base2new[["base", "new", "hm"]].notna().all().all()
    strict = pd.read_csv(tables / "base2new_strict.csv")  # strict beside lenient, never above
    assert (strict[["base", "new"]].to_numpy() <= base2new[["base", "new"]].to_numpy()).all()
    for method in ("sft", "no-thinking"):
        delta = pd.read_csv(tables / f"crossdataset/tiny-qwen2-vl/delta_{method}.csv", index_col=0)
        assert list(delta.index) == ["demo-colours", "demo-shapes"]
        assert list(delta.columns) == ["demo-colours", "demo-shapes", "Average"]
        heatmap = tables / f"crossdataset/tiny-qwen2-vl/delta_{method}.png"
        assert heatmap.read_bytes()[:4] == b"\x89PNG"
        folder = tables / "crossdataset/tiny-qwen2-vl"
        lenient = pd.read_csv(folder / f"accuracy_{method}.csv", index_col=0)
        strict = pd.read_csv(folder / f"accuracy_{method}_strict.csv", index_col=0)
        assert strict.shape == lenient.shape  # strict beside lenient, never above it
        assert (strict.to_numpy() <= lenient.to_numpy() + 1e-9).all()
        assert (folder / f"delta_{method}_strict.png").read_bytes()[:4] == b"\x89PNG"
    long = pd.read_csv(tables / "accuracy_long.csv")
    assert {"degenerate_share", "top_answer_share", "collapsed"} <= set(long.columns)
    assert long["top_answer_share"].between(0, 1).all()
    assert not (small_run / "results/checkpoints").exists()  # no empty folders left behind
    assert (
        "(builtin:tiny-qwen2-vl): NOT the paper's setup"
        in (tables / "paper_comparison.md").read_text()
    )
    run_snakemake(small_run, "--report", "report.html", configfile=SMALL_CONFIG)
    html = (small_run / "report.html").read_text(errors="replace")
    assert "fewshot.csv" in html and "delta_no-thinking.png" in html


def test_a_multi_gpu_training_job_launches_one_process_per_gpu(tmp_path):
    config = yaml.safe_load(SMALL_CONFIG.read_text())
    config["training"].update(gpus=4, grpo_completions_per_step=16, sft_examples_per_step=16)
    path = tmp_path / "gpus.yaml"
    path.write_text(yaml.safe_dump(config))
    done = run_snakemake(tmp_path, "--dry-run", configfile=path)
    resources = re.findall(r"rule train:.*?resources: ([^\n]*)", done.stdout, flags=re.S)
    assert len(resources) == 8  # 2 methods x 2 datasets x (all classes, base half)
    assert all("gpu=4" in line for line in resources)  # one allocation with 4 GPUs per job
    # ... whose script starts 4 processes (clsrl.training.launch.launch_command)
    assert launch_command(4, "fsdp.yaml", "python")[1:4] == [
        "-m",
        "accelerate.commands.launch",
        "--num_processes",
    ]
    assert (ROOT / "envs/accelerate/fsdp.yaml").is_file()


def test_a_known_error_ends_its_job_log_as_one_line_and_others_keep_their_traceback(tmp_path):
    import time

    from clsrl.fewshot import NotEnoughImagesError
    from clsrl.joblog import failed_job_messages, job_log

    started = time.time() - 1
    known, other = tmp_path / "logs/a/known.log", tmp_path / "logs/b/other.log"
    with pytest.raises(SystemExit) as stop, job_log(known):
        raise NotEnoughImagesError("2 class(es) have fewer than 4 train images: 'wren' (1 image)")
    assert stop.value.code == 1
    assert known.read_text() == (
        "clsrl error: NotEnoughImagesError: 2 class(es) have fewer than 4 train images: "
        "'wren' (1 image)\n"
    )
    with pytest.raises(KeyError), job_log(other):
        raise KeyError("a bug")
    assert "Traceback" in other.read_text() and "clsrl error" not in other.read_text()
    [message] = failed_job_messages(tmp_path / "logs", started)
    assert message.startswith("clsrl error: NotEnoughImagesError: 2 class(es)")
    assert message.endswith(f"(log: {known})")
    assert failed_job_messages(tmp_path / "logs", time.time() + 60) == []  # older logs: none
