"""Contract tests for the vLLM backend, with a fake `vllm` module standing in for the real one."""

import sys

import pytest
from PIL import Image

from clsrl.evaluation.inference import generate
from clsrl.evaluation.vllm_backend import VllmGenerator
from clsrl.models.loading import load_model_and_processor
from tests.conftest import paper_eval, paper_options

PROMPTS = ["Which colour is this? zebra", "Which colour is this? apple", "Is it mango?"]


def images(n: int) -> list[Image.Image]:
    return [Image.new("RGB", (32, 32), colour) for colour in ("red", "green", "blue")[:n]]


def test_prompt_text_matches_the_transformers_path_and_images_go_as_multimodal_data(
    fake_vllm, tiny_model_dir, monkeypatch
):
    model, processor = load_model_and_processor(str(tiny_model_dir), device="cpu")
    transformers_texts = []
    render = processor.apply_chat_template

    def recording_render(*args, **kwargs):
        transformers_texts.append(render(*args, **kwargs))
        return transformers_texts[-1]

    monkeypatch.setattr(processor, "apply_chat_template", recording_render)
    pictures = images(3)
    generate(model, processor, pictures, PROMPTS, max_new_tokens=2)

    VllmGenerator(str(tiny_model_dir))(pictures, PROMPTS, max_new_tokens=2)

    ((requests, _),) = fake_vllm.llms[0].calls
    assert len(transformers_texts) == len(PROMPTS)
    assert [r["prompt"] for r in requests] == transformers_texts
    assert all("<|image_pad|>" in r["prompt"] for r in requests)
    assert [r["multi_modal_data"] for r in requests] == [{"image": p} for p in pictures]
    assert all(r["multi_modal_data"]["image"] is p for r, p in zip(requests, pictures, strict=True))


def test_sampling_is_greedy_with_one_generate_call_per_batch(fake_vllm, tiny_model_dir):
    generator = VllmGenerator(str(tiny_model_dir))
    generator(images(3), PROMPTS, max_new_tokens=7)
    llm = fake_vllm.llms[0]
    assert len(llm.calls) == 1
    ((requests, params),) = llm.calls
    assert len(requests) == 3
    assert params.kwargs == {
        "temperature": 0.0,
        "max_tokens": 7,
        "skip_special_tokens": True,
        "repetition_penalty": 1.0,  # the tiny model's generation config sets none
        "logit_bias": {token: -100.0 for token in generator.suppressed},
    }
    tokenizer = generator.processor.tokenizer
    placeholders = {"<|vision_start|>", "<|image_pad|>", "<|video_pad|>", "<|vision_end|>"}
    assert set(tokenizer.convert_ids_to_tokens(generator.suppressed)) == placeholders

    generator(images(2), PROMPTS[:2], max_new_tokens=3)
    assert len(llm.calls) == 2
    assert llm.calls[1][1].kwargs["max_tokens"] == 3
    assert len(fake_vllm.llms) == 1  # the engine is built once, not per batch


def test_outputs_come_back_in_input_order(fake_vllm, tiny_model_dir):
    generator = VllmGenerator(str(tiny_model_dir))
    answers = generator(images(3), PROMPTS, max_new_tokens=4)
    assert answers == [f"echo {generator.chat_text(p)}" for p in PROMPTS]
    assert generator([], [], max_new_tokens=4) == []
    with pytest.raises(ValueError, match="2 images for 3 prompts"):
        generator(images(2), PROMPTS, max_new_tokens=4)


def test_missing_vllm_names_the_config_switch(monkeypatch, tiny_model_dir):
    monkeypatch.setitem(sys.modules, "vllm", None)
    with pytest.raises(ImportError) as caught:
        VllmGenerator(str(tiny_model_dir))
    message = str(caught.value)
    assert "evaluation.backend" in message
    assert "transformers" in message
    assert "pip install vllm" in message


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [("auto", "auto"), ("float32", "float32"), ("bfloat16", "bfloat16"), ("float16", "float16")],
)
def test_dtype_is_mapped_onto_vllm(fake_vllm, tiny_model_dir, ours, theirs):
    generator = VllmGenerator(str(tiny_model_dir), dtype=ours, seed=3, max_model_len=2048)
    assert fake_vllm.llms[0].kwargs == {
        "model": str(tiny_model_dir),
        "dtype": theirs,
        "seed": 3,
        "limit_mm_per_prompt": {"image": 1},
        "max_model_len": 2048,
    }
    assert generator.dtype == theirs
    assert generator.device == "cuda (vllm)"


def test_bad_dtype_and_missing_model_folder_fail_before_building_the_engine(
    fake_vllm, tiny_model_dir, tmp_path
):
    with pytest.raises(ValueError, match="unknown dtype 'fp8'"):
        VllmGenerator(str(tiny_model_dir), dtype="fp8")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        VllmGenerator(str(tmp_path / "no-such-model"))
    assert fake_vllm.llms == []


def test_the_checkpoints_repetition_penalty_is_carried_over(fake_vllm, tiny_model_dir, tmp_path):
    import shutil

    from transformers import GenerationConfig

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    config = GenerationConfig.from_pretrained(model)
    config.repetition_penalty = 1.05  # as Qwen2-VL-2B-Instruct's generation_config.json
    config.save_pretrained(model)
    VllmGenerator(str(model))(images(1), PROMPTS[:1], max_new_tokens=3)
    ((_, params),) = fake_vllm.llms[0].calls
    assert params.kwargs["repetition_penalty"] == 1.05


def test_run_evaluation_with_the_vllm_backend_writes_the_usual_files(
    fake_vllm, tiny_model_dir, colours_dir, tmp_path
):
    from clsrl.datasets.canonical import load_dataset
    from clsrl.evaluation.evaluate import run_evaluation
    from clsrl.questions import make_questions, write_questions

    questions = make_questions(load_dataset(colours_dir), "test", paper_options())
    write_questions(tmp_path / "test.jsonl", questions)
    metrics = run_evaluation(
        str(tiny_model_dir),
        colours_dir,
        tmp_path / "test.jsonl",
        tmp_path / "predictions.jsonl",
        tmp_path / "metrics.json",
        paper_eval("no-thinking", max_new_tokens=4, image_resize=56),
        batch_size=8,
        device="cuda",  # a name only: the fake engine needs no GPU
        precision="bf16",
        backend="vllm",
    )
    assert metrics["backend"] == "vllm" and metrics["device"] == "cuda (vllm)"
    assert metrics["dtype"] == "bfloat16" and metrics["n"] == len(questions)
    calls = fake_vllm.llms[0].calls
    assert [len(requests) for requests, _ in calls] == [8] * (len(questions) // 8) + (
        [len(questions) % 8] if len(questions) % 8 else []
    )
    lines = (tmp_path / "predictions.jsonl").read_text().splitlines()
    assert len(lines) == len(questions) and '"output": "echo ' in lines[0]


def test_the_vllm_backend_refuses_a_cpu_device(fake_vllm, tiny_model_dir):
    from clsrl.evaluation.evaluate import load_generator

    with pytest.raises(ValueError, match="evaluation.backend is 'vllm', which needs a GPU"):
        load_generator(str(tiny_model_dir), "vllm", device="cpu", precision="auto")
    assert fake_vllm.llms == []
