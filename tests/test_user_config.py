"""A user's own config and data through the real Snakefile: a --configfile replaces the demo's
config.yaml, and bad datasets stop before any training job, naming the key or the class."""

import json
import os
import subprocess
import sys

import pytest
import yaml

from tests.conftest import ROOT, SNAKEMAKE, run_snakemake
from tests.datasets.test_custom_datasets import QUESTION, class_folders, split_folders
from tests.workflow.test_workflow import planned_jobs

pytestmark = pytest.mark.workflow
PAPER_LINE = (
    "images 384 px; GRPO lr 1e-06 (linear), 1024 completion tokens, 64 completions per step; "
    "SFT lr 1e-05; epochs: default 50, EuroSAT 100, ImageNet 10, SUN397 25"
)


def write(path, config):
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_users_configfile_gets_the_papers_settings_not_the_demos(tmp_path):
    my = write(
        tmp_path / "my.yaml", {"base_model": "Qwen/Qwen2-VL-2B-Instruct", "datasets": ["EuroSAT"]}
    )
    done = run_snakemake(tmp_path, "--dry-run", configfile=my)
    assert f"clsrl config: {my} (replaces config.yaml" in done.stderr
    assert "base model Qwen/Qwen2-VL-2B-Instruct; protocol paper; " + PAPER_LINE in done.stderr
    assert "seeds 1, 2, 3" in done.stderr  # not the demo's 1, 2
    # the paper's 3 trained methods x (all classes, base half) x 3 seeds
    assert planned_jobs(done.stdout)["train"] == 3 * 2 * 3
    # the spec a training job of this config gets
    spec = subprocess.run(
        [sys.executable, "-m", "clsrl.training.spec", "cls-rl", "EuroSAT", "--configfile", str(my)],
        capture_output=True,
        text=True,
        check=True,
    )
    trl = json.loads(spec.stdout)["trl"]
    assert (trl["learning_rate"], trl["lr_scheduler_type"]) == (1e-6, "linear")
    assert (trl["max_completion_length"], trl["num_train_epochs"]) == (1024, 100)
    assert json.loads(spec.stdout)["image_resize"] == 384


def test_the_paper_study_plans_from_the_repository_root():
    done = subprocess.run(
        [*SNAKEMAKE, "--dry-run", "--configfile", "bench/paper_study.yaml"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert done.returncode == 0, done.stderr
    jobs = planned_jobs(done.stdout)
    assert (jobs["train"], jobs["evaluate_trained"], jobs["prepare_benchmark_dataset"]) == (
        198,
        1287,
        11,
    )
    assert PAPER_LINE in done.stderr


def test_config_alone_still_overrides_the_demo(tmp_path):
    (tmp_path / "config.yaml").write_text((ROOT / "config.yaml").read_text())
    done = run_snakemake(tmp_path, "--dry-run", "--config", "settings=[fewshot,base2new]")
    assert "clsrl config: config.yaml (the embedded demo" in done.stderr
    assert "settings fewshot, base2new" in done.stderr
    assert "base model builtin:toy-qwen2-vl" in done.stderr and "seeds 1, 2;" in done.stderr


def test_a_custom_dataset_the_study_does_not_name_gets_a_warning(tmp_path):
    config = {
        "datasets": ["demo-colours"],
        "base_model": "builtin:tiny-qwen2-vl",
        "custom_datasets": {"my-birds": {"question": QUESTION, "image_folder": str(tmp_path)}},
    }
    done = run_snakemake(tmp_path, "--dry-run", configfile=write(tmp_path / "c.yaml", config))
    assert (
        "clsrl warning: custom dataset 'my-birds' is defined in custom_datasets but not used: "
        in (done.stderr)
    )
    assert "add it to `datasets`" in done.stderr


def test_a_missing_source_folder_stops_before_any_job(tmp_path):
    config = {
        "datasets": ["my-birds"],
        "custom_datasets": {"my-birds": {"question": QUESTION, "image_folder": "/data/brids"}},
    }
    done = run_snakemake(
        tmp_path, "--dry-run", configfile=write(tmp_path / "c.yaml", config), check=False
    )
    assert done.returncode != 0
    assert "Invalid configuration" in done.stderr
    assert "'custom_datasets.my-birds.image_folder': /data/brids is not a folder" in done.stderr


@pytest.mark.parametrize(
    ("counts", "fragment"),
    [
        ({"train": {"seven": 4}, "test": {"seven": 2}}, "1 class ('seven')"),
        ({"train": {"Cat": 4, "cat": 4}, "test": {"Cat": 2, "cat": 2}}, "'Cat' and 'cat'"),
        ({"train": {"a": 4, "b": 1}, "test": {"a": 2, "b": 2}}, "than training.shots (2): 'b' (1)"),
        ({"train": {"a": 4, "b": 0}, "test": {"a": 2, "b": 2}}, "no train images: 'b'"),
    ],
)
def test_a_bad_dataset_stops_before_any_job(tmp_path, counts, fragment):
    source = split_folders(tmp_path / "src", counts)
    config = {
        "datasets": ["my-set"],
        "methods": ["zero-shot", "sft"],
        "base_model": "builtin:tiny-qwen2-vl",
        "custom_datasets": {"my-set": {"question": QUESTION, "image_folder": str(source)}},
        "training": {"shots": [2], "seeds": [1], "max_steps": 1},
        "evaluation": {"device": "cpu", "max_new_tokens": 2},
    }
    done = run_snakemake(
        tmp_path, "--cores", "1", configfile=write(tmp_path / "c.yaml", config), check=False
    )
    assert done.returncode != 0
    assert "Invalid configuration" in done.stderr and fragment in done.stderr
    assert not (tmp_path / "logs").exists() and not (tmp_path / "data").exists()  # no job ran


def test_adding_images_to_a_source_reruns_its_preparation(tmp_path):
    """Fewer images than shots stops the run before any job, naming the counts; the user adds
    images, and the next run prepares the dataset; adding more reruns the preparation only."""
    source = class_folders(tmp_path / "birds", per_class=2)
    config = {
        "datasets": ["my-birds"],
        "base_model": "builtin:tiny-qwen2-vl",
        "training": {"shots": [2]},
        "custom_datasets": {
            "my-birds": {
                "question": QUESTION,
                "image_folder": str(source),
                "split_ratio": {"train": 0.5, "val": 0.0, "test": 0.5},
            }
        },
    }
    configfile = write(tmp_path / "c.yaml", config)
    refused = run_snakemake(tmp_path, "-n", "data", configfile=configfile, check=False)
    assert "3 class(es) have fewer training images than training.shots (2)" in refused.stderr
    class_folders(source, per_class=4)  # two more images per class
    run_snakemake(tmp_path, "--cores", "1", "data", configfile=configfile)
    assert (
        "Nothing to be done" in run_snakemake(tmp_path, "-n", "data", configfile=configfile).stdout
    )
    class_folders(source, per_class=6)  # two more images per class
    plan = run_snakemake(tmp_path, "-n", "data", configfile=configfile)
    assert planned_jobs(plan.stdout) == {"prepare_custom_dataset": 1, "data": 1}


def test_a_relative_image_folder_is_read_from_the_config_files_folder(tmp_path):
    class_folders(tmp_path / "data" / "birds", per_class=10)
    config = {
        "datasets": ["my-birds"],
        "methods": ["zero-shot"],
        "base_model": "builtin:tiny-qwen2-vl",
        "custom_datasets": {"my-birds": {"question": QUESTION, "image_folder": "../data/birds"}},
    }
    (tmp_path / "configs").mkdir()
    (tmp_path / "run").mkdir()
    configfile = write(tmp_path / "configs" / "my.yaml", config)  # ../data is beside configs/
    done = run_snakemake(tmp_path / "run", "-n", configfile=configfile)
    resolved = (tmp_path / "data" / "birds").resolve()
    assert f"'../data/birds' is relative: resolved against {(tmp_path / 'configs').resolve()}" in (
        done.stderr
    )
    assert f": {resolved}" in done.stderr
    assert planned_jobs(done.stdout)["prepare_custom_dataset"] == 1


def test_an_in_place_edit_of_a_source_image_never_changes_the_prepared_copy(tmp_path):
    source = class_folders(tmp_path / "birds", per_class=10)
    config = {
        "datasets": ["my-birds"],
        "base_model": "builtin:tiny-qwen2-vl",
        "custom_datasets": {"my-birds": {"question": QUESTION, "image_folder": str(source)}},
    }
    configfile = write(tmp_path / "c.yaml", config)
    run_snakemake(tmp_path, "--cores", "1", "data", configfile=configfile)
    prepared = tmp_path / "data/prepared/my-birds"
    assert json.loads((prepared / "dataset.json").read_text())["images_placed"] == "copied"
    image = source / "robin" / "03.png"
    before = (prepared / "images/robin/03.png").read_bytes()
    with open(image, "r+b") as handle:  # edited in place: the same file, other bytes
        handle.seek(len(before) // 2)
        handle.write(b"\x00" * 8)
    assert (prepared / "images/robin/03.png").read_bytes() == before  # what was prepared stays
    plan = run_snakemake(tmp_path, "-n", "data", configfile=configfile)
    assert planned_jobs(plan.stdout) == {"prepare_custom_dataset": 1, "data": 1}


def test_the_embedded_demo_is_found_from_another_working_directory(tmp_path):
    # --snakefile/--directory without --configfile: config.yaml is read beside the Snakefile
    done = run_snakemake(tmp_path, "--dry-run")
    assert "clsrl config: config.yaml (the embedded demo" in done.stderr
    assert planned_jobs(done.stdout)["train"] > 0
