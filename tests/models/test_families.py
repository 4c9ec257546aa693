"""Model families (clsrl.models.families): the table, the refusal of an unknown family, generation
that never emits an image placeholder, and each family's tiny random build through the study's
steps: SFT (full and LoRA), CLS-RL and No-Thinking GRPO, evaluation in both prompt styles
(`-m families`)."""

import pytest
import torch

from clsrl.config import validate_config
from clsrl.models.base_models import TINY_BUILDS
from clsrl.models.families import FAMILIES, UnknownFamilyError, family_for, suppressed_token_ids
from tests.conftest import paper_eval, paper_options

IMAGE_SIDE = 56
IMAGE_TOKENS = 4  # every tiny build turns a 56x56 image into 4 image tokens
QUESTION = "What type of object is in the photo?"


def test_every_family_has_a_tiny_build_of_its_own_architecture():
    from clsrl.models.tiny import SHAPES

    assert len(FAMILIES) >= 5
    for model_type, family in FAMILIES.items():
        assert family.tiny_builtin in TINY_BUILDS, family.name
        assert SHAPES[TINY_BUILDS[family.tiny_builtin]].architecture == model_type
        validate_config({"base_model": f"builtin:{family.tiny_builtin}"})  # a known built-in


def test_an_unknown_family_is_refused_with_its_model_type_and_what_to_add():
    with pytest.raises(UnknownFamilyError) as refused:
        family_for("llava_onevision", "llava-hf/llava-onevision-qwen2-0.5b-ov-hf")
    message = str(refused.value)
    assert "model_type 'llava_onevision'" in message
    assert "llava-hf/llava-onevision-qwen2-0.5b-ov-hf" in message
    assert "clsrl/models/families.py" in message and "Qwen2.5-VL (qwen2_5_vl)" in message


def test_loading_a_model_of_an_unknown_family_names_it(tiny_model_dir, tmp_path, monkeypatch):
    from clsrl.models import families
    from clsrl.models.loading import load_model_and_processor

    monkeypatch.setattr(families, "FAMILIES", {})
    with pytest.raises(UnknownFamilyError, match="model_type 'qwen2_vl'"):
        load_model_and_processor(str(tiny_model_dir), device="cpu")


def favour(model, token_ids: list[int], by: float = 1e4):
    """Make the model's output layer favour `token_ids` overwhelmingly (a forward hook)."""

    def hook(module, inputs, logits):
        logits = logits.clone()
        logits[..., token_ids] += by
        return logits

    return model.get_output_embeddings().register_forward_hook(hook)


def placeholder_ids(processor, model_type: str) -> list[int]:
    return processor.tokenizer.convert_tokens_to_ids(list(FAMILIES[model_type].placeholder_tokens))


def test_evaluation_never_generates_an_image_placeholder(tiny_model_dir, monkeypatch):
    """A model that all but always picks an image placeholder next still never emits one."""
    from PIL import Image

    from clsrl.evaluation import inference
    from clsrl.models.loading import load_model_and_processor

    model, processor = load_model_and_processor(str(tiny_model_dir), device="cpu")
    favoured = placeholder_ids(processor, "qwen2_vl")
    assert model.config.image_token_id in favoured
    assert suppressed_token_ids(model.config, processor.tokenizer) == sorted(favoured)
    images = [Image.new("RGB", (IMAGE_SIDE, IMAGE_SIDE), colour) for colour in ("red", "blue")]
    prompts = [QUESTION, "What is it?"]
    favour(model, favoured)
    inputs = inference.prompt_inputs(processor, images, prompts)
    with torch.inference_mode():  # without suppression: placeholders only
        unguarded = model.generate(**inputs, max_new_tokens=4, do_sample=False)
    assert set(unguarded[:, inputs["input_ids"].shape[1] :].flatten().tolist()) <= set(favoured)

    generated = []
    original = model.generate

    def recording_generate(**kwargs):
        output = original(**kwargs)
        generated.append(output[:, kwargs["input_ids"].shape[1] :])
        return output

    monkeypatch.setattr(model, "generate", recording_generate)
    answers = inference.TransformersGenerator(model, processor)(images, prompts, 4)
    assert len(answers) == 2 and generated[0].shape == (2, 4)
    assert not set(generated[0].flatten().tolist()) & set(favoured)


def test_grpo_never_samples_an_image_placeholder(tiny_model_dir, colours_dir, tmp_path):
    """GRPO's sampling suppresses the family's placeholders (TRL 1.16 alone suppresses only the
    image token): the spec stays as it was, and a model that favours them trains a step."""

    from clsrl.datasets.canonical import load_dataset
    from clsrl.fewshot import few_shot_questions
    from clsrl.questions import write_questions
    from clsrl.training.train import prepare_trainer
    from tests.training.test_train import spec_for

    split = tmp_path / "train.jsonl"
    write_questions(split, few_shot_questions(load_dataset(colours_dir), 1, 1, paper_options()))
    spec = spec_for("no-thinking", {"max_steps": 1})
    asked = spec.as_mapping()
    trainer, processor = prepare_trainer(spec, str(tiny_model_dir), split, colours_dir, tmp_path)
    assert spec.as_mapping() == asked  # the job's spec (a Snakemake param) is not touched
    favoured = placeholder_ids(processor, "qwen2_vl")
    assert trainer.generation_config.suppress_tokens == sorted(favoured)

    model = trainer.model
    favour(model, favoured, by=50.0)
    sampled = []
    original = model.generate

    def recording_generate(*args, **kwargs):
        output = original(*args, **kwargs)
        sampled.append(output[:, kwargs["input_ids"].shape[1] :])
        return output

    model.generate = recording_generate
    trainer.train()
    assert sampled and not set(torch.cat(sampled).flatten().tolist()) & set(favoured)


def test_rewards_read_the_reply_after_the_familys_separator():
    """Idefics3's replies follow `Assistant:` after a space: the rewards read them without it,
    conversational or plain; the Qwen families' rewards are the rules themselves."""
    from clsrl.training.rewards import REWARDS, reward_functions

    names = ["thinking_format", "no_thinking_accuracy"]
    assert reward_functions(names, FAMILIES["qwen2_vl"].reply_separator) == [
        REWARDS[name] for name in names
    ]
    thinking, no_thinking = reward_functions(names, FAMILIES["idefics3"].reply_separator)
    assert (thinking.__name__, no_thinking.__name__) == tuple(names)  # TRL's log names
    replies = [" <think>red</think> <answer>red</answer>", " red", "  red", "red "]
    conversational = [[{"role": "assistant", "content": reply}] for reply in replies]
    truth = ["red"] * len(replies)
    assert thinking(conversational) == thinking(replies) == [1.0, 0.0, 0.0, 0.0]
    assert no_thinking(conversational, classname=truth) == [0.0, 1.0, 0.0, 0.0]
    assert no_thinking(replies, classname=truth) == [0.0, 1.0, 0.0, 0.0]
    assert REWARDS["no_thinking_accuracy"]([" red"], classname=["red"]) == [0.0]  # the rule


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def family_model(request, tmp_path_factory):
    """(model_type, the family's tiny random build, saved like a hub checkpoint)."""
    from clsrl.datasets.demo import demo_texts
    from clsrl.models.tiny import build_tiny_model

    shape = TINY_BUILDS[FAMILIES[request.param].tiny_builtin]
    folder = tmp_path_factory.mktemp(request.param) / "model"
    return request.param, build_tiny_model(folder, seed=0, corpus=demo_texts(), shape=shape)


@pytest.mark.families
def test_a_family_loads_through_the_auto_classes_as_its_checkpoint_would(family_model):
    from PIL import Image

    from clsrl.evaluation.inference import prompt_inputs
    from clsrl.models.loading import load_model_and_processor
    from clsrl.models.tiny import ARCHITECTURES

    model_type, folder = family_model
    model, processor = load_model_and_processor(str(folder), device="cpu")
    builder = ARCHITECTURES[model_type]
    assert type(model) is builder.model_class and type(processor) is builder.processor_class
    assert model.config.model_type == model_type
    assert family_for(model.config.model_type) is FAMILIES[model_type]
    assert processor.chat_template == builder.chat_template
    assert sum(p.numel() for p in model.parameters()) < 300_000  # CPU-sized, as the tiny Qwen2-VL
    vocabulary = processor.tokenizer.get_vocab()
    assert all(token in vocabulary for token in FAMILIES[model_type].placeholder_tokens)
    suppressed = suppressed_token_ids(model.config, processor.tokenizer)
    assert model.config.image_token_id in suppressed
    assert suppressed == sorted(placeholder_ids(processor, model_type))

    # A batch as evaluation builds it: one bos at most, IMAGE_TOKENS image tokens per image.
    images = [Image.new("RGB", (IMAGE_SIDE, IMAGE_SIDE), colour) for colour in ("red", "blue")]
    inputs = prompt_inputs(processor, images, [QUESTION, "What is it?"])
    ids = inputs["input_ids"]
    assert (ids == model.config.image_token_id).sum(dim=1).tolist() == [IMAGE_TOKENS] * 2
    bos = processor.tokenizer.bos_token_id
    assert bos is None or (ids == bos).sum(dim=1).max() <= 1
    assert ids[1, 0] == processor.tokenizer.pad_token_id  # the shorter prompt: left padding


@pytest.mark.families
def test_a_familys_table_entry_matches_its_chat_template(family_model):
    """The reply separator and the default system turn are what the family's template writes."""
    from transformers import AutoProcessor

    from clsrl.evaluation.inference import user_message

    model_type, folder = family_model
    family = FAMILIES[model_type]
    processor = AutoProcessor.from_pretrained(folder)
    asked = user_message(QUESTION)
    prompt = processor.apply_chat_template(asked, add_generation_prompt=True, tokenize=False)
    reply = [{"role": "assistant", "content": [{"type": "text", "text": "cat"}]}]
    answered = processor.apply_chat_template(asked + reply, tokenize=False)
    assert answered.startswith(prompt + family.reply_separator + "cat"), answered
    if family.default_system_prompt is not None:
        system = [{"role": "system", "content": family.default_system_prompt}]
        with_system = processor.apply_chat_template(
            system + asked, add_generation_prompt=True, tokenize=False
        )
        assert prompt == with_system
    else:
        assert "system" not in prompt.lower()


@pytest.mark.families
def test_the_vllm_backend_handles_a_family_as_the_transformers_path(family_model, fake_vllm):
    """With a stand-in `vllm`: the family's placeholders get vLLM's lowest logit bias, and an
    answer is the reply after the family's separator, as in clsrl.evaluation.inference."""
    from PIL import Image

    from clsrl.evaluation.vllm_backend import SUPPRESSION_BIAS, VllmGenerator

    model_type, folder = family_model
    family = FAMILIES[model_type]
    fake_vllm.reply = lambda request: family.reply_separator + "cat"
    generator = VllmGenerator(str(folder))
    image = Image.new("RGB", (IMAGE_SIDE, IMAGE_SIDE), "red")
    assert generator([image], [QUESTION], max_new_tokens=4) == ["cat"]

    ((requests, params),) = fake_vllm.llms[0].calls
    bias = params.kwargs["logit_bias"]
    tokenizer = generator.processor.tokenizer
    assert set(bias.values()) == {SUPPRESSION_BIAS}
    assert sorted(bias) == sorted(tokenizer.convert_tokens_to_ids(list(family.placeholder_tokens)))
    assert requests[0]["prompt"] == generator.chat_text(QUESTION)


@pytest.mark.families
def test_a_family_goes_through_training_and_evaluation(family_model, colours_dir, tmp_path):
    import pandas as pd
    from transformers import AutoProcessor

    from clsrl.datasets.canonical import load_dataset
    from clsrl.evaluation.evaluate import evaluate_questions
    from clsrl.evaluation.inference import TransformersGenerator
    from clsrl.fewshot import few_shot_questions
    from clsrl.models.loading import load_model_and_processor
    from clsrl.questions import make_questions, write_questions
    from clsrl.training.train import LOG_HISTORY_FILE, train
    from tests.training.test_train import spec_for

    model_type, folder = family_model
    base_tokenizer = AutoProcessor.from_pretrained(folder).tokenizer
    dataset = load_dataset(colours_dir)
    split = tmp_path / "train.jsonl"
    write_questions(split, few_shot_questions(dataset, 1, 1, paper_options(seed=1)))
    test = make_questions(dataset, "test", paper_options())[:8]
    runs = {
        "sft": spec_for("sft", {"max_steps": 2}),
        "sft-lora": spec_for("sft", {"max_steps": 2, "lora": {"enabled": True}}),
        "cls-rl": spec_for("cls-rl", {"max_steps": 2}),
        "no-thinking": spec_for("no-thinking", {"max_steps": 2}),
    }
    for name, spec in runs.items():
        output = tmp_path / name
        train(spec, str(folder), split, colours_dir, output, tmp_path / f"ck-{name}")
        assert pd.read_csv(output / LOG_HISTORY_FILE)["step"].max() == 2, (model_type, name)
        model, processor = load_model_and_processor(str(output), device="cpu")
        assert model.config.model_type == model_type  # saved as the same family
        # saved with the tokenizer it was loaded with (GRPO may train with a copy:
        # clsrl.training.train)
        assert processor.tokenizer("x")["input_ids"] == base_tokenizer("x")["input_ids"]
        style = "thinking" if name == "cls-rl" else "no-thinking"
        settings = paper_eval(style, max_new_tokens=8, image_resize=56)
        generator = TransformersGenerator(model, processor)
        rows, metrics = evaluate_questions(generator, test, dataset.root, settings, batch_size=4)
        assert len(rows) == len(test) and metrics["n"] == len(test), (model_type, name)


@pytest.mark.families
def test_the_workflow_builds_a_new_familys_tiny_model(tmp_path):
    """Rule build_tiny_model makes every TINY_BUILDS entry, a new family's as the first's."""
    import yaml

    from clsrl.models.loading import load_model_and_processor
    from tests.conftest import run_snakemake

    config = tmp_path / "family.yaml"
    config.write_text(
        yaml.safe_dump({"base_model": "builtin:tiny-gemma3", "datasets": ["demo-colours"]})
    )
    planned = run_snakemake(tmp_path, "--dry-run", configfile=config)
    assert "results/base_model/tiny-gemma3" in planned.stdout
    assert "build_tiny_model" in planned.stdout and "build_toy_model" not in planned.stdout
    run_snakemake(tmp_path, "--cores", "1", "results/base_model/tiny-gemma3", configfile=config)
    model, _ = load_model_and_processor(str(tmp_path / "results/base_model/tiny-gemma3"))
    assert model.config.model_type == "gemma3"


@pytest.mark.families
@pytest.mark.parametrize("lora", [False, True], ids=["full", "lora"])
def test_a_familys_resumed_training_ends_with_the_uninterrupted_weights(
    family_model, lora, colours_dir, tmp_path, monkeypatch
):
    """Each family saves its weights under its own names (Qwen2-VL `model.layers.*`, Gemma 3
    `language_model.model.*`, Idefics3 `model.text_model.*`, ...), which a resume must map back:
    a run crashed after checkpoint-2 of 4 and rerun ends with the uninterrupted run's weights."""
    from clsrl.datasets.canonical import load_dataset
    from clsrl.fewshot import few_shot_questions
    from clsrl.questions import write_questions
    from clsrl.training.train import runtime_from, train
    from tests.training.test_faults import (
        LORA,
        Crash,
        assert_same_weights,
        crash_after_commit,
        restored_step,
    )
    from tests.training.test_train import spec_for, weights

    model_type, folder = family_model
    split = tmp_path / "train.jsonl"
    write_questions(split, few_shot_questions(load_dataset(colours_dir), 1, 1, paper_options()))
    lora_settings = {"lora": LORA} if lora else {}
    spec = spec_for("sft", {"max_steps": 4, **lora_settings}, learning_rate=0.01)

    def run(name):
        out = tmp_path / name
        train(spec, str(folder), split, colours_dir, out / "model", out / "ck", runtime_from(2))
        return out / "model"

    uninterrupted = weights(run("uninterrupted"))
    crash_after_commit(monkeypatch, step=2)
    with pytest.raises(Crash):
        run("resumed")
    monkeypatch.undo()
    resumed = run("resumed")
    assert_same_weights(resumed, uninterrupted, folder)
    assert restored_step(resumed) == 2, model_type
