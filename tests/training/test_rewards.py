"""The rewards under TRL's contract: conversational completions, dataset columns as kwargs."""

import pytest

from clsrl.training.rewards import REWARDS, reward_functions


def conversation(text):
    return [{"role": "assistant", "content": text}]


@pytest.mark.parametrize(
    ("name", "completions", "classnames", "expected"),
    [
        # format reward ignores the class name column
        ("thinking_format", ["<think>a</think><answer>b</answer>", "b"], ["b", "b"], [1.0, 0.0]),
        # accuracy reward reads the first answer tag, case-insensitively
        (
            "thinking_accuracy",
            ["<answer>Red</answer>", "<answer>blue</answer>"],
            ["red"] * 2,
            [1.0, 0.0],
        ),
        # the no-thinking reward compares the raw completion with the stripped label
        ("no_thinking_accuracy", ["red", "red\n", "Red"], ["red "] * 3, [1.0, 0.0, 0.0]),
    ],
)
def test_rewards_on_conversational_completions(name, completions, classnames, expected):
    reward = REWARDS[name]
    as_conversations = [conversation(text) for text in completions]
    assert reward(as_conversations, classname=classnames, prompts=None, image=None) == expected
    assert reward(completions, classname=classnames) == expected  # plain strings too


def test_unknown_reward_is_named():
    with pytest.raises(ValueError, match="'accuracy'"):
        reward_functions(["accuracy"])


def test_reward_names_are_their_log_keys():
    # TRL logs rewards/<function name>/mean: the names must stay the registry keys
    assert [f.__name__ for f in reward_functions(list(REWARDS))] == list(REWARDS)
