"""The scale rehearsal on CPU: real image geometry, 100-name option lists of ImageNet length,
1,024-token completions, through the real training and evaluation code (bench/rehearsal.py)."""

import doctest
import importlib.util
import sys

import pytest

from tests.conftest import ROOT


def load_rehearsal():
    spec = importlib.util.spec_from_file_location("rehearsal", ROOT / "bench" / "rehearsal.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["rehearsal"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


rehearsal = load_rehearsal()
Sizes, class_names, main, rehearse = (
    rehearsal.Sizes,
    rehearsal.class_names,
    rehearsal.main,
    rehearsal.rehearse,
)

pytestmark = pytest.mark.rehearsal
LENGTH = 1024  # the paper's max_completion_length and max_new_tokens


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    result = rehearse(tmp_path_factory.mktemp("rehearsal"), sizes=Sizes(completions=4))
    print(result)
    return result


def test_class_names_have_imagenet_lengths():
    names = class_names(1000)
    words = [len(name.split()) for name in names]
    assert len(set(names)) == 1000
    assert 1.5 <= sum(words) / len(words) <= 1.9  # ImageNet: about 1.7 words per name
    assert max(words) == 3


def test_prompts_list_100_real_length_names_and_reach_the_model_whole(record):
    for phase in ("grpo", "evaluation"):
        rehearsal = record[phase]
        assert rehearsal["options"] == 100
        assert rehearsal["problem_chars"] > 1000  # 100 names of ImageNet length
        # every prompt reached generate with all its tokens: nothing truncated
        assert rehearsal["prompt_tokens_at_generate"] == rehearsal["prompt_tokens_expected"]


def test_image_tokens_equal_the_processors_count_at_qwen2_vl_geometry(record):
    for phase in ("grpo", "evaluation", "sft"):
        rehearsal = record[phase]
        assert rehearsal["image_grid_thw"] == [1, 28, 28]  # 384 px -> 392 = 28 patches of 14
        assert rehearsal["image_tokens_expected"] == [196]  # 28 x 28 / (2 x 2)
    assert record["grpo"]["image_tokens_at_generate"] == [196]
    assert record["evaluation"]["image_tokens_at_generate"] == [196]
    assert set(record["sft"]["row_image_tokens"]) == {196}


def test_completions_reach_their_full_length(record):
    grpo = record["grpo"]
    assert grpo["completion_tokens_max_allowed"] == LENGTH
    assert grpo["completion_tokens_min"] == grpo["completion_tokens_mean"] == LENGTH
    assert grpo["new_tokens"] == [LENGTH]  # one generate call for the step's 4 completions
    assert record["evaluation"]["new_tokens"] == [LENGTH]


def test_sft_trains_on_the_whole_prompt_and_answer(record):
    sft = record["sft"]
    assert min(sft["row_tokens"]) >= min(sft["prompt_tokens_expected"])
    # the answer and its end-of-turn token carry the loss
    assert all(
        got >= expected
        for got, expected in zip(
            sft["row_answer_tokens"], sft["answer_tokens_expected"], strict=True
        )
    )


def test_the_grpo_step_changed_the_weights_and_memory_is_recorded(record):
    grpo = record["grpo"]
    assert grpo["weights_changed"] > 0.5 * grpo["weights"]
    assert grpo["weights_dtype"] == "float32"
    for phase in ("grpo", "sft", "evaluation"):
        assert record[phase]["peak_host_mb"] > 0 and record[phase]["seconds"] > 0


def test_the_command_line_writes_the_record(tmp_path, capsys):
    main([str(tmp_path), "--completion-length", "4", "--completions", "4"])
    assert (tmp_path / "rehearsal.json").is_file()
    assert '"new_tokens": [\n      4\n    ]' in capsys.readouterr().out


def test_the_rehearsal_examples_hold():
    """bench/ is outside the doctest paths: its examples run here."""
    assert doctest.testmod(rehearsal).failed == 0
