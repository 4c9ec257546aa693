"""Loading a model (clsrl.models.loading), the one loader of training and evaluation: the
precision a job asks for is the dtype of the weights it gets, the processor pads on the left for
batched generation, and a bad path is named with its fix."""

import pytest
import torch

from clsrl.models.loading import load_model_and_processor, resolve_precision


@pytest.mark.parametrize(
    "precision, dtype", [("fp32", torch.float32), ("bf16", torch.bfloat16), ("auto", torch.float32)]
)
def test_the_weights_come_in_the_precision_asked_for(tiny_model_dir, precision, dtype):
    """`auto` on a CPU is fp32: bf16 weights do not learn at the paper's learning rate there."""
    model, _ = load_model_and_processor(str(tiny_model_dir), device="cpu", precision=precision)
    assert {parameter.dtype for parameter in model.parameters()} == {dtype}
    assert not model.training  # evaluation mode; the trainer sets train mode itself


def test_the_processor_pads_on_the_left_so_a_batch_generates_after_its_prompts(tiny_model_dir):
    _, processor = load_model_and_processor(str(tiny_model_dir), device="cpu")
    batch = processor.tokenizer(["red", "a much longer prompt here"], padding=True)
    first = batch["attention_mask"][0]
    assert first[0] == 0 and first[-1] == 1  # the short prompt's padding comes first


def test_a_folder_that_is_not_a_model_is_named_with_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a model folder") as error:
        load_model_and_processor(str(tmp_path), device="cpu")
    assert str(tmp_path) in str(error.value) and "python -m clsrl.models.tiny" in str(error.value)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_model_and_processor(str(tmp_path / "nowhere"), device="cpu")


def test_auto_precision_is_bf16_only_on_a_gpu_that_has_it():
    assert resolve_precision("auto", "cuda", bf16_supported=True) == torch.bfloat16
    assert resolve_precision("auto", "cuda", bf16_supported=False) == torch.float32
    assert resolve_precision("auto", "cpu", bf16_supported=True) == torch.float32


@pytest.mark.parametrize("precision", ["auto", "bf16", "fp32", "fp16"])
def test_training_computes_in_bf16_exactly_where_evaluation_loads_bf16(precision):
    from clsrl.training.train import use_bf16

    assert use_bf16(precision) == (resolve_precision(precision, "cpu") == torch.bfloat16)
    assert use_bf16(precision) == (precision == "bf16")  # on this CPU machine
