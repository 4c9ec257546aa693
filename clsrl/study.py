"""The study a validated config describes, said in a few lines at the start of every run.

The Snakefile prints `config_sources` and `study_summary` before any job, so a run's log shows which
config files are in force and the settings that matter most (what the paper's preset would be,
or the demo's toy scale):

>>> from clsrl.config import validate_config
>>> print(config_sources(["my.yaml"]))  # doctest: +NORMALIZE_WHITESPACE
config: my.yaml (replaces config.yaml: every key it leaves out takes the schema's default,
the paper's)
>>> config = validate_config({"datasets": ["EuroSAT"], "methods": ["zero-shot", "cls-rl"]})
>>> print(study_summary(config))  # doctest: +NORMALIZE_WHITESPACE
study: 1 dataset(s) (EuroSAT); methods zero-shot, cls-rl; settings fewshot, base2new; 4 shots,
seeds 1, 2, 3; base model Qwen/Qwen2-VL-2B-Instruct; images 384 px; GRPO lr 1e-06 (linear), 1024
completion tokens, 64 completions per step; SFT lr 1e-05; epochs: default 50, EuroSAT 100,
ImageNet 10, SUN397 25
"""

from __future__ import annotations

from clsrl.methods import TRAINER_PRESETS

DEMO_CONFIG = "config.yaml"


def config_sources(configfiles: list[str]) -> str:
    """Which config files are in force: the command line's replace config.yaml."""
    if not configfiles:
        return f"config: {DEMO_CONFIG} (the embedded demo; --configfile FILE replaces it)"
    return (
        f"config: {', '.join(configfiles)} (replaces {DEMO_CONFIG}: every key it leaves out takes "
        "the schema's default, the paper's)"
    )


def study_summary(config: dict) -> str:
    """One line with the study's datasets, methods and the settings that shape training."""
    training = config["training"]
    grpo = {**TRAINER_PRESETS["grpo"], **training["trl"].get("grpo", {})}
    sft = {**TRAINER_PRESETS["sft"], **training["trl"].get("sft", {})}
    others = sorted(name for name in training["epochs"] if name != "default")
    epochs = ", ".join(f"{name} {training['epochs'][name]:g}" for name in ["default", *others])
    datasets = config["datasets"]
    return (
        f"study: {len(datasets)} dataset(s) ({', '.join(datasets)}); methods "
        f"{', '.join(config['methods'])}; settings {', '.join(config['settings'])}; "
        f"{', '.join(map(str, training['shots']))} shots, seeds "
        f"{', '.join(map(str, training['seeds']))}; base model {config['base_model']}; images "
        f"{config['images']['resize']} px; GRPO lr {grpo['learning_rate']:g} "
        f"({grpo['lr_scheduler_type']}), {grpo['max_completion_length']} completion tokens, "
        f"{training['grpo_completions_per_step']} completions per step; SFT lr "
        f"{sft['learning_rate']:g}; epochs: {epochs}"
    )
