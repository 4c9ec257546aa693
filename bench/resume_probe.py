"""How far a resumed training ends from an uninterrupted one (issue 25's probe).

    .venv/bin/python bench/resume_probe.py OUT_DIR [--trainers-own-loading]

For SFT and SFT-LoRA from the tiny random model (lr 0.01) and No-Thinking GRPO from the shipped
toy model (lr 1e-4), 8 steps with a checkpoint every 2: two uninterrupted runs (A, B) and one
run that crashes after checkpoint-4 and is rerun (R). Prints, per job, the summed absolute
difference of the published weights: A-B (the noise floor), A-R (what resuming costs), base-A
and base-R. `--trainers-own-loading` resumes with transformers' Trainer loading the weights
itself, as clsrl did before clsrl.training.restore (for the before/after comparison in
bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/ holds the job settings the fault tests use

import pytest  # noqa: E402 (its MonkeyPatch, for the fault tests' helpers)

from clsrl.datasets.canonical import load_dataset  # noqa: E402
from clsrl.datasets.demo import demo_texts, generate_demo_dataset  # noqa: E402
from clsrl.fewshot import few_shot_questions  # noqa: E402
from clsrl.models.tiny import build_tiny_model  # noqa: E402
from clsrl.questions import write_questions  # noqa: E402
from clsrl.toy.model import install_shipped  # noqa: E402
from clsrl.training.train import runtime_from, train  # noqa: E402
from tests.conftest import paper_options  # noqa: E402
from tests.training.test_faults import (  # noqa: E402
    Crash,
    crash_after_commit,
    fault_spec,
    resume_with_the_trainers_own_loading,
)


def distance(a: dict, b: dict) -> float:
    return sum(float((a[name].float() - b[name].float()).abs().sum()) for name in a)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--trainers-own-loading", action="store_true")
    args = parser.parse_args()
    patches = pytest.MonkeyPatch()
    if args.trainers_own_loading:
        resume_with_the_trainers_own_loading(patches)
    tiny = build_tiny_model(args.out / "tiny", seed=0, corpus=demo_texts())
    toy = install_shipped(args.out / "toy")
    data = args.out / "demo-colours"
    generate_demo_dataset("demo-colours", data, per_class={"train": 8, "val": 1, "test": 4})
    questions = args.out / "train.jsonl"
    split = few_shot_questions(load_dataset(data), 4, 1, paper_options(seed=1))
    write_questions(questions, split)
    print("| job | A-B | A-R | base-A | base-R |\n|---|---|---|---|---|")
    for kind in ("sft", "lora", "grpo"):
        base = toy if kind == "grpo" else tiny
        job = (fault_spec(kind), str(base), questions, data)
        first, second = run(*job, args.out / kind / "A"), run(*job, args.out / kind / "B")
        with pytest.MonkeyPatch.context() as crashing, pytest.raises(Crash):
            crash_after_commit(crashing, step=4)
            run(*job, args.out / kind / "R")
        resumed = run(*job, args.out / kind / "R", fresh=False)
        original = load_file(base / "model.safetensors")
        print(
            f"| {kind} | {distance(first, second):.4g} | {distance(first, resumed):.4g} | "
            f"{distance(original, first):.4g} | {distance(original, resumed):.4g} |"
        )


def run(spec, base, questions, data, folder: Path, fresh: bool = True) -> dict:
    """Train into `folder` (emptied first unless not `fresh`); the published weights."""
    if fresh:
        shutil.rmtree(folder, ignore_errors=True)
    runtime = runtime_from(save_steps=2)
    train(spec, base, questions, data, folder / "model", folder / "checkpoints", runtime)
    return load_file(folder / "model/model.safetensors")


if __name__ == "__main__":
    main()
