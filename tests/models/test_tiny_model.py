"""The offline tiny Qwen2-VL and the model loader (CPU, no hub)."""

import pytest
import torch
from PIL import Image
from transformers import AutoModelForImageTextToText, AutoProcessor, Qwen2VLProcessor

from clsrl.models.family_vocabularies import (
    CHAT_TEMPLATE,
    DEFAULT_SYSTEM_PROMPT,
    IMAGE_PAD,
    QWEN3_VL_CHAT_TEMPLATE,
    SPECIAL_TOKENS,
)
from clsrl.models.loading import load_model_and_processor, resolve_device, resolve_precision
from clsrl.models.tiny import (
    SHAPES,
    build_config,
    build_model,
    build_tiny_model,
    build_tokenizer,
    main,
    pad_vocabulary,
)
from clsrl.prompts import render_prompt

IMAGE_SIDE = 56
TOKENS_PER_IMAGE = 4  # 56x56 -> 4x4 patches of 14 px -> 2x2 after the merge
SEED = 0
QUESTION = "What is it?"


def user_turn(text: str) -> list[dict]:
    return [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}]


def image(color: tuple[int, int, int]) -> Image.Image:
    return Image.new("RGB", (IMAGE_SIDE, IMAGE_SIDE), color)


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", seed=SEED)


@pytest.fixture(scope="module")
def loaded(tiny_path):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        model = AutoModelForImageTextToText.from_pretrained(tiny_path)
        processor = AutoProcessor.from_pretrained(tiny_path)
    return model, processor


def test_build_writes_only_the_model_folder(tiny_path):
    assert (tiny_path / "config.json").is_file()
    assert (tiny_path / "model.safetensors").is_file()
    assert sorted(p.name for p in tiny_path.parent.iterdir()) == ["model"]  # no staging leftovers


def test_same_seed_same_weights_other_seed_different(loaded):
    tokenizer = build_tokenizer()
    config = build_config(tokenizer)
    again = build_model(config, SEED).state_dict()
    other = build_model(config, SEED + 1).state_dict()
    saved = loaded[0].state_dict()
    assert again.keys() == saved.keys()
    assert all(torch.equal(again[name], saved[name]) for name in saved)
    changed = [name for name in saved if not torch.equal(other[name], saved[name])]
    assert "model.language_model.embed_tokens.weight" in changed


def test_tokenizer_is_deterministic():
    assert (
        build_tokenizer().backend_tokenizer.to_str() == build_tokenizer().backend_tokenizer.to_str()
    )


def test_reload_gives_qwen2_vl_classes_and_token_ids(loaded):
    model, processor = loaded
    tokenizer = processor.tokenizer
    assert type(model).__name__ == "Qwen2VLForConditionalGeneration"
    assert type(processor).__name__ == "Qwen2VLProcessor"
    assert tokenizer.convert_tokens_to_ids(list(SPECIAL_TOKENS)) == list(range(len(SPECIAL_TOKENS)))
    assert model.config.image_token_id == tokenizer.convert_tokens_to_ids(IMAGE_PAD)
    assert model.config.text_config.vocab_size >= len(tokenizer)
    assert processor.chat_template == tokenizer.chat_template == CHAT_TEMPLATE
    assert (tokenizer.padding_side, tokenizer.eos_token, tokenizer.pad_token) == (
        "left",
        "<|im_end|>",
        "<|endoftext|>",
    )
    generation = model.generation_config
    assert generation.do_sample is False
    assert generation.eos_token_id == tokenizer.convert_tokens_to_ids("<|im_end|>")


def test_chat_template_expands_one_image_to_four_tokens(loaded):
    _, processor = loaded
    text = processor.apply_chat_template(
        user_turn(QUESTION), add_generation_prompt=True, tokenize=False
    )
    assert text == (
        f"<|im_start|>system\n{DEFAULT_SYSTEM_PROMPT}<|im_end|>\n"
        f"<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>{QUESTION}<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    inputs = processor(text=[text], images=[image((255, 0, 0))], return_tensors="pt")
    image_id = processor.tokenizer.convert_tokens_to_ids(IMAGE_PAD)
    assert int((inputs["input_ids"] == image_id).sum()) == TOKENS_PER_IMAGE
    assert inputs["image_grid_thw"].tolist() == [[1, 4, 4]]
    decoded = processor.tokenizer.decode(inputs["input_ids"][0])
    assert "<|vision_start|><|image_pad|>" in decoded
    assert decoded.startswith(f"<|im_start|>system\n{DEFAULT_SYSTEM_PROMPT}<|im_end|>")


def test_batched_generate_with_left_padding(loaded):
    model, processor = loaded
    prompts = [QUESTION, render_prompt("thinking", "What type of object is in the photo?")]
    texts = [
        processor.apply_chat_template(user_turn(p), add_generation_prompt=True, tokenize=False)
        for p in prompts
    ]
    inputs = processor(
        text=texts,
        images=[image((255, 0, 0)), image((0, 0, 255))],
        padding=True,
        return_tensors="pt",
    )
    pad_id = processor.tokenizer.pad_token_id
    assert inputs["input_ids"][0, 0] == pad_id  # the shorter prompt is padded on the left
    assert inputs["input_ids"][1, -1] != pad_id
    max_new_tokens = 5
    with torch.inference_mode():
        output = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
    new = output[:, inputs["input_ids"].shape[1] :]
    assert new.shape[0] == len(prompts)
    assert 1 <= new.shape[1] <= max_new_tokens


@pytest.mark.parametrize("style", ["thinking", "no-thinking"])
def test_tokenizer_round_trips_protocol_prompts(loaded, style):
    tokenizer = loaded[1].tokenizer
    text = render_prompt(
        style, "What type of object is in the photo?\nPlease choose one from list [ a_b, c]."
    )
    assert tokenizer.decode(tokenizer(text)["input_ids"]) == text


@pytest.mark.parametrize(
    ("device", "cuda_available", "expected"),
    [
        ("auto", True, "cuda"),  # a visible GPU is used
        ("auto", False, "cpu"),  # no GPU: CPU
        ("cpu", True, "cpu"),  # an explicit device wins
        ("cuda:1", False, "cuda:1"),  # passed through as is
    ],
)
def test_resolve_device(device, cuda_available, expected):
    assert resolve_device(device, cuda_available=cuda_available) == expected


@pytest.mark.parametrize(
    ("precision", "device", "bf16", "expected"),
    [
        ("auto", "cuda", True, torch.bfloat16),  # GPU with bf16
        ("auto", "cuda:0", False, torch.float32),  # old GPU without bf16
        ("auto", "cpu", True, torch.float32),  # CPU: always float32
        ("fp16", "cpu", False, torch.float16),  # an explicit precision wins
        ("bf16", "cpu", False, torch.bfloat16),
        ("fp32", "cuda", True, torch.float32),
    ],
)
def test_resolve_precision(precision, device, bf16, expected):
    assert resolve_precision(precision, device, bf16_supported=bf16) == expected


def test_resolve_precision_rejects_unknown_names_with_the_vocabulary():
    with pytest.raises(ValueError, match="'bfloat16'; use 'auto' or one of fp32, bf16, fp16"):
        resolve_precision("bfloat16", "cpu")


def test_load_model_and_processor_on_tiny_model(tiny_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model, processor = load_model_and_processor(str(tiny_path), device="cpu", precision="bf16")
    assert model.dtype == torch.bfloat16
    assert not model.training
    assert processor.tokenizer.padding_side == "left"


@pytest.mark.parametrize(
    "make_folder", [False, True]
)  # missing path / a folder without config.json
def test_load_model_and_processor_names_a_bad_path(tmp_path, make_folder):
    path = tmp_path / "no-model-here"
    if make_folder:
        path.mkdir()
    with pytest.raises(FileNotFoundError, match="no-model-here"):
        load_model_and_processor(str(path), device="cpu")


def test_corpus_words_get_their_own_merges():
    word = "Abyssinian"
    repeats = 50  # frequent enough to win BPE merges
    plain, trained = build_tokenizer(), build_tokenizer([word] * repeats)
    assert len(trained(word)["input_ids"]) < len(plain(word)["input_ids"])


def test_failed_save_leaves_nothing_behind(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Qwen2VLProcessor, "save_pretrained", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        build_tiny_model(tmp_path / "model")
    assert list(tmp_path.iterdir()) == []


def test_command_line_builds_and_replaces(tmp_path, capsys):
    output = tmp_path / "model"
    main([str(output), "--seed", "1"])
    (output / "stale.txt").write_text("from an older build")
    main([str(output), "--seed", "1"])
    assert capsys.readouterr().out.split() == [str(output)] * 2
    assert (output / "config.json").is_file()
    assert not (output / "stale.txt").exists()


# --- builtin:qwen2-vl-2b-random ------------------------------------------------------------------


def test_the_full_size_shape_has_qwen2_vl_2b_instructs_parameter_count():
    from transformers import Qwen2VLForConditionalGeneration

    shape = SHAPES["qwen2-vl-2b"]
    tokenizer = pad_vocabulary(build_tokenizer(), shape.vocab_size)
    config = build_config(tokenizer, shape)
    with torch.device("meta"):  # the architecture without allocating 2.2 B weights
        model = Qwen2VLForConditionalGeneration(config)
    # Qwen/Qwen2-VL-2B-Instruct: 2,208,985,600 parameters (tied input and output embeddings)
    assert sum(p.numel() for p in model.parameters()) == 2_208_985_600
    assert (config.text_config.hidden_size, config.text_config.num_hidden_layers) == (1536, 28)
    assert (config.vision_config.depth, config.vision_config.embed_dim) == (32, 1280)
    assert config.tie_word_embeddings


def test_the_padded_tokenizer_decodes_every_id_of_the_full_vocabulary():
    plain = build_tokenizer()
    padded = pad_vocabulary(plain, SHAPES["qwen2-vl-2b"].vocab_size)
    assert len(padded) == 151_936
    assert padded.decode([151_935]).startswith(" fill")
    text = "What type of object is in the photo?"
    assert padded(text)["input_ids"] == plain(text)["input_ids"]  # encoding is unchanged
    assert padded.convert_tokens_to_ids(IMAGE_PAD) == plain.convert_tokens_to_ids(IMAGE_PAD)


@pytest.mark.fullsize
def test_the_workflow_builds_the_full_size_model_offline(tmp_path):
    """About a minute and 4.2 GB on disk: the rule, the builder and the saved checkpoint."""
    import json
    import math

    import yaml
    from safetensors import safe_open

    from tests.conftest import run_snakemake

    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"base_model": "builtin:qwen2-vl-2b-random"}))
    run_snakemake(
        tmp_path, "--cores", "2", "results/base_model/qwen2-vl-2b-random", configfile=config
    )
    model = tmp_path / "results/base_model/qwen2-vl-2b-random"
    parameters = 0
    with safe_open(model / "model.safetensors", framework="pt") as weights:
        for name in weights.keys():
            tensor = weights.get_slice(name)
            parameters += math.prod(tensor.get_shape())
            assert tensor.get_dtype() == "BF16"  # saved like the real checkpoint
    assert parameters == 2_208_985_600
    saved = json.loads((model / "config.json").read_text())
    assert saved["architectures"] == ["Qwen2VLForConditionalGeneration"]
    assert saved["text_config"]["vocab_size"] == 151_936
    processor = AutoProcessor.from_pretrained(model)
    assert len(processor.tokenizer) == 151_936


# --- every family's builder ------------------------------------------------------------------


def test_the_tiny_qwen2_vl_build_is_the_shipped_toy_models_starting_point(tiny_path):
    """The family builders leave Qwen2-VL's as it was: the tokenizer and config the shipped toy
    model was pre-trained from (its padding setting and use_cache come from its training)."""
    import json

    from clsrl.datasets.demo import demo_texts
    from clsrl.toy.settings import shipped_folder

    shipped = json.loads((shipped_folder() / "tokenizer.json").read_text())
    built = json.loads(build_tokenizer(demo_texts()).backend_tokenizer.to_str())
    assert {**shipped, "padding": None} == built
    config = json.loads((shipped_folder() / "config.json").read_text())
    rebuilt = json.loads((tiny_path / "config.json").read_text())  # the corpus changes no id
    assert {**config, "use_cache": None} == {**rebuilt, "use_cache": None}


def test_qwen3_vl_chat_template_is_verbatim():
    """Byte for byte the template of Qwen's Qwen3-VL Instruct checkpoints (the sha256 of the one
    the Qwen3-VL-8B-Instruct GGUF files carry, which copy the checkpoint's)."""
    import hashlib

    digest = hashlib.sha256(QWEN3_VL_CHAT_TEMPLATE.encode()).hexdigest()
    assert digest == "3636d0f0bd6bef02654cdffdc447b79cb2cef8ab02cc75267345946291a489e4"
    assert len(QWEN3_VL_CHAT_TEMPLATE) == 5292


@pytest.mark.parametrize("architecture", ["qwen2_vl", "qwen3_vl", "gemma3", "idefics3"])
def test_each_family_tokenizer_has_its_special_tokens_first(architecture):
    from clsrl.models.tiny import ARCHITECTURES

    vocabulary = ARCHITECTURES[architecture].vocabulary
    tokenizer = build_tokenizer(architecture=architecture)
    tokens = list(vocabulary.special_tokens)
    assert tokenizer.convert_tokens_to_ids(tokens) == list(range(len(tokens)))
    assert (tokenizer.eos_token, tokenizer.pad_token, tokenizer.bos_token) == (
        vocabulary.eos,
        vocabulary.pad,
        vocabulary.bos,
    )
    assert tokenizer.padding_side == "left"
    assert set(tokens) <= set(tokenizer.all_special_tokens)  # skipped when answers are decoded
    for name, token in vocabulary.named.items():  # what the processor reads (Gemma's boi_token)
        assert getattr(tokenizer, name) == token
    first = tokenizer("cat")["input_ids"][0]
    assert (first == tokenizer.bos_token_id) == vocabulary.prepend_bos  # Gemma's tokenizer only
    text = render_prompt("thinking", "What type of object is in the photo?\nPlease choose one.")
    assert tokenizer.decode(tokenizer(text, add_special_tokens=False)["input_ids"]) == text


def test_gemma3_and_idefics3_render_a_question_as_their_checkpoints_do():
    from clsrl.models.tiny import ARCHITECTURES

    rendered = {
        architecture: build_tokenizer(architecture=architecture).apply_chat_template(
            user_turn(QUESTION), add_generation_prompt=True, tokenize=False
        )
        for architecture in ("gemma3", "idefics3")
    }
    assert rendered == {
        "gemma3": f"<bos><start_of_turn>user\n<start_of_image>{QUESTION}<end_of_turn>\n"
        "<start_of_turn>model\n",
        "idefics3": f"<|im_start|>User:<image>{QUESTION}<end_of_utterance>\nAssistant:",
    }
    gemma = build_tokenizer(architecture="gemma3")
    system = [{"role": "system", "content": "Be brief."}]
    folded = gemma.apply_chat_template(system + user_turn(QUESTION), tokenize=False)
    assert folded.startswith("<bos><start_of_turn>user\nBe brief.\n\n<start_of_image>")
    assert ARCHITECTURES["qwen2_5_vl"].chat_template == CHAT_TEMPLATE  # Qwen2.5-VL ships it


@pytest.mark.parametrize("shape", ["tiny-qwen3-vl", "tiny-gemma3", "tiny-idefics3"])
def test_each_new_family_shape_is_as_small_as_the_tiny_one(shape):
    from clsrl.models.tiny import ARCHITECTURES

    spec = SHAPES[shape]
    config = build_config(build_tokenizer(architecture=spec.architecture), spec)
    with torch.device("meta"):
        model = ARCHITECTURES[spec.architecture].model_class(config)
    parameters = sum(p.numel() for p in model.parameters())
    assert 150_000 < parameters < 300_000, parameters
    assert config.get_text_config().num_hidden_layers == 2
    assert config.get_text_config().hidden_size == 64


def test_the_shipped_toy_model_is_recorded_as_built_from_a_clean_commit():
    import json

    from clsrl.toy.settings import RECORD_FILE, shipped_folder

    record = json.loads((shipped_folder() / RECORD_FILE).read_text())
    assert record["git"]["dirty"] is False and len(record["git"]["commit"]) == 40


def test_a_refreshed_toy_model_record_alone_changes_no_param(tmp_path, monkeypatch):
    """The build rule's param covers the files jobs compute with, not the provenance files."""
    import shutil

    from clsrl.toy import settings as toy_model

    copy = tmp_path / "toy"
    shutil.copytree(toy_model.shipped_folder(), copy)
    monkeypatch.setattr(toy_model, "shipped_folder", lambda: copy)
    before = toy_model.shipped_digest()
    sums = (copy / "SHA256SUMS").read_text().splitlines()

    def with_digest(name: str, digest: str) -> None:
        lines = [f"{digest}  {name}" if line.endswith(f"  {name}") else line for line in sums]
        (copy / "SHA256SUMS").write_text("\n".join(lines) + "\n")

    with_digest("pretraining_record.json", "0" * 64)
    assert toy_model.shipped_digest() == before
    with_digest("model.safetensors", "0" * 64)
    assert toy_model.shipped_digest() != before
