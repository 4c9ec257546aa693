"""Answer parsing and matching: the one place that decides whether an answer names the right class.

Both the RL rewards (protocol section 5) and the reported metrics (section 7) are built from the
functions here, so a training reward and a reported metric can never silently disagree.

Each matching rule is named for what it is:

- `extract_eval_answer` / `lenient_match`: the paper's evaluation (the answer tag's content,
  DOTALL; correct if the truth is contained in the answer, with an underscore-to-space retry);
- `strict_match`: exact match of the extracted answer, ignoring case only;
- `extract_reward_answer` / `thinking_accuracy`: the CLS-RL accuracy reward (first tag, not DOTALL);
- `thinking_format`: the CLS-RL format reward (`answer_then_reason_format`: Think-After-Answer);
- `no_thinking_accuracy`: the No-Thinking strict equality reward (raw completion, case-sensitive).

The reference code differs in two places (protocol sections 5 and 7), each reproduced by a named
rule that `protocol: reference-code` selects:

- `thinking_accuracy_reference`: its CLS-RL accuracy reward, which first asks `math_verify` whether
  the completion and the label hold the same number (so "Saab 2000" earns the reward for
  "Falcon 2000"), then falls back to the paper's rule;
- `extract_eval_answer_reference`: its evaluation reads the whole output when the answer tag is
  empty (`<think>it is a cat</think><answer></answer>` counts as "cat").

>>> extract_eval_answer("<think>red</think><answer> Red </answer>")
'Red'
>>> lenient_match("grilled cheese sandwich", "grilled_cheese_sandwich")
True
>>> strict_match("grilled cheese sandwich", "grilled_cheese_sandwich")
False
"""

from __future__ import annotations

import re

EVAL_ANSWER_PATTERN = re.compile(r"<answer>\s*(.*?)\s*</answer>", re.DOTALL)
REWARD_ANSWER_PATTERN = re.compile(r"<answer>(.*?)</answer>")
THINKING_FORMAT_PATTERN = re.compile(r"<think>.*?</think>\s*<answer>.*?</answer>", re.DOTALL)
THINK_PATTERN = re.compile(r"<think>(.*?)</think>", re.DOTALL)
ANSWER_THEN_REASON_PATTERN = re.compile(r"<answer>.*?</answer>\s*<reason>.*?</reason>", re.DOTALL)


def extract_eval_answer(output: str) -> str:
    """The answer the paper's evaluation reads: the answer tag's content (DOTALL), else the output.

    >>> extract_eval_answer("<answer>\\ncat\\n</answer>")
    'cat'
    >>> extract_eval_answer("  cat\\n")
    'cat'
    """
    match = EVAL_ANSWER_PATTERN.search(output)
    return (match.group(1) if match else output).strip()


def extract_eval_answer_reference(output: str) -> str:
    """The reference code's evaluation: as `extract_eval_answer`, but an empty answer tag falls
    back to the whole output (`answer = content if content else output.strip()`).

    >>> extract_eval_answer_reference("<think>it is a cat</think><answer> </answer>")
    '<think>it is a cat</think><answer> </answer>'
    >>> extract_eval_answer("<think>it is a cat</think><answer> </answer>")
    ''
    """
    match = EVAL_ANSWER_PATTERN.search(output)
    content = match.group(1).strip() if match else ""
    return content if content else output.strip()


EVAL_ANSWER_RULES = {"paper": extract_eval_answer, "reference-code": extract_eval_answer_reference}


def lenient_match(answer: str, truth: str) -> bool:
    """The paper's lenient correctness: equal or containing the truth, ignoring case.

    If that fails and the truth contains `_`, retry with `_` read as a space. An answer that echoes
    the whole option list therefore counts as correct (the paper's protocol, reported as such).

    >>> lenient_match("It is a Cat.", "cat")
    True
    >>> lenient_match("dog", "cat")
    False
    """
    answer_l, truth_l = answer.strip().lower(), truth.strip().lower()
    if answer_l == truth_l or truth_l in answer_l:
        return True
    if "_" in truth_l:
        spaced = truth_l.replace("_", " ")
        return answer_l == spaced or spaced in answer_l
    return False


def strict_match(answer: str, truth: str) -> bool:
    """Strict exact match of answer and class name, ignoring only case and outer spaces.

    >>> strict_match(" Cat ", "cat")
    True
    >>> strict_match("a cat", "cat")
    False
    """
    return answer.strip().lower() == truth.strip().lower()


def extract_reward_answer(completion: str) -> str:
    """The answer the CLS-RL accuracy reward reads: the first one-line answer tag, else everything.

    >>> extract_reward_answer("<think>x</think><answer> cat </answer>")
    'cat'
    >>> extract_reward_answer("<answer>two\\nlines</answer>")
    '<answer>two\\nlines</answer>'
    """
    match = REWARD_ANSWER_PATTERN.search(completion)
    return (match.group(1) if match else completion).strip()


def thinking_accuracy(completion: str, truth: str) -> float:
    """CLS-RL accuracy reward: 1.0 if the tagged answer equals the truth ignoring case, else 0.0."""
    return float(extract_reward_answer(completion).lower() == truth.strip().lower())


MATH_VERIFY_HINT = (
    "the reference code's CLS-RL reward needs math-verify: pip install 'clsrl[reference]' (or "
    "'math-verify==0.9.0'), or set training.accuracy_rule: paper"
)


def reference_solution(truth: str) -> str:
    """The reference code's `solution` column for a label: the label inside answer tags. Its
    reward parses this text, tags included, not the bare label.

    >>> reference_solution("BAE 146-200")
    '<answer>BAE 146-200</answer>'
    """
    return f"<answer>{truth}</answer>"


def math_verify_agrees(completion: str, truth: str) -> bool:
    """Whether math_verify finds the same value in the completion and the label, as the
    reference code asks it (`verify(parse(completion), parse(solution))`, the solution being
    `reference_solution(truth)`; any error: no).

    >>> math_verify_agrees("<answer>Saab 2000</answer>", "Falcon 2000")
    True
    >>> math_verify_agrees("<answer>BAE 146-300</answer>", "BAE 146-200")  # both read as 146
    True
    >>> math_verify_agrees("<answer>cat</answer>", "cat")  # no number: math_verify finds nothing
    False
    """
    try:
        from math_verify import parse, verify
    except ImportError as error:
        raise ImportError(MATH_VERIFY_HINT) from error
    try:
        return float(verify(parse(completion), parse(reference_solution(truth)))) > 0
    except Exception:  # as the reference code: any failure of math_verify means "no match"
        return False


def math_verify_reads(label: str) -> bool:
    """Whether math_verify reads a value from a class name's solution (`reference_solution`):
    only then can the reference code's reward differ from the paper's for that class.

    >>> [math_verify_reads(name) for name in ("Fokker 100", "Boeing 737-200", "A330-200", "cat")]
    [True, True, False, False]
    """
    try:
        from math_verify import parse
    except ImportError as error:
        raise ImportError(MATH_VERIFY_HINT) from error
    try:
        return bool(parse(reference_solution(label)))
    except Exception:
        return False


def thinking_accuracy_reference(completion: str, truth: str) -> float:
    """The reference code's CLS-RL accuracy reward: 1.0 if math_verify matches the completion
    to the label, else the paper's rule (`thinking_accuracy`).

    >>> thinking_accuracy_reference("<answer>2012 BMW 3 Series Wagon</answer>",
    ...                             "2012 BMW 3 Series Sedan")
    1.0
    >>> thinking_accuracy("<answer>2012 BMW 3 Series Wagon</answer>", "2012 BMW 3 Series Sedan")
    0.0
    """
    if math_verify_agrees(completion, truth):
        return 1.0
    return thinking_accuracy(completion, truth)


def thinking_format(completion: str) -> float:
    """CLS-RL format reward: 1.0 if the whole completion is `<think>..</think> <answer>..</answer>`.

    >>> thinking_format("<think>a</think>\\n<answer>b</answer>")
    1.0
    >>> thinking_format("<think>a</think><answer>b</answer>\\n")
    0.0
    """
    return float(THINKING_FORMAT_PATTERN.fullmatch(completion) is not None)


def answer_then_reason_format(completion: str) -> float:
    """Think-After-Answer format reward (paper v6): `<answer>..</answer> <reason>..</reason>` only.

    >>> answer_then_reason_format("<answer>cat</answer>\\n<reason>whiskers</reason>")
    1.0
    >>> answer_then_reason_format("<think>x</think><answer>cat</answer>")
    0.0
    """
    return float(ANSWER_THEN_REASON_PATTERN.fullmatch(completion) is not None)


def no_thinking_accuracy(completion: str, truth: str) -> float:
    """No-Thinking reward: 1.0 only if the raw completion equals the stripped truth exactly.

    >>> no_thinking_accuracy("Cat", "Cat ")
    1.0
    >>> no_thinking_accuracy("Cat\\n", "Cat")
    0.0
    """
    return float(completion == truth.strip())


def think_answer_agrees(output: str, classnames: list[str]) -> bool | None:
    """Whether the class named inside `<think>` agrees with the tagged answer.

    The class named in the thinking is the option whose name occurs last in it (the conclusion of
    the reasoning). None when there is no think block, no answer tag or no class in the thinking.

    >>> think_answer_agrees("<think>red? no, blue</think><answer>blue</answer>", ["red", "blue"])
    True
    >>> think_answer_agrees("<answer>blue</answer>", ["red", "blue"]) is None
    True
    """
    think = THINK_PATTERN.search(output)
    answer = EVAL_ANSWER_PATTERN.search(output)
    if think is None or answer is None:
        return None
    named = last_class_named(think.group(1), classnames)
    if named is None:
        return None
    return lenient_match(answer.group(1), named)


def last_class_named(text: str, classnames: list[str]) -> str | None:
    """The class whose name occurs last in `text` (longest name wins at equal positions).

    >>> last_class_named("not a cat, a big cat... no, dog", ["cat", "dog"])
    'dog'
    """
    text_l = text.lower()
    best: tuple[int, int, str] | None = None
    for name in classnames:
        for variant in {name.lower(), name.lower().replace("_", " ")}:
            position = text_l.rfind(variant)
            if position >= 0:
                key = (position + len(variant), len(variant), name)
                best = key if best is None or key > best else best
    return None if best is None else best[2]
