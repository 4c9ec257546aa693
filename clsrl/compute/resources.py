"""What each job asks a scheduler for: GPUs, host memory (MB) and runtime (minutes).

The rules' `resources:` call these (rules/resources.smk) so a SLURM job, a workstation job and a
dry run all see the same numbers; site settings (partition, account) stay in the profiles. Memory
and runtime grow with Snakemake's `attempt`: a job killed for either is retried with more.

Runtimes come from a cost model (`CostModel`): GPU-seconds per GRPO completion, per SFT example and
per evaluated image on ONE GPU, and the share of a GRPO step spent generating. Two exist:

- **measured**: `clsrl/gpu_costs.json`, written by `bench/gpu_check.py --write-costs` on a GPU
  (builtin:qwen2-vl-2b-random in bf16; the file names the card, date and commit). Used when present.
- **fallback**: derived from the paper's ImageNet timings on 8 A100 (protocol section 8; 2,500
  optimizer steps of 64 completions): CLS-RL 1587 min, No-Thinking 94 min, SFT 35 min; inference
  30 (thinking) and 26 (direct) min for 50,000 images. Turning an 8-GPU step into a one-GPU one
  needs the generating share, which the paper does not give: CLS-RL's is taken as 0.9 (its long
  completions), No-Thinking's as 0.25; both are assumptions, labelled as such.

The GPU count enters the model: a GRPO step on G GPUs takes
`one-GPU step x (generating share + (1 - share) / G)`, since decoding a step's completions takes
about as long on one GPU as spread over G (it is bound by memory bandwidth, not by the batch),
while the training passes split over the GPUs. SFT and evaluation split evenly. A request is that
wall time x a safety margin, plus a fixed start-up.

Both cost models are figures of Qwen2-VL-2B-Instruct. Another base model's work is scaled from
them by its size, read from its architecture (clsrl.models.size): GPU-seconds by parameters x
sequence tokens (a step's FLOPs), host memory by parameters. A tiny built-in model asks the floors.

>>> from clsrl.config import validate_config
>>> from clsrl.training.spec import training_spec
>>> paper = validate_config({"datasets": ["ImageNet"], "methods": ["cls-rl"]})
>>> spec = training_spec(paper, "cls-rl", "ImageNet", shots=4, seed=1)
>>> train_resources(spec, num_classes("ImageNet"), costs=FALLBACK)
{'gpu': 1, 'mem_mb': 16000, 'runtime': 4057}
>>> eval_resources(paper, "thinking", "ImageNet", costs=FALLBACK)
{'gpu': 1, 'mem_mb': 8000, 'runtime': 370}
>>> train_resources(spec, 1000, attempt=2, costs=FALLBACK)["mem_mb"]
32000
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources

from clsrl.datasets.demo import DEMO_DATASETS
from clsrl.datasets.registry import class_count
from clsrl.models.size import ModelSize, ModelSizeUnknown, model_size
from clsrl.views import View

MEASURED_RESOURCE = "gpu_costs.json"  # written by bench/gpu_check.py --write-costs
DIRECT_STYLE = "no-thinking"  # the one prompt style that answers without reasoning first


@dataclass(frozen=True)
class CostModel:
    """GPU-seconds on ONE GPU per unit of work, and where the figures come from.

    `grpo_per_completion` and `grpo_generate_share` are keyed by answer kind: `thinking` (long
    completions) or `direct` (No-Thinking's short ones); so is `eval_per_image`.
    """

    source: str
    grpo_per_completion: dict[str, float]
    grpo_generate_share: dict[str, float]
    sft_per_example: float
    eval_per_image: dict[str, float]


def _fallback() -> CostModel:
    """The paper's 8-A100 ImageNet timings, turned into one-GPU figures (see the module doc)."""
    steps, completions, gpus = 4000 * 10 // 16, 64, 8  # 4 shots x 1000 classes x 10 epochs
    share_8 = {"thinking": 0.9, "direct": 0.25}  # assumed: the paper gives no split
    step_8 = {"thinking": 1587 * 60 / steps, "direct": 94 * 60 / steps}
    step_1 = {kind: step_8[kind] * (share_8[kind] + (1 - share_8[kind]) * gpus) for kind in step_8}
    return CostModel(
        source="fallback: the paper's 8-A100 timings (generating shares 0.9 and 0.25 assumed)",
        grpo_per_completion={kind: step_1[kind] / completions for kind in step_1},
        grpo_generate_share={kind: step_8[kind] * share_8[kind] / step_1[kind] for kind in step_1},
        sft_per_example=35 * 60 * gpus / (steps * 16),
        eval_per_image={"thinking": 30 * 60 * gpus / 50000, "direct": 26 * 60 * gpus / 50000},
    )


FALLBACK = _fallback()


def measured_costs(data: dict) -> CostModel:
    """A cost model from the figures bench/gpu_check.py measured (its `costs` section)."""
    where = data["measured_on"]
    return CostModel(
        source=f"measured: {where['gpu']}, {where['date']}, commit {where['commit']}",
        grpo_per_completion={k: v["gpu_seconds_per_completion"] for k, v in data["grpo"].items()},
        grpo_generate_share={k: v["generate_share"] for k, v in data["grpo"].items()},
        sft_per_example=data["sft"]["gpu_seconds_per_example"],
        eval_per_image={k: v["gpu_seconds_per_image"] for k, v in data["evaluation"].items()},
    )


@cache
def cost_model() -> CostModel:
    """The measured model where bench/gpu_check.py wrote one, else the paper-derived fallback."""
    path = resources.files("clsrl").joinpath(MEASURED_RESOURCE)
    if not path.is_file():
        return FALLBACK
    return measured_costs(json.loads(path.read_text(encoding="utf-8")))


SAFETY = 1.5  # slower GPUs, longer answers, a busy file system
STARTUP_MINUTES = 10  # imports, loading the model and the dataset
# Host memory per process (MB) for Qwen2-VL-2B: its weights, the processor and the data loaders;
# scaled by parameters for other models, never under the floor.
MEM_MB = {"train": 16000, "evaluate": 8000, "prepare": 8000}
TINY_MEM_MB = 2000  # the floor: the built-in tiny and toy models (the demo and tests)
# Qwen2-VL-2B-Instruct, whose figures the cost models are (tests/models/test_model_size.py checks
# these against clsrl.models.size): parameters and the tokens of one question with its image.
REFERENCE_PARAMETERS = 2_208_985_600
REFERENCE_PROMPT_TOKENS = 1450
DEFAULT_IMAGE_SIDE = 384  # images.resize 0 keeps each image's size: estimates assume this one

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
UNKNOWN_CLASSES = 100  # a custom dataset, whose size is unknown before it is prepared
UNKNOWN_TEST_ITEMS = 10000


def signal_lead_seconds(runtime_minutes: int) -> int:
    """How long before its time limit a training job sends its training SIGTERM (it then saves a
    checkpoint and its retry resumes there; clsrl.joblog.time_limit_stop): a tenth of its
    runtime, between 1 and 10 minutes. A fixed 10 minutes would signal a job of 10 minutes or less
    at its start.

    >>> [signal_lead_seconds(minutes) for minutes in (5, 11, 30, 100, 4057)]
    [60, 66, 180, 600, 600]
    """
    return min(600, max(60, runtime_minutes * 6))


def grown(value: int, attempt: int) -> int:
    """`value` for the first attempt, twice it for the second, and so on.

    >>> [grown(1000, attempt) for attempt in (1, 2, 3)]
    [1000, 2000, 3000]
    """
    if attempt < 1:
        raise ValueError(f"attempt must be 1 or more, got {attempt}")
    return value * attempt


def num_classes(view: str) -> int:
    """Classes of a dataset, or of a view of it (`EuroSAT.base`: its base half).

    >>> [num_classes(view) for view in ("ImageNet", "ImageNet.base", "demo-colours")]
    [1000, 500, 16]
    """
    parsed = View.parse(view)
    classes = class_count(parsed.dataset) or UNKNOWN_CLASSES
    chosen = parsed.classes(classes)
    return classes if chosen is None else len(chosen)


def eval_items(config: dict, view: str) -> int:
    """Test items of a dataset or view: CoOp's split sizes, the demo's count, else a guess.

    >>> demo = {"demo_data": {"per_class": {"test": 3}}}
    >>> [eval_items(demo, view) for view in ("demo-colours", "EuroSAT", "EuroSAT.new")]
    [48, 8100, 4050]
    """
    name = View.parse(view).dataset
    if name in BENCHMARK_TEST_ITEMS:
        items = BENCHMARK_TEST_ITEMS[name]
    elif name in DEMO_DATASETS:
        items = num_classes(name) * config["demo_data"]["per_class"].get("test", 0)
    else:
        items = UNKNOWN_TEST_ITEMS
    return math.ceil(items * num_classes(view) / num_classes(name))


def minutes(wall_seconds: float, attempt: int) -> int:
    """Minutes to request for `wall_seconds` of work: with the safety margin and start-up.

    >>> minutes(0, 1), minutes(600, 1), minutes(600, 2)
    (10, 25, 50)
    """
    return grown(math.ceil(STARTUP_MINUTES + SAFETY * wall_seconds / 60), attempt)


def answer_kind(prompt_style: str) -> str:
    """`direct` for No-Thinking's short answers, `thinking` for the styles that reason."""
    return "direct" if prompt_style == DIRECT_STYLE else "thinking"


def size_of_model(base_model: str, image_resize: int) -> ModelSize:
    """`base_model`'s size (clsrl.models.size); Qwen2-VL-2B's where its config.json is not at hand
    (clsrl.compute.sizing warns of it while planning)."""
    side = image_resize or DEFAULT_IMAGE_SIDE
    try:
        return model_size(base_model, side)
    except ModelSizeUnknown:
        return model_size("Qwen/Qwen2-VL-2B-Instruct", side)


def work_scale(size: ModelSize, completion: int = 0) -> float:
    """A job's work relative to the cost model's model: parameters x tokens per sequence.

    >>> work_scale(size_of_model("Qwen/Qwen2-VL-2B-Instruct", 384), completion=1024)
    1.0
    """
    tokens = size.prompt_tokens + completion
    return (
        size.parameters * tokens / (REFERENCE_PARAMETERS * (REFERENCE_PROMPT_TOKENS + completion))
    )


def host_mem_mb(size: ModelSize, kind: str, processes: int, attempt: int) -> int:
    """Host memory of a job with `processes` model processes: the 2B figure scaled by parameters,
    never under the tiny models' floor.

    >>> reference = size_of_model("Qwen/Qwen2-VL-2B-Instruct", 384)
    >>> host_mem_mb(reference, "train", 1, 1), host_mem_mb(reference, "evaluate", 2, 1)
    (16000, 16000)
    >>> host_mem_mb(size_of_model("builtin:tiny-qwen2-vl", 384), "train", 1, 2)
    4000
    """
    scaled = math.ceil(MEM_MB[kind] * size.parameters / REFERENCE_PARAMETERS / 1000) * 1000
    return grown(max(TINY_MEM_MB, scaled) * max(processes, 1), attempt)


def train_wall_seconds(spec, classes: int, costs: CostModel | None = None) -> float:
    """Estimated wall-clock seconds of one training job on its GPUs (`spec`, a
    clsrl.training.spec.TrainingSpec), for a view of `classes` classes."""
    costs = costs or cost_model()
    trl, gpus = spec.trl, spec.processes
    size = size_of_model(spec.base_model, spec.image_resize)
    items_epochs = spec.shots * classes * trl["num_train_epochs"]
    per_step = trl["per_device_train_batch_size"] * trl["gradient_accumulation_steps"] * gpus
    if spec.trainer == "grpo":  # per_step counts completions
        steps = math.ceil(items_epochs * trl["num_generations"] / per_step)
        if trl["max_steps"] > 0:
            steps = min(steps, trl["max_steps"])
        kind = answer_kind(spec.prompt_style)
        share = costs.grpo_generate_share[kind]
        scale = work_scale(size, trl["max_completion_length"])
        one_gpu = steps * per_step * costs.grpo_per_completion[kind] * scale
        return one_gpu * (share + (1 - share) / gpus)
    examples = items_epochs
    if trl["max_steps"] > 0:
        examples = min(examples, trl["max_steps"] * per_step)
    return examples * costs.sft_per_example * work_scale(size) / gpus


def train_resources(spec, classes: int, attempt: int = 1, costs: CostModel | None = None) -> dict:
    """GPUs, memory and runtime of one training job (rule train) from its TrainingSpec."""
    gpus = spec.processes
    size = size_of_model(spec.base_model, spec.image_resize)
    return {
        "gpu": gpus,
        "mem_mb": host_mem_mb(size, "train", gpus, attempt),
        "runtime": minutes(train_wall_seconds(spec, classes, costs), attempt),
    }


def eval_resources(
    config: dict,
    style: str,
    target: str,
    attempt: int = 1,
    costs: CostModel | None = None,
    base_model: str | None = None,
) -> dict:
    """GPUs, memory and runtime of one evaluation job (one model, one prompt style, one target);
    `base_model` is the model evaluated (the config's when it names one)."""
    costs = costs or cost_model()
    size = size_of_model(base_model or config["base_model"], config["images"]["resize"])
    gpus = 0 if config["evaluation"]["device"] == "cpu" else 1
    per_image = costs.eval_per_image[answer_kind(style)] * work_scale(size)
    return {
        "gpu": gpus,
        "mem_mb": host_mem_mb(size, "evaluate", 1, attempt),
        "runtime": minutes(per_image * eval_items(config, target), attempt),
    }


def prepare_resources(attempt: int = 1) -> dict:
    """Memory and runtime of a CPU job that decodes a whole dataset (prepare_*_dataset)."""
    return {"gpu": 0, "mem_mb": grown(MEM_MB["prepare"], attempt), "runtime": grown(120, attempt)}
