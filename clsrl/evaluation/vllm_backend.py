"""Optional vLLM backend for evaluation: greedy answers behind the same call as
`clsrl.evaluation.inference`.

The chat text comes from the model's own processor template, exactly as in the transformers
path, so both backends see identical prompts; vLLM then runs the whole batch in one
`LLM.generate` call. vLLM is imported only when a `VllmGenerator` is built.

    generator = VllmGenerator("Qwen/Qwen2-VL-2B-Instruct", dtype="bfloat16")
    answers = generator(images, prompts, max_new_tokens=64)  # list[str], in input order

API followed: vLLM's V1 offline `LLM` as on its main branch (`vllm/entrypoints/llm.py` at
10fdb8f0, `vllm/config/multimodal.py` at 55e847c0) and the v0.16 and v0.22 `LLM` docs; TRL 1.16's
`vllm` extra pins vllm>=0.22,<=0.31. Used: `LLM(model, *, dtype, seed, **engine_args)` with
`limit_mm_per_prompt={"image": 1}` (the plain-count form, still accepted);
`LLM.generate(prompts, sampling_params=...)`, outputs in input order, each prompt a
`{"prompt": text, "multi_modal_data": {"image": PIL.Image}}` dict; and
`SamplingParams(temperature=0.0, max_tokens=..., skip_special_tokens=True, repetition_penalty=...)`,
temperature 0 being greedy. transformers' greedy `generate` still applies the checkpoint's
`repetition_penalty` (generation_config.json), while vLLM ignores the checkpoint's defaults once
it is given SamplingParams, so the penalty is read from the checkpoint and passed on.

The model family (clsrl.models.families, from the checkpoint's `model_type`) is handled as in the
transformers path, within what vLLM offers: the family's image placeholder tokens get vLLM's
lowest logit bias (`SamplingParams(logit_bias=...)`, -100: vLLM clamps to [-100, 100], and it
has no `suppress_tokens`), and each answer is the reply after the family's reply separator.
Not handled: a template that starts with the tokenizer's bos (Gemma 3's). vLLM tokenizes a text
prompt with or without special tokens depending on its version and model, so such a prompt may
get a second bos there; the transformers backend is the one tested for Gemma 3.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from clsrl.evaluation.inference import user_message
from clsrl.io import looks_like_local_path
from clsrl.models.families import family_for, suppressed_token_ids
from clsrl.models.loading import AUTO, check_local_model

# The torch dtype names vLLM takes. Its "auto" follows the checkpoint's config dtype (float32
# checkpoints run in float16), not our `resolve_precision` rule: clsrl.evaluation.evaluate names the
# dtype.
VLLM_DTYPES = {AUTO: "auto", **{name: name for name in ("float32", "bfloat16", "float16")}}
INSTALL_HINT = (
    "evaluation.backend is 'vllm' but vllm is not installed: install it with `pip install vllm` "
    "(TRL 1.16's `trl[vllm]` extra wants vllm>=0.22,<=0.31), or set "
    "`evaluation.backend: transformers` in the config"
)
# The lowest logit bias vLLM accepts (it clamps to [-100, 100], as the OpenAI API): what stands in
# for transformers' `suppress_tokens`, which vLLM's sampling lacks.
SUPPRESSION_BIAS = -100.0


def suppression_bias(token_ids, logit_bias: dict | None = None) -> dict[int, float]:
    """vLLM's `logit_bias` that keeps `token_ids` from being sampled, beside any given bias.

    >>> suppression_bias([7, 3], {9: 2.0})
    {3: -100.0, 7: -100.0, 9: 2.0}
    """
    bias = {int(token): float(value) for token, value in (logit_bias or {}).items()}
    bias.update(dict.fromkeys(token_ids, SUPPRESSION_BIAS))
    return dict(sorted(bias.items()))


def vllm_dtype(dtype: str) -> str:
    """vLLM's name for one of our dtype names.

    >>> vllm_dtype("bfloat16"), vllm_dtype("auto")
    ('bfloat16', 'auto')
    """
    if dtype not in VLLM_DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; use one of {sorted(VLLM_DTYPES)}")
    return VLLM_DTYPES[dtype]


def checkpoint_repetition_penalty(model_name_or_path: str) -> float:
    """The repetition penalty of the checkpoint's generation config (1.0 when it has none)."""
    from transformers import GenerationConfig

    try:
        config = GenerationConfig.from_pretrained(model_name_or_path)
    except OSError:
        return 1.0
    return float(config.repetition_penalty or 1.0)


class VllmGenerator:
    """Greedy generation with vLLM's offline `LLM`, called like
    `clsrl.evaluation.inference.generate`.

    `llm_kwargs` go to `vllm.LLM` as they are (e.g. `max_model_len`, `gpu_memory_utilization`).
    """

    device = "cuda (vllm)"

    def __init__(self, model_name_or_path: str, dtype: str = AUTO, seed: int = 0, **llm_kwargs):
        try:
            import vllm
        except ImportError as error:
            raise ImportError(INSTALL_HINT) from error
        from transformers import AutoConfig, AutoProcessor

        if looks_like_local_path(model_name_or_path):
            check_local_model(model_name_or_path)
            model_name_or_path = str(Path(model_name_or_path).expanduser())
        self.dtype = vllm_dtype(dtype)
        self.repetition_penalty = checkpoint_repetition_penalty(model_name_or_path)
        config = AutoConfig.from_pretrained(model_name_or_path)
        self.family = family_for(config.model_type, model_name_or_path)
        self.processor = AutoProcessor.from_pretrained(model_name_or_path)
        self.suppressed = suppressed_token_ids(config, self.processor.tokenizer)
        self._sampling_params = vllm.SamplingParams
        self.llm = vllm.LLM(
            model=model_name_or_path,
            dtype=self.dtype,
            seed=seed,
            limit_mm_per_prompt={"image": 1},
            **llm_kwargs,
        )

    def chat_text(self, prompt: str) -> str:
        """The prompt as the transformers path renders it, ending with the assistant turn."""
        return self.processor.apply_chat_template(
            user_message(prompt), add_generation_prompt=True, tokenize=False
        )

    def __call__(
        self, images: Sequence[Image.Image], prompts: Sequence[str], max_new_tokens: int
    ) -> list[str]:
        """Greedy answers for (image, prompt) pairs, decoded without special tokens, each the
        reply after the family's reply separator."""
        if len(images) != len(prompts):
            raise ValueError(f"{len(images)} images for {len(prompts)} prompts")
        if not prompts:
            return []
        requests = [
            {"prompt": self.chat_text(prompt), "multi_modal_data": {"image": image}}
            for image, prompt in zip(images, prompts, strict=True)
        ]
        params = self._sampling_params(
            temperature=0.0,
            max_tokens=max_new_tokens,
            skip_special_tokens=True,
            repetition_penalty=self.repetition_penalty,
            logit_bias=suppression_bias(self.suppressed),
        )
        results = self.llm.generate(requests, sampling_params=params, use_tqdm=False)
        return [self.family.reply(request.outputs[0].text) for request in results]
