"""What each job asks a scheduler for: GPUs, host memory (MB) and runtime (minutes).

The rules' `resources:` call these (rules/resources.smk) so a SLURM job, a workstation job and a
dry run all see the same numbers; site settings (partition, account) stay in the profiles. Memory
and runtime grow with Snakemake's `attempt`: a job killed for either is retried with more.

Runtimes are estimates from the paper's own timings (protocol section 8: ImageNet, 4 shots,
10 epochs, 8 A100: SFT 35 min, CLS-RL 1587 min, No-Thinking 94 min; inference 20-30 min for the
50,000 test images), as GPU-seconds per training item and epoch and per evaluated item, times a
safety margin, plus a fixed start-up. They are requests, not measurements: tune the constants
below after the first real jobs (`benchmarks/` records each job's time).

>>> from clsrl.config import validate_config
>>> paper = validate_config({"datasets": ["ImageNet"], "methods": ["cls-rl"],
...                          "training": {"gpus": 8}})
>>> train_resources(paper, "cls-rl", "ImageNet", shots=4)
{'gpu': 8, 'mem_mb': 128000, 'runtime': 2392}
>>> eval_resources(paper, "thinking", "ImageNet")
{'gpu': 1, 'mem_mb': 8000, 'runtime': 373}
>>> train_resources(paper, "cls-rl", "ImageNet", shots=4, attempt=2)["mem_mb"]
256000
"""

from __future__ import annotations

import math

from clsrl.config import is_tiny_builtin_model
from clsrl.datasets.benchmarks import BENCHMARKS
from clsrl.datasets.demo import DEMO_DATASETS
from clsrl.fewshot import parse_view, view_classes
from clsrl.methods import resolve_methods
from clsrl.training_spec import epochs_for

# GPU-seconds per training item per epoch on an A100, from the paper's ImageNet timings
# (4,000 items x 10 epochs on 8 GPUs): SFT 35 min, GRPO with thinking 1587 min, without 94 min.
TRAIN_GPU_SECONDS = {"sft": 0.42, "grpo-thinking": 19.05, "grpo": 1.13}
# GPU-seconds per evaluated item (ImageNet's 50,000 test items on 8 GPUs in 20-30 min).
EVAL_GPU_SECONDS = {"thinking": 0.29, "direct": 0.25}
PAPER_GENERATIONS = 4  # GRPO completions per prompt the rates above were measured with
SAFETY = 1.5  # slower GPUs, longer answers, a busy file system
STARTUP_MINUTES = 10  # imports, loading the model and the dataset
# Host memory per process (MB): a 2B model's weights, the processor and the data loaders.
MEM_MB = {"train": 16000, "evaluate": 8000, "prepare": 8000}
TINY_MEM_MB = 2000  # the built-in tiny and toy models (the demo and tests)

# CoOp's test split sizes (Zhou et al., CoOp Table 5), for runtime estimates only.
BENCHMARK_TEST_ITEMS = {
    "ImageNet": 50000,
    "Caltech101": 2465,
    "DescribableTextures": 1692,
    "EuroSAT": 8100,
    "Food101": 30300,
    "OxfordFlowers": 2463,
    "OxfordPets": 3669,
    "StanfordCars": 8041,
    "SUN397": 19850,
    "UCF101": 3783,
    "FGVCAircraft": 3333,
}
DIRECT_STYLE = "no-thinking"  # the one prompt style that answers without reasoning first
UNKNOWN_CLASSES = 100  # a custom dataset, whose size is unknown before it is prepared
UNKNOWN_TEST_ITEMS = 10000


def grown(value: int, attempt: int) -> int:
    """`value` for the first attempt, twice it for the second, and so on.

    >>> [grown(1000, attempt) for attempt in (1, 2, 3)]
    [1000, 2000, 3000]
    """
    if attempt < 1:
        raise ValueError(f"attempt must be 1 or more, got {attempt}")
    return value * attempt


def num_classes(config: dict, view: str) -> int:
    """Classes of a dataset, or of a view of it (`EuroSAT.base`: its base half).

    >>> [num_classes({}, view) for view in ("ImageNet", "ImageNet.base", "demo-colours")]
    [1000, 500, 7]
    """
    name, half = parse_view(view)
    if name in BENCHMARKS:
        classes = BENCHMARKS[name].classes
    elif name in DEMO_DATASETS:
        classes = len(DEMO_DATASETS[name].classnames)
    else:
        classes = UNKNOWN_CLASSES
    return classes if half is None else len(view_classes(classes, half))


def eval_items(config: dict, view: str) -> int:
    """Test items of a dataset or view: CoOp's split sizes, the demo's count, else a guess.

    >>> demo = {"demo_data": {"per_class": {"test": 3}}}
    >>> [eval_items(demo, view) for view in ("demo-colours", "EuroSAT", "EuroSAT.new")]
    [21, 8100, 4050]
    """
    name = parse_view(view)[0]
    if name in BENCHMARK_TEST_ITEMS:
        items = BENCHMARK_TEST_ITEMS[name]
    elif name in DEMO_DATASETS:
        items = num_classes(config, name) * config["demo_data"]["per_class"].get("test", 0)
    else:
        items = UNKNOWN_TEST_ITEMS
    return math.ceil(items * num_classes(config, view) / num_classes(config, name))


def minutes(gpu_seconds: float, gpus: int, attempt: int) -> int:
    """Wall-clock minutes to request for `gpu_seconds` of work spread over `gpus` GPUs.

    >>> minutes(0, 1, 1), minutes(600, 1, 1), minutes(600, 2, 2)
    (10, 25, 36)
    """
    return grown(math.ceil(STARTUP_MINUTES + SAFETY * gpu_seconds / max(gpus, 1) / 60), attempt)


def host_mem_mb(config: dict, kind: str, processes: int, attempt: int) -> int:
    """Host memory of a job with `processes` model processes; small for the built-in tiny model."""
    per_process = TINY_MEM_MB if is_tiny_builtin_model(config["base_model"]) else MEM_MB[kind]
    return grown(per_process * max(processes, 1), attempt)


def train_resources(config: dict, method: str, view: str, shots: int, attempt: int = 1) -> dict:
    """GPUs, memory and runtime of one training job (rule train)."""
    spec = resolve_methods(config["method_variants"])[method]
    training = config["training"]
    gpus = training["gpus"]
    items_epochs = shots * num_classes(config, view) * epochs_for(training, view)
    if spec.trainer == "grpo":
        generations = {**training["trl"].get("grpo", {}), **spec.trl}.get(
            "num_generations", PAPER_GENERATIONS
        )
        prompts_per_step = training["grpo_completions_per_step"] / generations
        rate = TRAIN_GPU_SECONDS["grpo" if spec.prompt_style == DIRECT_STYLE else "grpo-thinking"]
        rate *= generations / PAPER_GENERATIONS
    else:
        prompts_per_step = training["sft_examples_per_step"]
        rate = TRAIN_GPU_SECONDS["sft"]
    if training["max_steps"] > 0:
        items_epochs = min(items_epochs, training["max_steps"] * prompts_per_step)
    return {
        "gpu": gpus,
        "mem_mb": host_mem_mb(config, "train", gpus, attempt),
        "runtime": minutes(rate * items_epochs, gpus, attempt),
    }


def eval_resources(config: dict, style: str, target: str, attempt: int = 1) -> dict:
    """GPUs, memory and runtime of one evaluation job (one model, one prompt style, one target)."""
    gpus = 0 if config["evaluation"]["device"] == "cpu" else 1
    rate = EVAL_GPU_SECONDS["direct" if style == DIRECT_STYLE else "thinking"]
    return {
        "gpu": gpus,
        "mem_mb": host_mem_mb(config, "evaluate", 1, attempt),
        "runtime": minutes(rate * eval_items(config, target), 1, attempt),
    }


def prepare_resources(config: dict, attempt: int = 1) -> dict:
    """Memory and runtime of a CPU job that decodes a whole dataset (prepare_*_dataset)."""
    return {"gpu": 0, "mem_mb": grown(MEM_MB["prepare"], attempt), "runtime": grown(120, attempt)}
