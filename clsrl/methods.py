"""The methods a study can run, as data: trainer, prompt style, rewards and TRL hyperparameters.

Built-in methods are `zero-shot`, `sft`, `cls-rl` and `no-thinking`; a config adds variants with
`method_variants`, no code. For example (config.yaml):

    method_variants:
      cls-rl-drgrpo: {extends: cls-rl, trl: {loss_type: dr_grpo}}
      no-thinking-8: {extends: no-thinking, trl: {num_generations: 8}}
      no-thinking-lora: {extends: no-thinking, lora: true}
      think-after-answer:
        extends: cls-rl
        prompt_style: think-after-answer
        rewards: [answer_then_reason_format, thinking_accuracy]

>>> METHODS["no-thinking"].rewards
('no_thinking_accuracy',)
>>> resolve_methods({"x": {"extends": "cls-rl", "trl": {"beta": 0.0}}})["x"].trl["beta"]
0.0
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

TRAINERS = ("grpo", "sft")

# The paper's GRPO settings (protocol section 6) in TRL 1.16's names. TRL's own defaults differ
# (dapo loss, beta 0, 8 generations), so every one is set explicitly.
PAPER_GRPO = {
    "loss_type": "grpo",
    "beta": 0.04,
    "num_generations": 4,
    "temperature": 1.0,
    "top_k": 50,
    "top_p": 1.0,
    "learning_rate": 1e-6,
    "lr_scheduler_type": "linear",
    "warmup_steps": 0,
    "weight_decay": 0.0,
    "scale_rewards": "group",
    "num_iterations": 1,
    "max_completion_length": 1024,
}

# SFT: the paper published no hyperparameters. Ours: 10x the RL learning rate (SFT updates on one
# target token sequence, not on sampled ones), otherwise the RL schedule; loss on the answer only.
PAPER_SFT = {
    "learning_rate": 1e-5,
    "lr_scheduler_type": "linear",
    "warmup_steps": 0,
    "weight_decay": 0.0,
    "completion_only_loss": True,
    "max_length": None,  # never truncate a prompt with image tokens
}

TRAINER_PRESETS = {"grpo": PAPER_GRPO, "sft": PAPER_SFT}


@dataclass(frozen=True)
class MethodSpec:
    """A method: its trainer (None = no training), prompt style, rewards and TRL settings.

    `trl` holds the method's own settings on top of its trainer's preset. A method without a
    trainer is evaluated with every style in `evaluation.zero_shot_styles`.
    """

    name: str
    trainer: str | None
    prompt_style: str | None
    rewards: tuple[str, ...] = ()
    trl: dict = field(default_factory=dict)
    description: str = ""
    lora: bool | None = None  # None: as training.lora.enabled says


METHODS: dict[str, MethodSpec] = {
    spec.name: spec
    for spec in (
        MethodSpec(
            name="zero-shot",
            trainer=None,
            prompt_style=None,
            description="The base model as it is, asked in each zero-shot prompt style.",
        ),
        MethodSpec(
            name="sft",
            trainer="sft",
            prompt_style="no-thinking",
            description="Supervised fine-tuning on the class name (loss on the answer tokens).",
        ),
        MethodSpec(
            name="cls-rl",
            trainer="grpo",
            prompt_style="thinking",
            rewards=("thinking_format", "thinking_accuracy"),
            description="GRPO with format + accuracy rewards on <think>/<answer> outputs.",
        ),
        MethodSpec(
            name="no-thinking",
            trainer="grpo",
            prompt_style="no-thinking",
            rewards=("no_thinking_accuracy",),
            description="GRPO with a strict equality reward on a direct answer.",
        ),
    )
}


def resolve_methods(variants: dict | None = None) -> dict[str, MethodSpec]:
    """Built-in methods plus the config's variants; a variant extends a built-in method or another
    variant, in whatever order the config lists them.

    A variant's `trl` settings are merged over its parent's; other keys replace the parent's.

    >>> resolve_methods({"b": {"extends": "a"}, "a": {"extends": "sft"}})["b"].trainer
    'sft'
    """
    variants = dict(variants or {})
    methods = dict(METHODS)
    while variants:
        ready = [name for name, v in variants.items() if v["extends"] in methods]
        if not ready:
            name = next(iter(variants))
            parent = variants[name]["extends"]
            problem = "a cycle of variants" if parent in variants else "unknown method"
            raise ValueError(
                f"config key 'method_variants.{name}.extends': {problem} {parent!r}; use one of "
                f"{', '.join(methods)} or another variant"
            )
        for name in ready:
            variant = variants.pop(name)
            parent = methods[variant["extends"]]
            changes = {k: v for k, v in variant.items() if k not in ("extends", "trl")}
            if "rewards" in changes:
                changes["rewards"] = tuple(changes["rewards"])
            methods[name] = replace(
                parent, name=name, trl={**parent.trl, **variant.get("trl", {})}, **changes
            )
    return methods
