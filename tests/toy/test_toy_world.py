"""The toy world (docs/toy-world.md "The toy world"): the pinned toy model, its pre-training set,
and learning from it.

From the shipped toy model, with the demo's own settings (config.yaml) through the real TRL
trainer, on demo-colours (16 colours, 12 of which the toy model has no name for):

- No-Thinking and CLS-RL each beat their zero-shot accuracy by more than their seed-to-seed spread;
- No-Thinking's training accuracy reward reaches the threshold in fewer steps than CLS-RL's;

and each check fails on a No-Thinking control run whose reward has its sign flipped (one run:
the checks are the same functions for both methods, and the record pins CLS-RL's accuracies
seed by seed). The runs rest on the
pinned toy model (the same bytes on every machine) and on pinned CPU numerics
(clsrl.cpu_numerics: the same bits whatever the CPU's instruction set), not on float luck.
"""

import hashlib
import json
import os
import statistics
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from multiprocessing import get_context

import pandas as pd
import pytest
import yaml

from clsrl.answers import extract_eval_answer
from clsrl.config import default_config, validate_config
from clsrl.cpu_numerics import PINNED_ENV, pin_process, pinned_environment
from clsrl.report.learning_curves import ACCURACY_REWARD_COLUMNS, steps_to_reach
from clsrl.toy.model import (
    KNOWN_COLOURS,
    MIN_THINK_FOLLOWED,
    ToyModelError,
    build_toy_model,
    pretraining_item,
    thinking_answer,
    verify_shipped,
)
from clsrl.toy.settings import (
    RECORD_FILE,
    shipped_digest,
    shipped_folder,
    shipped_settings,
    toy_settings,
)
from clsrl.workflow.study import Study
from tests.conftest import ROOT

SEEDS = (1, 2)
SHOTS = 4
DATASET = "demo-colours"
STYLE = {"no-thinking": "no-thinking", "cls-rl": "thinking"}  # each method's trained style


def demo_config() -> dict:
    """The demo's settings, as config.yaml gives them."""
    return validate_config(yaml.safe_load((ROOT / "config.yaml").read_text()))


# --- the pinned toy model ---------------------------------------------------------------------


def test_the_shipped_toy_model_matches_its_checksums():
    verify_shipped()  # raises, naming the file, if any byte changed
    names = {path.name for path in shipped_folder().iterdir()}
    assert {"model.safetensors", RECORD_FILE, "SHA256SUMS"} <= names


def test_a_changed_byte_is_caught(tmp_path):
    import shutil

    copy = tmp_path / "toy"
    shutil.copytree(shipped_folder(), copy)
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(ToyModelError, match="model.safetensors has sha256"):
        verify_shipped(copy)


def test_the_demo_and_the_schema_use_the_shipped_toy_model():
    shipped = shipped_settings()
    assert shipped is not None
    assert Study(demo_config()).toy_model_source() == "shipped"
    assert Study(default_config()).toy_model_source() == "shipped"
    changed = validate_config({"toy_model": {"steps": 10}})
    assert Study(changed).toy_model_source() == "built"
    # the copy's param is the digest of the computed-with files' checksums (test_tiny_model)
    assert Study(demo_config()).shipped_toy_model() == shipped_digest()
    assert Study(changed).shipped_toy_model() is None


def test_the_shipped_toy_models_answers_follow_its_thinking(tmp_path):
    """Measured on the model as it loads here (its record says so too, but a library upgrade
    could change what the same weights do)."""
    import json

    from clsrl.models.loading import load_model_and_processor
    from clsrl.toy.model import install_shipped, think_followed

    record = json.loads((shipped_folder() / RECORD_FILE).read_text())
    model, processor = load_model_and_processor(str(install_shipped(tmp_path / "toy")), "cpu")
    settings = record["toy_settings"]
    followed = think_followed(model, processor, settings["image_size"], settings["seed"])
    assert followed >= MIN_THINK_FOLLOWED
    print(f"think followed: measured {followed:.4f}, recorded {record['think_followed']}")


# --- the pre-training set ----------------------------------------------------------------------


def test_pretraining_items_are_fixed_by_seed_and_index():
    settings = toy_settings(default_config())
    first, again = pretraining_item(7, settings), pretraining_item(7, settings)
    other = pretraining_item(7, replace(toy_settings(default_config()), seed=1))
    assert (
        first["prompt"] == again["prompt"] and first["image"].tobytes() == again["image"].tobytes()
    )
    assert first["image"].tobytes() != other["image"].tobytes()


def test_pretraining_names_only_the_known_colours_consistently():
    settings = toy_settings(default_config())
    items = [pretraining_item(index, settings) for index in range(600)]
    kinds = {item["kind"] for item in items}
    assert kinds == {"named-colour", "unnamed-colour", "ambiguous-colour", "unfamiliar-image"}
    for item in items:
        name = extract_eval_answer(item["answer"])
        assert name in item["options"] and len(item["options"]) >= 4
        if item["kind"] in ("named-colour", "ambiguous-colour"):
            assert name in KNOWN_COLOURS
        if item["style"] == "thinking":
            assert item["answer"] == thinking_answer(name)  # the answer repeats the thinking
    # the unnamed colours are answered with every colour word, the known ones included
    unnamed = {
        item["answer"]
        for item in items
        if item["kind"] == "unnamed-colour" and item["style"] == "no-thinking"
    }
    assert set(KNOWN_COLOURS) < unnamed


@pytest.mark.toy
def test_a_toy_model_whose_answers_ignore_its_thinking_is_refused(tiny_model_dir, tmp_path):
    settings = replace(toy_settings(default_config()), steps=20)  # far too short to learn
    with pytest.raises(ToyModelError, match="follow its thinking"):
        build_toy_model(tiny_model_dir, tmp_path / "toy", settings)
    assert not (tmp_path / "toy").exists()


# --- learning ----------------------------------------------------------------------------------


def negate(name: str):
    """A reward function giving minus `name`'s reward, logged as `negated_<name>`."""
    from clsrl.training import rewards

    def negated(completions, **kwargs):
        return [-value for value in rewards.REWARDS[name](completions, **kwargs)]

    negated.__name__ = f"negated_{name}"
    return negated


def grpo_run(method: str, seed: int, flipped: bool, workdir: str) -> dict:
    """Train `method` from the shipped toy model on a seed's 4-shot split of demo-colours with
    the demo's settings (every reward's sign flipped for a control); return the test accuracy in
    the trained style and the true training accuracy reward of each step. Runs in a pinned
    worker process (clsrl.cpu_numerics), two at a time."""
    from pathlib import Path

    from clsrl.datasets.canonical import load_dataset
    from clsrl.fewshot import few_shot_questions
    from clsrl.questions import OptionSettings, write_questions
    from clsrl.toy.model import install_shipped
    from clsrl.training import rewards
    from clsrl.training.train import LOG_HISTORY_FILE, runtime_from, train
    from clsrl.views import View

    root, study = Path(workdir), Study(demo_config())
    tag = f"{method}-{seed}{'-flipped' if flipped else ''}"
    toy = install_shipped(root / f"toy-{tag}")
    dataset = demo_colours(root / f"data-{tag}")
    options = OptionSettings(**study.option_params(View(DATASET)), seed=seed)
    split = root / f"split-{tag}.jsonl"
    write_questions(split, few_shot_questions(load_dataset(dataset), SHOTS, seed, options))
    spec = study.training_spec(method, DATASET, SHOTS, seed)
    accuracy_column, sign = ACCURACY_REWARD_COLUMNS[method], 1
    if flipped:
        for name in spec.rewards:
            rewards.REWARDS[f"negated_{name}"] = negate(name)
        spec = spec.replace(rewards=[f"negated_{name}" for name in spec.rewards])
        accuracy_column, sign = accuracy_column.replace("rewards/", "rewards/negated_"), -1
    output = root / f"model-{tag}"
    train(spec, str(toy), split, dataset, output, root / f"ck-{tag}", runtime_from(10_000))
    history = pd.read_csv(output / LOG_HISTORY_FILE)
    return {
        "accuracy": accuracy(output, dataset, STYLE[method]),
        "reward": (sign * history[accuracy_column]).tolist(),
        "step": history["step"].tolist(),
    }


def demo_colours(folder):
    """demo-colours as the demo generates it."""
    from clsrl.datasets.demo import generate_demo_dataset

    config = demo_config()
    generate_demo_dataset(DATASET, folder, per_class=config["demo_data"]["per_class"])
    return folder


def accuracy(model_dir, dataset_dir, style: str) -> float:
    """Lenient test accuracy (percent) of a model on demo-colours, asked as the demo asks."""
    from clsrl.datasets.canonical import load_dataset
    from clsrl.evaluation.evaluate import EvalSettings, evaluate_questions
    from clsrl.evaluation.inference import TransformersGenerator
    from clsrl.models.loading import load_model_and_processor
    from clsrl.questions import OptionSettings, make_questions
    from clsrl.views import View

    study = Study(demo_config())
    options = OptionSettings(**study.option_params(View(DATASET)), seed=study.test_seed)
    dataset = load_dataset(dataset_dir)
    test = make_questions(dataset, "test", options)
    settings = EvalSettings(**study.eval_settings(style, View(DATASET)))
    model, processor = load_model_and_processor(str(model_dir), device="cpu", precision="fp32")
    generator = TransformersGenerator(model, processor)
    batch_size = study.evaluation_runtime().batch_size  # the demo's, as its evaluation jobs batch
    _, metrics = evaluate_questions(generator, test, dataset.root, settings, batch_size)
    return metrics["lenient_accuracy"]


def zero_shot_run(workdir: str) -> dict:
    """The shipped toy model's zero-shot accuracy in each style (in a pinned worker process)."""
    from pathlib import Path

    from clsrl.toy.model import install_shipped

    root = Path(workdir)
    toy, data = install_shipped(root / "toy-zero-shot"), demo_colours(root / "data-zero-shot")
    return {style: accuracy(toy, data, style) for style in sorted(set(STYLE.values()))}


RUNS = [  # the longest first, so that neither worker idles at the end: CLS-RL's long completions
    *((method, seed, False) for method in ("cls-rl", "no-thinking") for seed in SEEDS),
    ("no-thinking", 1, True),
]


@pytest.fixture(scope="module")
def toy_world(tmp_path_factory) -> dict:
    """The zero-shot accuracies and every learning run (2 seeds of each method and a
    sign-flipped No-Thinking control), two at a time in pinned worker processes: about 5 minutes
    on 2 cores."""
    workdir = str(tmp_path_factory.mktemp("toy-runs"))
    spawn = get_context("spawn")
    with (
        pinned_environment(),
        ProcessPoolExecutor(max_workers=2, mp_context=spawn, initializer=pin_process) as pool,
    ):
        futures = {run: pool.submit(grpo_run, *run, workdir) for run in RUNS}
        baseline = pool.submit(zero_shot_run, workdir)
        return {
            "runs": {run: future.result() for run, future in futures.items()},
            "zero_shot": baseline.result(),
        }


@pytest.fixture(scope="module")
def runs(toy_world) -> dict:
    return toy_world["runs"]


@pytest.fixture(scope="module")
def zero_shot(toy_world) -> dict:
    return toy_world["zero_shot"]


def beats_zero_shot_beyond_the_spread(accuracies: list[float], zero_shot: float) -> bool:
    """The mean over seeds above zero-shot by more than the spread between the seeds
    (max - min); one run has no spread, so it must just be above."""
    return statistics.mean(accuracies) - zero_shot > max(accuracies) - min(accuracies)


def steps_to_threshold(run: dict) -> float:
    """Steps until the running true accuracy reward reaches the threshold; inf if never."""
    reached = steps_to_reach(pd.DataFrame(run), "reward")
    return float("inf") if reached is None else reached


@pytest.mark.toy
def test_the_toy_model_is_a_weak_but_real_classifier(zero_shot):
    chance = 100 / 16
    for style, value in zero_shot.items():
        assert 2 * chance < value < 50, style  # it names 4 of the 16 colours


@pytest.mark.toy
@pytest.mark.parametrize("method", ["no-thinking", "cls-rl"])
def test_grpo_beats_zero_shot_beyond_the_seed_spread(runs, zero_shot, method):
    accuracies = [runs[method, seed, False]["accuracy"] for seed in SEEDS]
    baseline = zero_shot[STYLE[method]]
    print(f"{method}: zero-shot {baseline:.1f}; after GRPO {accuracies}")
    assert beats_zero_shot_beyond_the_spread(accuracies, baseline)
    gains = [statistics.mean(run["reward"][-32:]) - statistics.mean(run["reward"][:32])
             for run in (runs[method, seed, False] for seed in SEEDS)]  # fmt: skip
    assert min(gains) > 0, gains  # the training reward rose on every seed


def recorded_accuracies(method: str, style: str) -> dict:
    """Seed -> test accuracy of `method` in bench/results/toy_study.json (the toy study's
    workflow runs: the same shipped model, data, settings and pinned numerics as these runs)."""
    record = json.loads((ROOT / "bench/results/toy_study.json").read_text())
    (row,) = [row for row in record["rows"] if (row["method"], row["style"]) == (method, style)]
    return dict(zip(row["seeds"], row["accuracy"], strict=True))


@pytest.mark.toy
@pytest.mark.parametrize("method", ["no-thinking", "cls-rl"])
def test_the_learning_runs_reproduce_the_toy_studys_recorded_accuracies(runs, zero_shot, method):
    """A change that moves the toy study's numbers fails here until the record, and with it the
    README's table, is renewed: `python bench/toy_study.py --workdir DIR`."""
    recorded = recorded_accuracies(method, STYLE[method])
    measured = {seed: runs[method, seed, False]["accuracy"] for seed in SEEDS}
    assert measured == {seed: recorded[seed] for seed in SEEDS}
    zero_shot_recorded = recorded_accuracies("zero-shot", STYLE[method])
    assert zero_shot[STYLE[method]] == zero_shot_recorded[None]


@pytest.mark.toy
def test_the_sign_flipped_control_does_not_beat_zero_shot(runs, zero_shot):
    control = runs["no-thinking", 1, True]
    baseline = zero_shot[STYLE["no-thinking"]]
    print(f"zero-shot {baseline:.1f}; sign-flipped No-Thinking {control['accuracy']:.1f}")
    assert not beats_zero_shot_beyond_the_spread([control["accuracy"]], baseline)
    assert statistics.mean(control["reward"][-32:]) < statistics.mean(control["reward"][:32])


@pytest.mark.toy
def test_no_thinking_reaches_the_reward_threshold_before_cls_rl(runs):
    no_thinking = [steps_to_threshold(runs["no-thinking", seed, False]) for seed in SEEDS]
    cls_rl = [steps_to_threshold(runs["cls-rl", seed, False]) for seed in SEEDS]
    print(f"steps to the threshold: No-Thinking {no_thinking}, CLS-RL {cls_rl}")
    assert max(no_thinking) < min(cls_rl)
    # the control: No-Thinking with its reward's sign flipped never gets there first
    flipped = steps_to_threshold(runs["no-thinking", 1, True])
    assert not flipped < min(cls_rl)


# --- pinned numerics ---------------------------------------------------------------------------


def short_run_digest(workdir: str, pinned: bool) -> str:
    """sha256 of the weights after 40 No-Thinking steps from the shipped toy model (run in a
    fresh process by `digest_in_process`)."""
    import torch

    if pinned:
        pin_process()
    else:
        torch.set_num_threads(1)
    from pathlib import Path

    from clsrl.datasets.canonical import load_dataset
    from clsrl.fewshot import few_shot_questions
    from clsrl.questions import OptionSettings, write_questions
    from clsrl.toy.model import install_shipped
    from clsrl.training.train import runtime_from, train
    from clsrl.views import View

    root, study = Path(workdir), Study(demo_config())
    dataset = demo_colours(root / "data")
    options = OptionSettings(**study.option_params(View(DATASET)), seed=1)
    split = root / "split.jsonl"
    write_questions(split, few_shot_questions(load_dataset(dataset), SHOTS, 1, options))
    spec = study.training_spec("no-thinking", DATASET, SHOTS, 1)
    spec = spec.replace(trl={**spec.trl, "max_steps": 40})
    output = root / "model"
    train(
        spec,
        str(install_shipped(root / "toy")),
        split,
        dataset,
        output,
        root / "ck",
        runtime_from(10_000),
    )
    return hashlib.sha256((output / "model.safetensors").read_bytes()).hexdigest()


def digests_in_processes(tmp_path, environments: dict[str, dict]) -> dict[str, str]:
    """`short_run_digest` in a fresh process per environment (its changes to os.environ; the
    key `pinned` says whether it runs pinned), two at a time."""
    processes = {}
    for name, changes in environments.items():
        env = {**os.environ, **{k: v for k, v in changes.items() if k != "pinned"}}
        code = (
            "import sys; from tests.toy.test_toy_world import short_run_digest; "
            f"print(short_run_digest(sys.argv[1], {changes.get('pinned', False)}))"
        )
        command = [sys.executable, "-c", code, str(tmp_path / name)]
        processes[name] = command, env
    digests = {}
    names = list(processes)
    for pair in (names[i : i + 2] for i in range(0, len(names), 2)):
        started = {
            name: subprocess.Popen(
                processes[name][0],
                env=processes[name][1],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )  # fmt: skip
            for name in pair
        }
        for name, process in started.items():
            out, err = process.communicate(timeout=600)
            assert process.returncode == 0, f"{name}: {err[-3000:]}"
            digests[name] = out.strip().splitlines()[-1]
    return digests


@pytest.mark.toy
def test_pinned_numerics_do_not_depend_on_the_cpus_instruction_set(tmp_path):
    """Pinned, the weights stay the same when oneDNN may use fewer instruction sets (unpinned,
    its kernels would change them) and MKL too; the control: unpinned, ATen's AVX2 kernels and
    its portable ones part ways, as two machines' native kernels do."""
    smaller_cpu = {"MKL_ENABLE_INSTRUCTIONS": "SSE4_2", "ONEDNN_MAX_CPU_ISA": "SSE41"}
    digests = digests_in_processes(
        tmp_path,
        {
            "pinned": {**PINNED_ENV, "pinned": True},
            "pinned-smaller-cpu": {**PINNED_ENV, **smaller_cpu, "pinned": True},
            "unpinned-avx2": {"ATEN_CPU_CAPABILITY": "avx2"},
            "unpinned-portable": {"ATEN_CPU_CAPABILITY": "default"},
        },
    )
    assert digests["pinned"] == digests["pinned-smaller-cpu"]
    assert digests["unpinned-avx2"] != digests["unpinned-portable"]
