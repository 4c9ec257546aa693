"""The study a validated config describes: resolved once, then asked by every rule.

`rules/common.smk` builds `Study(config)` once. Rules and scripts get from it, through named input
functions, exactly what shapes each job's output (plain values, which Snakemake compares to decide
what reruns) and the runtime settings that never rerun anything (`TrainingRuntime`,
`EvaluationRuntime`: objects, which Snakemake leaves out of that comparison). No default lives here:
the validated config holds every key, with the schema's defaults.

>>> from clsrl.config import validate_config
>>> study = Study(validate_config({"datasets": ["EuroSAT"], "methods": ["zero-shot", "sft"]}))
>>> study.train_views
[View(dataset='EuroSAT', half=None), View(dataset='EuroSAT', half='base')]
>>> study.eval_targets(View.parse("EuroSAT.base"))
['EuroSAT.base', 'EuroSAT.new']
>>> study.base_models
{'Qwen2-VL-2B-Instruct': 'Qwen/Qwen2-VL-2B-Instruct'}
>>> study.training_spec("sft", "EuroSAT.base", 4, 1, model="Qwen2-VL-2B-Instruct").base_model
'Qwen/Qwen2-VL-2B-Instruct'
>>> study.training_spec("sft", "EuroSAT.base", 4, 1).trl["num_train_epochs"]  # the only model
100
>>> print(config_sources(["my.yaml"]))  # doctest: +NORMALIZE_WHITESPACE
config: my.yaml (replaces config.yaml: every key it leaves out takes the schema's default,
the paper's)
>>> print(study.summary())  # doctest: +NORMALIZE_WHITESPACE
study: 1 dataset(s) (EuroSAT); methods zero-shot, sft; settings fewshot, base2new; 4 shots,
seeds 1, 2, 3; base model Qwen/Qwen2-VL-2B-Instruct; protocol paper; images 384 px; GRPO lr
1e-06 (linear), 1024 completion tokens, 64 completions per step; SFT lr 1e-05; epochs: default
50, EuroSAT 100, ImageNet 10, SUN397 25
"""

from __future__ import annotations

from dataclasses import asdict
from functools import cached_property

from clsrl.compute.resources import eval_resources
from clsrl.compute.sizing import base_sizes, memory_problems
from clsrl.config import ConfigError, protocol_in_force, validate_config
from clsrl.datasets.source_checks import (
    resolve_relative_sources,
    source_problems,
    unused_custom_datasets,
)
from clsrl.evaluation.runtime import EvaluationRuntime, evaluation_runtime
from clsrl.methods import TRAINER_PRESETS, MethodSpec, resolve_methods
from clsrl.models.base_models import BUILTIN_PREFIX, base_models, is_builtin_model
from clsrl.prompts import wording_in_effect
from clsrl.questions import option_params
from clsrl.toy.settings import shipped_digest, shipped_settings, tiny_model_params, toy_settings
from clsrl.training.runtime import TrainingRuntime, training_runtime
from clsrl.training.spec import TrainingSpec, training_spec
from clsrl.views import HALVES, View

DEMO_CONFIG = "config.yaml"

# Where every output lives; rules write these patterns, never their own copies. `{model}` is a
# base model's label (clsrl.models.base_models): each base model's jobs write under their own
# folders.
BASE_MODEL = "results/base_model/{name}"
PREPARED = "data/prepared/{dataset}"
QUESTIONS = "results/questions/{view}/test.jsonl"
SPLIT = "results/splits/{view}/{shots}shot/seed{seed}/train.jsonl"
MODEL = "results/models/{model}/{method}/{view}/{shots}shot/seed{seed}"
CHECKPOINTS = "results/checkpoints/{model}/{method}/{view}/{shots}shot/seed{seed}"
EVAL_ZERO_SHOT = "results/eval/{model}/zero-shot/{style}/{target}"
EVAL_TRAINED = "results/eval/{model}/{method}/{view}/{shots}shot/seed{seed}/{target}"
ZERO_SHOT_RUN = "{model}/zero-shot/{style}/{target}"  # logs and benchmarks of a zero-shot job
TRAINED_RUN = "{model}/{method}/{view}/{shots}shot/seed{seed}"  # ... and of a training job
TRACKING = f"results/tracking/{TRAINED_RUN}"  # a training job's TensorBoard event files


class Study:
    """The study of a validated config (clsrl.config.validate_config)."""

    def __init__(self, config: dict):
        self.config = config
        self.datasets: list[str] = list(config["datasets"])
        self.targets: list[str] = list(config["evaluation"]["targets"]) or self.datasets
        self.all_datasets = list(dict.fromkeys(self.datasets + self.targets))
        self.settings: list[str] = list(config["settings"])
        self.zero_shot_styles: list[str] = list(config["evaluation"]["zero_shot_styles"])
        self.shots: list[int] = list(config["training"]["shots"])
        self.seeds: list[int] = list(config["training"]["seeds"])

    # --- what is studied -------------------------------------------------------------------

    @cached_property
    def methods(self) -> dict[str, MethodSpec]:
        """Every method the config can name: built-in ones and its variants, resolved once."""
        return resolve_methods(self.config["method_variants"])

    @cached_property
    def trained_methods(self) -> list[str]:
        """The study's methods that train a model."""
        return [name for name in self.config["methods"] if self.methods[name].trainer]

    def method_style(self, method: str) -> str:
        """The prompt style a trained method trains and is evaluated with."""
        return self.methods[method].prompt_style

    @cached_property
    def train_views(self) -> list[View]:
        """What models are trained on: each dataset (few-shot), its base half (base-to-new)."""
        views = [View(d) for d in self.datasets] if "fewshot" in self.settings else []
        if "base2new" in self.settings:
            views += [View(d, "base") for d in self.datasets]
        return views

    def eval_targets(self, train_view: View) -> list[str]:
        """What a model trained on a view is evaluated on: every target (few-shot), or the base
        and new halves of its own dataset (base-to-new)."""
        if train_view.half is None:
            return list(self.targets)
        return [View(train_view.dataset, half).name for half in HALVES]

    def zero_shot_targets(self) -> list[str]:
        """Every view the base model is evaluated on."""
        targets = list(self.targets) if "fewshot" in self.settings else []
        for view in self.train_views:
            if view.half:
                targets += self.eval_targets(view)
        return targets

    def trained_runs(self) -> list[dict]:
        """The wildcards of every training job."""
        return [
            {"model": model, "method": method, "view": view.name, "shots": shots, "seed": seed}
            for model in self.base_models
            for method in self.trained_methods
            for view in self.train_views
            for shots in self.shots
            for seed in self.seeds
        ]

    def trained_models(self) -> list[str]:
        return [MODEL.format(**run) for run in self.trained_runs()]

    def trained_metrics(self) -> list[str]:
        return [
            EVAL_TRAINED.format(**run, target=target) + "/metrics.json"
            for run in self.trained_runs()
            for target in self.eval_targets(View.parse(run["view"]))
        ]

    def zero_shot_metrics(self) -> list[str]:
        return [
            EVAL_ZERO_SHOT.format(model=model, style=style, target=target) + "/metrics.json"
            for model in self.base_models
            for style in self.zero_shot_styles
            for target in self.zero_shot_targets()
        ]

    # --- the base model ------------------------------------------------------------------------

    @cached_property
    def base_models(self) -> dict[str, str]:
        """Label -> model of every base model of the study (clsrl.models.base_models), in config
        order."""
        return base_models(self.config["base_model"])

    def base_model(self, label: str | None = None) -> str:
        """The model (hub id, folder or builtin:NAME) of a base model's label; the study's only
        base model when `label` is None."""
        if label is None:
            if len(self.base_models) > 1:
                raise ValueError(f"several base models ({', '.join(self.base_models)}): name one")
            (label,) = self.base_models
        return self.base_models[label]

    @property
    def protocol(self) -> str:
        """paper, reference-code or mixed: which protocol the config's rules are
        (clsrl.config.protocol_in_force); the tables say it."""
        return protocol_in_force(self.config)

    def base_model_folder(self, label: str) -> list[str]:
        """The folder a rule builds for a built-in model (a job input), else nothing."""
        model = self.base_model(label)
        if is_builtin_model(model):
            return [BASE_MODEL.format(name=model.removeprefix(BUILTIN_PREFIX))]
        return []

    def tiny_model_params(self) -> dict:
        """clsrl.models.tiny.build_tiny_model's settings of builtin:tiny-qwen2-vl."""
        return tiny_model_params(self.config)

    def tiny_build_params(self, shape: str) -> dict:
        """The settings of a tiny build of a clsrl.models.tiny shape: tiny_model's for the `tiny`
        shape (builtin:tiny-qwen2-vl, which the toy model starts from); the other families' builds
        take their shape's own image size (Qwen3-VL's 16 px patches need other pixel counts)."""
        if shape == "tiny":
            return self.tiny_model_params()
        return {"seed": self.config["tiny_model"]["seed"], "image_pixels": None}

    def toy_model_params(self) -> dict:
        """clsrl.toy.settings.ToySettings fields (the job's threads are its rule's `threads`)."""
        return asdict(toy_settings(self.config))

    def toy_model_source(self) -> str:
        """`shipped` when the config asks for the toy model the package ships (its toy and tiny
        settings are the shipped one's), else `built`: pre-trained by the workflow."""
        wanted = {"toy": self.toy_model_params(), "tiny": self.tiny_model_params()}
        return "shipped" if wanted == self._shipped_settings else "built"

    @cached_property
    def _shipped_settings(self) -> dict | None:
        """The shipped toy model's settings, read once."""
        return shipped_settings()

    def shipped_toy_model(self) -> str | None:
        """The shipped toy model's checksum digest when the study copies it, else None."""
        return shipped_digest() if self.toy_model_source() == "shipped" else None

    # --- data, questions and splits --------------------------------------------------------------

    def demo_params(self) -> dict:
        demo = self.config["demo_data"]
        return {
            "seed": demo["seed"],
            "image_size": demo["image_size"],
            "per_class": demo["per_class"],
        }

    def option_params(self, view: View) -> dict:
        """clsrl.questions.OptionSettings fields but the seed (clsrl.questions.option_params)."""
        return option_params(self.config, view)

    @property
    def test_seed(self) -> int:
        return self.config["options"]["test_seed"]

    # --- training --------------------------------------------------------------------------

    def training_spec(
        self, method: str, view: str, shots: int, seed: int, model: str | None = None
    ) -> TrainingSpec:
        """What one training job trains (clsrl.training.spec); its mapping is the job's only
        output-shaping param. `model` is a base model's label (may be left out when the study
        has one)."""
        config = {**self.config, "base_model": self.base_model(model)}
        return training_spec(config, method, view, shots, seed, methods=self.methods)

    def training_runtime(self) -> TrainingRuntime:
        return training_runtime(self.config)

    # --- evaluation ------------------------------------------------------------------------

    def eval_settings(self, style: str, target: View) -> dict:
        """clsrl.evaluation.evaluate.EvalSettings fields: what shapes an evaluation's answers."""
        evaluation = self.config["evaluation"]
        base = target.half == "base"
        settings = {
            "style": style,
            "wording": wording_in_effect(style, evaluation["wording"], base=base),
            "max_new_tokens": evaluation["max_new_tokens"],
            "image_resize": self.config["images"]["resize"],
            "base_classes": base,  # the reference code words these apart
        }
        if evaluation["empty_answer"] != "paper":  # absent under the paper's rule, the rule
            settings["empty_answer"] = evaluation["empty_answer"]  # of evaluations made before
        return settings

    def eval_record(
        self, model: str, method: str, style: str, target: View, trained: dict | None = None
    ) -> dict:
        """The identity of an evaluation, with its facts as fields (stored in metrics.json);
        `model` is a base model's label."""
        view = View.parse(trained["view"]) if trained else None
        return {
            "model": model,
            "base_model": self.base_model(model),
            "method": method,
            "train_dataset": view.name if view else None,
            "train_base": view.dataset if view else None,
            "train_half": view.half if view else None,
            "shots": int(trained["shots"]) if trained else 0,
            "seed": int(trained["seed"]) if trained else None,
            "style": style,
            "target": target.name,
            "target_dataset": target.dataset,
            "target_half": target.half,
        }

    def evaluation_runtime(self) -> EvaluationRuntime:
        return evaluation_runtime(self.config)

    def eval_resources(
        self, style: str, target: str, attempt: int = 1, model: str | None = None
    ) -> dict:
        """GPUs, memory and runtime of one evaluation job (clsrl.compute.resources); `model` is a
        base model's label."""
        base_model = self.base_model(model)
        return eval_resources(self.config, style, target, attempt, base_model=base_model)

    # --- how jobs run: threads, devices, data handling (plain values for the rules) ------------

    @property
    def data_settings(self) -> dict:
        """The `data` section: the download cache, retries, local copies, image checks."""
        return self.config["data"]

    @property
    def custom_datasets(self) -> dict:
        """Name -> source settings of every custom dataset (config custom_datasets)."""
        return self.config["custom_datasets"]

    @property
    def method_variants(self) -> dict:
        return self.config["method_variants"]

    @property
    def allow_fewer_shots(self) -> bool:
        return self.config["training"]["allow_fewer_shots"]

    def threads(self, stage: str) -> int:
        """A job's threads: `data`, `evaluation` or `toy_model`'s own; a training job's times
        its GPUs (one process per GPU).

        >>> from clsrl.config import validate_config
        >>> Study(validate_config({"training": {"threads": 4, "gpus": 2}})).threads("training")
        8
        """
        threads = self.config[stage]["threads"]
        return threads * self.config["training"]["gpus"] if stage == "training" else threads

    @property
    def eval_device(self) -> str:
        return self.config["evaluation"]["device"]

    @property
    def eval_precision(self) -> str:
        """The evaluation's precision (it shapes the answers: a param of every evaluation)."""
        return self.config["evaluation"]["precision"]

    # --- what the run says first ----------------------------------------------------------------

    def summary(self) -> str:
        """One line with the study's datasets, methods and the settings that shape training."""
        config = self.config
        training = config["training"]
        grpo = {**TRAINER_PRESETS["grpo"], **training["trl"].get("grpo", {})}
        sft = {**TRAINER_PRESETS["sft"], **training["trl"].get("sft", {})}
        others = sorted(name for name in training["epochs"] if name != "default")
        epochs = ", ".join(f"{name} {training['epochs'][name]:g}" for name in ["default", *others])
        return (
            f"study: {len(self.datasets)} dataset(s) ({', '.join(self.datasets)}); methods "
            f"{', '.join(config['methods'])}; settings {', '.join(self.settings)}; "
            f"{', '.join(map(str, self.shots))} shots, seeds {', '.join(map(str, self.seeds))}; "
            f"base model{'s' if len(self.base_models) > 1 else ''} "
            f"{', '.join(self.base_models.values())}; protocol {self.protocol}; images "
            f"{config['images']['resize']} px; GRPO lr "
            f"{grpo['learning_rate']:g} ({grpo['lr_scheduler_type']}), "
            f"{grpo['max_completion_length']} completion tokens, "
            f"{training['grpo_completions_per_step']} completions per step; SFT lr "
            f"{sft['learning_rate']:g}; epochs: {epochs}"
        )


def config_sources(configfiles: list[str]) -> str:
    """Which config files are in force: the command line's replace config.yaml."""
    if not configfiles:
        return f"config: {DEMO_CONFIG} (the embedded demo; --configfile FILE replaces it)"
    return (
        f"config: {', '.join(configfiles)} (replaces {DEMO_CONFIG}: every key it leaves out takes "
        "the schema's default, the paper's)"
    )


def plan_study(config: dict, config_files: list[str] = (), listings: bool = True) -> tuple:
    """Everything the workflow checks before any job (rules/common.smk calls this): validate
    `config` in place (schema defaults filled, TRL values checked), resolve relative sources
    against their config file's folder, check the custom datasets' sources (with `listings`, in
    the run's main process: their classes, splits and shots, and each base model's GPU memory
    against config key gpu_mem_gb, clsrl.compute.sizing) and describe the study. Return (study,
    warnings); raise clsrl.config.ConfigError, whose message names each key, file or class and
    its fix.

    >>> study, warnings = plan_study({"datasets": ["EuroSAT"], "methods": ["zero-shot"]})
    >>> study.datasets, warnings
    (['EuroSAT'], [])
    """
    warnings: list[str] = []
    config.update(validate_config(config, warnings))
    warnings += resolve_relative_sources(config, list(config_files))
    warnings += unused_custom_datasets(config)
    problems = source_problems(config, listings)
    if problems:
        raise ConfigError("\n".join(problems))
    study = Study(config)
    study.summary()  # every value it formats is checked: it must not fail at the first job
    if listings:  # the main process: each base model's size against the cards (gpu_mem_gb)
        sizes, size_warnings = base_sizes(study)
        problems, memory_warnings = memory_problems(study, sizes)
        if problems:
            raise ConfigError("\n".join(problems))
        warnings += size_warnings + memory_warnings
    return study, warnings
