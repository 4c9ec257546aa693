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

import functools
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


def reward_functions(
    names: list[str], reply_separator: str = ""
) -> list[Callable[..., list[float]]]:
    """The reward functions named, in order; an unknown name is an error listing the known ones.

    A model family whose chat template writes a separator between the generation prompt and the
    reply (clsrl.models.families: Idefics3's space after `Assistant:`) gives it as
    `reply_separator`: each function then reads a completion without it, as the reply the template
    holds. Without one (the Qwen families) the functions are the rules themselves.

    >>> [no_thinking] = reward_functions(["no_thinking_accuracy"], reply_separator=" ")
    >>> no_thinking([" cat", "cat", "  cat"], classname=["cat"] * 3), no_thinking.__name__
    ([1.0, 1.0, 0.0], 'no_thinking_accuracy')
    """
    unknown = [name for name in names if name not in REWARDS]
    if unknown:
        raise ValueError(f"unknown reward(s) {unknown}; known rewards: {', '.join(REWARDS)}")
    functions = [REWARDS[name] for name in names]
    if not reply_separator:
        return functions
    return [_after_separator(function, reply_separator) for function in functions]


def _after_separator(function: Callable[..., list[float]], separator: str):
    """`function` reading each completion without a leading `separator` (same name, for TRL's
    per-reward logs)."""

    @functools.wraps(function)
    def reward(completions, **kwargs) -> list[float]:
        return function([_reply(c, separator) for c in completions], **kwargs)

    return reward


def _reply(completion, separator: str):
    """A completion, plain or conversational, without the separator its reply starts with."""
    if isinstance(completion, str):
        return completion.removeprefix(separator)
    return [
        {**message, "content": message["content"].removeprefix(separator)}
        if message["role"] == "assistant" and isinstance(message["content"], str)
        else message
        for message in completion
    ]


# What each reward function measures: the reward-curve figure draws one panel per measure, so the
# accuracy rewards of CLS-RL and No-Thinking share an axis and a format reward is drawn apart.
REWARD_MEASURES = {
    "thinking_accuracy": "accuracy",
    "thinking_accuracy_reference": "accuracy",
    "no_thinking_accuracy": "accuracy",
    "thinking_format": "format",
    "answer_then_reason_format": "format",
}

# The accuracy reward each rule of `training.accuracy_rule` gives a method that names
# `thinking_accuracy` (protocol section 5).
ACCURACY_RULES = {"paper": "thinking_accuracy", "reference-code": "thinking_accuracy_reference"}
