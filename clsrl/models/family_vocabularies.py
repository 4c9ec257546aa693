"""Each model family's tokenizer special tokens (`Vocabulary`) and its checkpoints' chat template,
verbatim: the data the tiny random builders (clsrl.models.tiny) give each family's tokenizer and
processor, so that a tiny build renders prompts exactly as the hub checkpoint would.

>>> GEMMA3_VOCABULARY.additional[:2]
['<eos>', '<mask>']
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Vocabulary:
    """A family's tokenizer: its special tokens (the first ids, in this order) and their roles."""

    special_tokens: tuple[str, ...]
    eos: str
    pad: str
    bos: str | None = None
    unk: str | None = None
    prepend_bos: bool = False  # the tokenizer itself puts bos first (Gemma's)
    # transformers' named extra special tokens, which the processor reads (Gemma's boi_token, ...)
    named: dict[str, str] = field(default_factory=dict)
    stop: tuple[str, ...] = ()  # generation also stops at these (Gemma: <end_of_turn>)

    @property
    def additional(self) -> list[str]:
        """The special tokens without a role of their own (`additional_special_tokens`)."""
        roles = {self.bos, self.pad, self.unk, *self.named.values()}
        return [token for token in self.special_tokens if token not in roles]


# Qwen2-VL, Qwen2.5-VL and Qwen3-VL (whose vocabularies also hold tool and think tokens, which
# nothing here uses): no bos, pad <|endoftext|>, eos <|im_end|>.
ENDOFTEXT = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
VISION_START = "<|vision_start|>"
VISION_END = "<|vision_end|>"
IMAGE_PAD = "<|image_pad|>"
VIDEO_PAD = "<|video_pad|>"
# Qwen's special tokens, given the first ids in this order.
SPECIAL_TOKENS = (ENDOFTEXT, IM_START, IM_END, VISION_START, VISION_END, IMAGE_PAD, VIDEO_PAD)
QWEN_VOCABULARY = Vocabulary(SPECIAL_TOKENS, eos=IM_END, pad=ENDOFTEXT)
# Qwen3-VL's generation_config.json stops at <|endoftext|> too (eos [<|im_end|>, <|endoftext|>]);
# the Qwen2-VL builds keep the one eos they always had.
QWEN3_VL_VOCABULARY = Vocabulary(SPECIAL_TOKENS, eos=IM_END, pad=ENDOFTEXT, stop=(ENDOFTEXT,))
# Gemma 3, in Gemma's order (pad 0, eos 1, bos 2, unk 3); the tokenizer prepends <bos>, the
# processor reads boi/eoi/image tokens by name; <end_of_turn> ends a reply (generation_config.json:
# eos [1, 106]).
BOI, EOI, IMAGE_SOFT = "<start_of_image>", "<end_of_image>", "<image_soft_token>"
GEMMA3_VOCABULARY = Vocabulary(
    ("<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<start_of_turn>", "<end_of_turn>")
    + (BOI, EOI, IMAGE_SOFT),
    eos="<eos>",
    pad="<pad>",
    bos="<bos>",
    unk="<unk>",
    prepend_bos=True,
    named={"boi_token": BOI, "eoi_token": EOI, "image_token": IMAGE_SOFT},
    stop=("<end_of_turn>",),
)
# Idefics3 / SmolVLM (HuggingFaceTB/SmolVLM-Instruct's tokenizer): bos <|im_start|> (written by
# the template), pad <|im_end|>, eos <end_of_utterance>, and the tokens its processor expands an
# image into: <fake_token_around_image>, <global-img>, <image>, and a <row_i_col_j> per tile.
IDEFICS3_VOCABULARY = Vocabulary(
    ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<fake_token_around_image>", "<image>")
    + ("<end_of_utterance>", "<global-img>")
    + tuple(f"<row_{i}_col_{j}>" for i in range(1, 7) for j in range(1, 7)),
    eos="<end_of_utterance>",
    pad="<|im_end|>",
    bos="<|im_start|>",
    unk="<|endoftext|>",
)
DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."

# Qwen/Qwen2-VL-2B-Instruct's chat template, verbatim.
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}"
    "{{ message['content'] }}<|im_end|>\n{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Qwen/Qwen3-VL-2B-Instruct's chat template (the Qwen3-VL Instruct checkpoints share it),
# verbatim: its sha256 is that of the template the Qwen3-VL-8B-Instruct GGUF files carry
# (tests/models/test_tiny_model.py checks it). No default system turn.
QWEN3_VL_CHAT_TEMPLATE = "\n".join(
    (
        "{%- if tools %}",
        "    {{- '<|im_start|>system\\n' }}",
        "    {%- if messages[0].role == 'system' %}",
        "        {%- if messages[0].content is string %}",
        "            {{- messages[0].content }}",
        "        {%- else %}",
        "            {%- for content in messages[0].content %}",
        "                {%- if 'text' in content %}",
        "                    {{- content.text }}",
        "                {%- endif %}",
        "            {%- endfor %}",
        "        {%- endif %}",
        "        {{- '\\n\\n' }}",
        "    {%- endif %}",
        (
            '    {{- "# Tools\\n\\nYou may call one or more functions to assist with the'
            " user query.\\n\\nYou are provided with function signatures within"
            ' <tools></tools> XML tags:\\n<tools>" }}'
        ),
        "    {%- for tool in tools %}",
        '        {{- "\\n" }}',
        "        {{- tool | tojson }}",
        "    {%- endfor %}",
        (
            '    {{- "\\n</tools>\\n\\nFor each function call, return a json object with'
            " function name and arguments within <tool_call></tool_call> XML"
            ' tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\":'
            ' <args-json-object>}\\n</tool_call><|im_end|>\\n" }}'
        ),
        "{%- else %}",
        "    {%- if messages[0].role == 'system' %}",
        "        {{- '<|im_start|>system\\n' }}",
        "        {%- if messages[0].content is string %}",
        "            {{- messages[0].content }}",
        "        {%- else %}",
        "            {%- for content in messages[0].content %}",
        "                {%- if 'text' in content %}",
        "                    {{- content.text }}",
        "                {%- endif %}",
        "            {%- endfor %}",
        "        {%- endif %}",
        "        {{- '<|im_end|>\\n' }}",
        "    {%- endif %}",
        "{%- endif %}",
        "{%- set image_count = namespace(value=0) %}",
        "{%- set video_count = namespace(value=0) %}",
        "{%- for message in messages %}",
        '    {%- if message.role == "user" %}',
        "        {{- '<|im_start|>' + message.role + '\\n' }}",
        "        {%- if message.content is string %}",
        "            {{- message.content }}",
        "        {%- else %}",
        "            {%- for content in message.content %}",
        (
            "                {%- if content.type == 'image' or 'image' in content or"
            " 'image_url' in content %}"
        ),
        "                    {%- set image_count.value = image_count.value + 1 %}",
        (
            "                    {%- if add_vision_id %}Picture {{ image_count.value"
            " }}: {% endif -%}"
        ),
        "                    <|vision_start|><|image_pad|><|vision_end|>",
        "                {%- elif content.type == 'video' or 'video' in content %}",
        "                    {%- set video_count.value = video_count.value + 1 %}",
        ("                    {%- if add_vision_id %}Video {{ video_count.value }}: {% endif -%}"),
        "                    <|vision_start|><|video_pad|><|vision_end|>",
        "                {%- elif 'text' in content %}",
        "                    {{- content.text }}",
        "                {%- endif %}",
        "            {%- endfor %}",
        "        {%- endif %}",
        "        {{- '<|im_end|>\\n' }}",
        '    {%- elif message.role == "assistant" %}',
        "        {{- '<|im_start|>' + message.role + '\\n' }}",
        "        {%- if message.content is string %}",
        "            {{- message.content }}",
        "        {%- else %}",
        "            {%- for content_item in message.content %}",
        "                {%- if 'text' in content_item %}",
        "                    {{- content_item.text }}",
        "                {%- endif %}",
        "            {%- endfor %}",
        "        {%- endif %}",
        "        {%- if message.tool_calls %}",
        "            {%- for tool_call in message.tool_calls %}",
        "                {%- if (loop.first and message.content) or (not loop.first) %}",
        "                    {{- '\\n' }}",
        "                {%- endif %}",
        "                {%- if tool_call.function %}",
        "                    {%- set tool_call = tool_call.function %}",
        "                {%- endif %}",
        '                {{- \'<tool_call>\\n{"name": "\' }}',
        "                {{- tool_call.name }}",
        '                {{- \'", "arguments": \' }}',
        "                {%- if tool_call.arguments is string %}",
        "                    {{- tool_call.arguments }}",
        "                {%- else %}",
        "                    {{- tool_call.arguments | tojson }}",
        "                {%- endif %}",
        "                {{- '}\\n</tool_call>' }}",
        "            {%- endfor %}",
        "        {%- endif %}",
        "        {{- '<|im_end|>\\n' }}",
        '    {%- elif message.role == "tool" %}',
        '        {%- if loop.first or (messages[loop.index0 - 1].role != "tool") %}',
        "            {{- '<|im_start|>user' }}",
        "        {%- endif %}",
        "        {{- '\\n<tool_response>\\n' }}",
        "        {%- if message.content is string %}",
        "            {{- message.content }}",
        "        {%- else %}",
        "            {%- for content in message.content %}",
        (
            "                {%- if content.type == 'image' or 'image' in content or"
            " 'image_url' in content %}"
        ),
        "                    {%- set image_count.value = image_count.value + 1 %}",
        (
            "                    {%- if add_vision_id %}Picture {{ image_count.value"
            " }}: {% endif -%}"
        ),
        "                    <|vision_start|><|image_pad|><|vision_end|>",
        "                {%- elif content.type == 'video' or 'video' in content %}",
        "                    {%- set video_count.value = video_count.value + 1 %}",
        ("                    {%- if add_vision_id %}Video {{ video_count.value }}: {% endif -%}"),
        "                    <|vision_start|><|video_pad|><|vision_end|>",
        "                {%- elif 'text' in content %}",
        "                    {{- content.text }}",
        "                {%- endif %}",
        "            {%- endfor %}",
        "        {%- endif %}",
        "        {{- '\\n</tool_response>' }}",
        '        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}',
        "            {{- '<|im_end|>\\n' }}",
        "        {%- endif %}",
        "    {%- endif %}",
        "{%- endfor %}",
        "{%- if add_generation_prompt %}",
        "    {{- '<|im_start|>assistant\\n' }}",
        "{%- endif %}",
        "",
    )
)

# google/gemma-3-4b-it's chat template (tokenizer_config.json; the Gemma 3 IT checkpoints share
# it), verbatim as published copies of that file quote it: <bos> first, a system message folded
# into the first user turn, the assistant's role written `model`, one <start_of_image> per image.
GEMMA3_CHAT_TEMPLATE = "\n".join(
    (
        "{{ bos_token }}",
        "{%- if messages[0]['role'] == 'system' -%}",
        "    {%- if messages[0]['content'] is string -%}",
        "        {%- set first_user_prefix = messages[0]['content'] + '",
        "",
        "' -%}",
        "    {%- else -%}",
        "        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '",
        "",
        "' -%}",
        "    {%- endif -%}",
        "    {%- set loop_messages = messages[1:] -%}",
        "{%- else -%}",
        '    {%- set first_user_prefix = "" -%}',
        "    {%- set loop_messages = messages -%}",
        "{%- endif -%}",
        "{%- for message in loop_messages -%}",
        "    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}",
        (
            '        {{ raise_exception("Conversation roles must alternate'
            ' user/assistant/user/assistant/...") }}'
        ),
        "    {%- endif -%}",
        "    {%- if (message['role'] == 'assistant') -%}",
        '        {%- set role = "model" -%}',
        "    {%- else -%}",
        "        {%- set role = message['role'] -%}",
        "    {%- endif -%}",
        "    {{ '<start_of_turn>' + role + '",
        '\' + (first_user_prefix if loop.first else "") }}',
        "    {%- if message['content'] is string -%}",
        "        {{ message['content'] | trim }}",
        "    {%- elif message['content'] is iterable -%}",
        "        {%- for item in message['content'] -%}",
        "            {%- if item['type'] == 'image' -%}",
        "                {{ '<start_of_image>' }}",
        "            {%- elif item['type'] == 'text' -%}",
        "                {{ item['text'] | trim }}",
        "            {%- endif -%}",
        "        {%- endfor -%}",
        "    {%- else -%}",
        '        {{ raise_exception("Invalid content type") }}',
        "    {%- endif -%}",
        "    {{ '<end_of_turn>",
        "' }}",
        "{%- endfor -%}",
        "{%- if add_generation_prompt -%}",
        "    {{'<start_of_turn>model",
        "'}}",
        "{%- endif -%}",
        "",
    )
)

# HuggingFaceTB/SmolVLM-Instruct's chat template (chat_template.json; also transformers' Idefics3
# processor tests), verbatim: `User:` and `Assistant:` turns ended by <end_of_utterance>, and no
# space after the role when the turn starts with an image. HuggingFaceM4/Idefics3-8B-Llama3's
# differs only in its first token (<|begin_of_text|>).
IDEFICS3_CHAT_TEMPLATE = (
    "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}"
    "{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}"
    "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}"
    "<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)
