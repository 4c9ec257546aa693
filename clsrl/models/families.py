"""Model families: everything that differs between vision-language model families, in one table.

A checkpoint's family is looked up from its config's `model_type` (`config.json`); nothing else
in clsrl names a family (the tiny builders in clsrl.models.tiny excepted). A family not in the
table is refused with its `model_type` named and what to add:

>>> family_for("qwen2_5_vl").name
'Qwen2.5-VL'
>>> try:
...     family_for("llava")
... except UnknownFamilyError as error:
...     print(str(error)[:56])
model_type 'llava' is not a supported model family; supp

What the table decides, and where:

- `placeholder_tokens`: the tokens that stand for an image (or video) in the text, the chat
  template's placeholder and what the processor expands it into. Generation never emits them
  (`suppressed_token_ids`: evaluation in clsrl.evaluation.inference and
  clsrl.evaluation.vllm_backend, GRPO's sampling in clsrl.training.train; vLLM's lowest logit bias
  where vLLM samples): a sampled image token would be taken for an image whose features do not
  exist, and GRPO's forward pass over the completion fails on the count mismatch.
- `reply_separator`: what the chat template writes between the generation prompt and the reply
  (Idefics3: `Assistant:` then a space, then the reply). A completion starts with it; the rewards
  and the scored output read the reply after it (`reply`), as the template holds it.
- `default_system_prompt`: the system turn the template adds to a conversation without one
  (Qwen2-VL's "You are a helpful assistant."); the study never sends a system message, so the
  other families' prompts have no system turn at all.

Batching needs no entry: clsrl.evaluation.inference gives each prompt its own image list and leaves
out the tokenizer's special tokens when the rendered template already starts with them (Gemma 3's
`<bos>`), for every family alike. Neither do LoRA's targets (`all-linear`: every linear layer but
the output head, whatever its name) nor the image pixels (the checkpoint's processor's own).

To add a family: an entry in FAMILIES with the facts above, a tiny random builder in
clsrl.models.tiny (its real architecture, processor and chat template), and its row in the
family tests (tests/models/test_families.py), which train and evaluate it end to end.
"""

from __future__ import annotations

from dataclasses import dataclass

QWEN_PLACEHOLDERS = ("<|vision_start|>", "<|image_pad|>", "<|video_pad|>", "<|vision_end|>")


class UnknownFamilyError(ValueError):
    """A checkpoint whose model_type is not in FAMILIES."""


@dataclass(frozen=True)
class Family:
    """What clsrl must know of a model family."""

    name: str
    checkpoints: tuple[str, ...]  # hub checkpoints a user would name
    placeholder_tokens: tuple[str, ...]  # stand for an image in the text: never generated
    tiny_builtin: str  # the offline tiny random build of the family (builtin:NAME)
    reply_separator: str = ""  # the template's text between generation prompt and reply
    default_system_prompt: str | None = None  # the template's system turn when none is given

    def reply(self, completion: str) -> str:
        """A completion as the reply the chat template holds: without the reply separator.

        >>> FAMILIES["idefics3"].reply(" cat"), FAMILIES["qwen2_vl"].reply(" cat")
        ('cat', ' cat')
        """
        return completion.removeprefix(self.reply_separator)


FAMILIES = {
    "qwen2_vl": Family(
        name="Qwen2-VL",
        checkpoints=("Qwen/Qwen2-VL-2B-Instruct", "Qwen/Qwen2-VL-7B-Instruct"),
        placeholder_tokens=QWEN_PLACEHOLDERS,
        tiny_builtin="tiny-qwen2-vl",
        default_system_prompt="You are a helpful assistant.",
    ),
    "qwen2_5_vl": Family(
        name="Qwen2.5-VL",
        checkpoints=("Qwen/Qwen2.5-VL-3B-Instruct", "Qwen/Qwen2.5-VL-7B-Instruct"),
        placeholder_tokens=QWEN_PLACEHOLDERS,
        tiny_builtin="tiny-qwen2.5-vl",
        default_system_prompt="You are a helpful assistant.",  # Qwen2-VL's template
    ),
    "qwen3_vl": Family(
        name="Qwen3-VL",
        checkpoints=("Qwen/Qwen3-VL-2B-Instruct", "Qwen/Qwen3-VL-4B-Instruct"),
        placeholder_tokens=QWEN_PLACEHOLDERS,
        tiny_builtin="tiny-qwen3-vl",
    ),
    "gemma3": Family(
        name="Gemma 3",
        checkpoints=("google/gemma-3-4b-it", "google/gemma-3-12b-it", "google/gemma-3-27b-it"),
        placeholder_tokens=("<start_of_image>", "<image_soft_token>", "<end_of_image>"),
        tiny_builtin="tiny-gemma3",
    ),
    "idefics3": Family(
        name="Idefics3 (SmolVLM)",
        checkpoints=(
            "HuggingFaceTB/SmolVLM-Instruct",
            "HuggingFaceTB/SmolVLM-256M-Instruct",
            "HuggingFaceTB/SmolVLM-500M-Instruct",
            "HuggingFaceM4/Idefics3-8B-Llama3",
        ),
        placeholder_tokens=("<fake_token_around_image>", "<global-img>", "<image>"),
        tiny_builtin="tiny-idefics3",
        reply_separator=" ",  # "Assistant:" + " " + reply
    ),
}


def family_for(model_type: str, model: str | None = None) -> Family:
    """The family of a checkpoint's `model_type`; UnknownFamilyError naming it otherwise."""
    if model_type in FAMILIES:
        return FAMILIES[model_type]
    source = f" (base_model {model!r})" if model else ""
    supported = ", ".join(f"{family.name} ({key})" for key, family in FAMILIES.items())
    raise UnknownFamilyError(
        f"model_type {model_type!r}{source} is not a supported model family; supported: "
        f"{supported}. To add it: an entry in clsrl/models/families.py FAMILIES, a tiny builder in "
        "clsrl/models/tiny.py and its row in tests/models/test_families.py (docs/model-families.md)"
    )


def suppressed_token_ids(config, tokenizer) -> list[int]:
    """The ids generation must never emit: the family's placeholder tokens that `tokenizer` has,
    and the model config's (`model.config`, or the checkpoint's AutoConfig) own image and video
    token ids, sorted."""
    family = family_for(config.model_type)
    vocabulary = tokenizer.get_vocab()
    ids = {vocabulary[token] for token in family.placeholder_tokens if token in vocabulary}
    for name in ("image_token_id", "video_token_id"):
        token_id = getattr(config, name, None)
        if isinstance(token_id, int):
            ids.add(token_id)
    return sorted(ids)
