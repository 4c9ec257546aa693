"""Benchmark: batched evaluation against batch size 1 on the tiny model (CPU).

    .venv/bin/python bench/bench_eval_batch.py [--images 64] [--max-new-tokens 24]

Same questions, same greedy decoding; only the batch size differs. Results: bench/RESULTS.md.
"""

import argparse
import tempfile
from pathlib import Path

import torch

from clsrl.config import default_config
from clsrl.datasets.canonical import load_dataset
from clsrl.datasets.demo import DEMO_DATASETS, generate_demo_dataset
from clsrl.evaluation.evaluate import EvalSettings, evaluate_questions
from clsrl.evaluation.inference import TransformersGenerator
from clsrl.models.loading import load_model_and_processor
from clsrl.models.tiny import build_tiny_model
from clsrl.questions import OptionSettings, make_questions, option_params
from clsrl.views import View
from clsrl.workflow.study import Study


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=24)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 4, 16, 32])
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        corpus = [name for spec in DEMO_DATASETS.values() for name in spec.classnames]
        model_dir = build_tiny_model(root / "model", corpus=corpus)
        classes = len(DEMO_DATASETS["demo-colours"].classnames)
        per_class = {"train": 1, "val": 1, "test": -(-args.images // classes)}
        generate_demo_dataset("demo-colours", root / "data", per_class=per_class)
        dataset = load_dataset(root / "data")
        questions = make_questions(
            dataset,
            "test",
            OptionSettings(**option_params(default_config(), View("demo-colours")), seed=0),
        )[: args.images]
        model, processor = load_model_and_processor(str(model_dir), device="cpu")
        rates = {}
        for batch_size in args.batch_sizes:
            settings = EvalSettings(
                **{
                    **Study(default_config()).eval_settings("no-thinking", View("demo-colours")),
                    "max_new_tokens": args.max_new_tokens,
                    "image_resize": 56,
                }
            )
            _, metrics = evaluate_questions(
                TransformersGenerator(model, processor),
                questions,
                dataset.root,
                settings,
                batch_size,
            )
            rates[batch_size] = metrics["images_per_second"]
    base = rates[args.batch_sizes[0]]
    for batch_size, rate in rates.items():
        print(f"batch {batch_size:>3}: {rate:8.1f} images/s  ({rate / base:.1f}x batch 1)")


if __name__ == "__main__":
    main()
