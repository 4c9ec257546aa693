"""The toy world learns: GRPO with the No-Thinking reward lifts the toy model above its zero-shot
accuracy by more than the seed-to-seed spread, and the same run with the reward's sign flipped
does not. Both use the demo's own settings (config.yaml) through the real TRL trainer."""

import statistics

import pandas as pd
import pytest
import yaml

from clsrl import rewards
from clsrl.answers import extract_eval_answer
from clsrl.config import default_config, validate_config
from clsrl.datasets.canonical import load_dataset
from clsrl.datasets.demo import generate_demo_dataset
from clsrl.evaluate import evaluate_questions
from clsrl.fewshot import few_shot_questions
from clsrl.inference import TransformersGenerator
from clsrl.modeling import load_model_and_processor
from clsrl.questions import make_questions, write_questions
from clsrl.toy_model import KNOWN_COLOURS, ToySettings, pretraining_item, thinking_answer
from clsrl.train import LOG_HISTORY_FILE, runtime_from, train
from clsrl.training_spec import training_spec
from tests.conftest import ROOT, paper_eval, paper_options

SEEDS = (1, 2, 3)
SHOTS = 4
DATASET = "demo-colours"


# --- the pre-training set ----------------------------------------------------------------------


def test_pretraining_items_are_fixed_by_seed_and_index():
    settings = ToySettings.from_config(default_config())
    first, again = pretraining_item(7, settings), pretraining_item(7, settings)
    other = pretraining_item(7, ToySettings.from_config(default_config(), seed=1))
    assert (
        first["prompt"] == again["prompt"] and first["image"].tobytes() == again["image"].tobytes()
    )
    assert first["image"].tobytes() != other["image"].tobytes()


def test_pretraining_names_only_the_known_colours_consistently():
    settings = ToySettings.from_config(default_config())
    items = [pretraining_item(index, settings) for index in range(400)]
    kinds = {item["kind"] for item in items}
    assert kinds == {"named-colour", "unnamed-colour", "unfamiliar-image"}
    for item in items:
        name = extract_eval_answer(item["answer"])
        assert name in item["options"] and len(item["options"]) >= 4
        if item["kind"] == "named-colour":
            assert name in KNOWN_COLOURS
        if item["style"] == "thinking":
            assert item["answer"] == thinking_answer(name)
    # the unnamed colours are answered with every colour word, the known ones included
    unnamed = {
        item["answer"]
        for item in items
        if item["kind"] == "unnamed-colour" and item["style"] == "no-thinking"
    }
    assert set(KNOWN_COLOURS) < unnamed


# --- learning ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_config():
    """The demo's settings, as config.yaml gives them."""
    return validate_config(yaml.safe_load((ROOT / "config.yaml").read_text()))


@pytest.fixture(scope="module")
def colours(tmp_path_factory, demo_config):
    """demo-colours as the demo generates it, and its test questions."""
    root = tmp_path_factory.mktemp("toy-data")
    dataset = generate_demo_dataset(
        DATASET, root / DATASET, per_class=demo_config["demo_data"]["per_class"]
    )
    test = make_questions(dataset, "test", paper_options(seed=0))
    return dataset, test


def accuracy(model_dir, dataset, questions, config) -> float:
    """No-thinking strict accuracy (percent) of a model on the questions."""
    model, processor = load_model_and_processor(str(model_dir), device="cpu", precision="fp32")
    settings = paper_eval(
        "no-thinking",
        max_new_tokens=config["evaluation"]["max_new_tokens"],
        image_resize=config["images"]["resize"],
    )
    _, metrics = evaluate_questions(
        TransformersGenerator(model, processor), questions, dataset.root, settings, batch_size=32
    )
    return metrics["strict_accuracy"]


def grpo_run(toy_model_dir, colours, config, tmp_path, seed, reward="no_thinking_accuracy"):
    """Train No-Thinking GRPO from the toy model on a seed's 4-shot split; return the test
    accuracy and the mean true reward of the first and the last epoch."""
    dataset, test = colours
    split = tmp_path / f"seed{seed}.jsonl"
    write_questions(
        split,
        few_shot_questions(load_dataset(dataset.root), SHOTS, seed, paper_options(seed=seed)),
    )
    spec = training_spec(config, "no-thinking", DATASET, SHOTS, seed)
    spec["rewards"] = [reward]
    output = tmp_path / f"model-{reward}-{seed}"
    train(
        spec,
        str(toy_model_dir),
        split,
        dataset.root,
        output,
        tmp_path / f"checkpoints-{reward}-{seed}",
        runtime_from(save_steps=10_000),
    )
    log = pd.read_csv(output / LOG_HISTORY_FILE)
    true_reward = log["reward"] * (-1 if reward.startswith("negated") else 1)
    epochs = log["epoch"].apply(lambda epoch: int(-(-epoch // 1)))  # step in epoch 1, 2, ...
    return {
        "accuracy": accuracy(output, dataset, test, config),
        "first_epoch_reward": true_reward[epochs == epochs.min()].mean(),
        "last_epoch_reward": true_reward[epochs == epochs.max()].mean(),
    }


@pytest.fixture(scope="module")
def zero_shot_accuracy(toy_model_dir, colours, demo_config):
    dataset, test = colours
    return accuracy(toy_model_dir, dataset, test, demo_config)


@pytest.mark.toy
def test_toy_model_is_a_weak_but_real_classifier(zero_shot_accuracy):
    chance = 100 / 7
    assert 2 * chance < zero_shot_accuracy < 90


@pytest.mark.toy
def test_grpo_lifts_accuracy_and_reward_beyond_the_seed_spread(
    toy_model_dir, colours, demo_config, zero_shot_accuracy, tmp_path
):
    runs = [grpo_run(toy_model_dir, colours, demo_config, tmp_path, seed) for seed in SEEDS]
    accuracies = [run["accuracy"] for run in runs]
    spread = max(accuracies) - min(accuracies)
    print(f"zero-shot {zero_shot_accuracy:.1f}; after GRPO {accuracies}; spread {spread:.1f}")
    assert min(accuracies) - zero_shot_accuracy > spread
    gains = [run["last_epoch_reward"] - run["first_epoch_reward"] for run in runs]
    reward_spread = max(run["last_epoch_reward"] for run in runs) - min(
        run["last_epoch_reward"] for run in runs
    )
    print(f"training reward gains {gains}; spread of the final reward {reward_spread:.3f}")
    assert statistics.mean(gains) > reward_spread and min(gains) > 0


@pytest.mark.toy
def test_grpo_with_the_reward_sign_flipped_does_not_learn(
    toy_model_dir, colours, demo_config, zero_shot_accuracy, tmp_path, monkeypatch
):
    def negated_no_thinking_accuracy(completions, classname, **kwargs):
        return [-value for value in rewards.no_thinking_accuracy(completions, classname)]

    monkeypatch.setitem(
        rewards.REWARDS, "negated_no_thinking_accuracy", negated_no_thinking_accuracy
    )
    run = grpo_run(toy_model_dir, colours, demo_config, tmp_path, 1, "negated_no_thinking_accuracy")
    print(f"zero-shot {zero_shot_accuracy:.1f}; after sign-flipped GRPO {run}")
    assert run["accuracy"] < zero_shot_accuracy
    assert run["last_epoch_reward"] < run["first_epoch_reward"]
