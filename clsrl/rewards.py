"""Rule-based rewards with TRL's reward contract: `(completions, classname, **kw) -> list[float]`.

Each reward is a thin wrapper of a rule in `clsrl.answers`, which the reported metrics use too.
TRL passes every dataset column as a keyword argument; the training data carries the true class
name in `classname`. Completions arrive as conversations (`[{"role": "assistant", "content": ...}]`)
or as plain strings; both are accepted.

>>> no_thinking_accuracy([[{"role": "assistant", "content": "cat"}]], classname=["cat"])
[1.0]
>>> [f.__name__ for f in reward_functions(["thinking_format", "thinking_accuracy"])]
['thinking_format', 'thinking_accuracy']
"""

from __future__ import annotations

from collections.abc import Callable

from clsrl import answers


def completion_text(completion) -> str:
    """The text of one completion, conversational or plain."""
    if isinstance(completion, str):
        return completion
    return "".join(message["content"] for message in completion if message["role"] == "assistant")


def thinking_format(completions, **kwargs) -> list[float]:
    """CLS-RL format reward: 1 for `<think>..</think> <answer>..</answer>` and nothing else."""
    return [answers.thinking_format(completion_text(c)) for c in completions]


def thinking_accuracy(completions, classname, **kwargs) -> list[float]:
    """CLS-RL accuracy reward: the first answer tag equals the class name, ignoring case."""
    return [
        answers.thinking_accuracy(completion_text(c), truth)
        for c, truth in zip(completions, classname, strict=True)
    ]


def thinking_accuracy_reference(completions, classname, **kwargs) -> list[float]:
    """The reference code's CLS-RL accuracy reward: math_verify first, then the paper's rule."""
    return [
        answers.thinking_accuracy_reference(completion_text(c), truth)
        for c, truth in zip(completions, classname, strict=True)
    ]


def answer_then_reason_format(completions, **kwargs) -> list[float]:
    """Think-After-Answer format reward: `<answer>..</answer> <reason>..</reason>` only."""
    return [answers.answer_then_reason_format(completion_text(c)) for c in completions]


def no_thinking_accuracy(completions, classname, **kwargs) -> list[float]:
    """No-Thinking reward: the raw completion equals the class name exactly."""
    return [
        answers.no_thinking_accuracy(completion_text(c), truth)
        for c, truth in zip(completions, classname, strict=True)
    ]


REWARDS: dict[str, Callable[..., list[float]]] = {
    function.__name__: function
    for function in (
        thinking_format,
        thinking_accuracy,
        thinking_accuracy_reference,
        answer_then_reason_format,
        no_thinking_accuracy,
    )
}


def reward_functions(names: list[str]) -> list[Callable[..., list[float]]]:
    """The reward functions named, in order; an unknown name is an error listing the known ones."""
    unknown = [name for name in names if name not in REWARDS]
    if unknown:
        raise ValueError(f"unknown reward(s) {unknown}; known rewards: {', '.join(REWARDS)}")
    return [REWARDS[name] for name in names]


# The accuracy reward each rule of `training.accuracy_rule` gives a method that names
# `thinking_accuracy` (protocol section 5).
ACCURACY_RULES = {"paper": "thinking_accuracy", "reference-code": "thinking_accuracy_reference"}
