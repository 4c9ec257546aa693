"""Benchmark: few-shot sampling on an ImageNet-sized index (1.28M items, 1000 classes).

    .venv/bin/python bench/bench_fewshot.py [--shots 16] [--repeats 3]

Sampling reads only the manifest table: no image is opened. Results: bench/RESULTS.md.
"""

import argparse
import time

import numpy as np
import pandas as pd

from clsrl.fewshot import sample_few_shot

IMAGENET_TRAIN_ITEMS = 1_281_167
IMAGENET_CLASSES = 1000


def imagenet_sized_index() -> pd.DataFrame:
    labels = np.sort(np.random.default_rng(0).integers(0, IMAGENET_CLASSES, IMAGENET_TRAIN_ITEMS))
    images = [f"images/train/n{label:08d}/{index:07d}.JPEG" for index, label in enumerate(labels)]
    return pd.DataFrame({"image": images, "label": labels, "split": "train"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shots", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    items = imagenet_sized_index()
    timings = []
    for seed in range(1, args.repeats + 1):
        started = time.perf_counter()
        sample = sample_few_shot(items, args.shots, seed)
        timings.append(time.perf_counter() - started)
        assert len(sample) == args.shots * IMAGENET_CLASSES
    print(
        f"{len(items):,} items, {IMAGENET_CLASSES} classes, {args.shots} shots: "
        f"best {min(timings):.2f} s, mean {sum(timings) / len(timings):.2f} s over {args.repeats}"
    )


if __name__ == "__main__":
    main()
