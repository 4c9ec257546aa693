"""`python -m clsrl.toy_model TINY_DIR OUTPUT_DIR`: the toy base model, a weak but real classifier.

The tiny random Qwen2-VL (`clsrl.tiny_model`) answers nothing right, so every method scores 0 on
it. This module gives it a short instruction-tuning stage, SFT with TRL's `SFTTrainer` on a
generated pre-training set, after which it is the "model organism" of the demo:

- it answers in both formats (a bare class name, and `<think>..</think> <answer>..</answer>`);
- it names four of the seven demo colours (`KNOWN_COLOURS`); it has seen the other three, but
  always labelled with a random colour word, so it has no name for them (greedy, it calls them a
  known colour, mostly blue; sampled, it spreads over the colour words);
- it knows the shape and texture words but not what they look like (about chance on demo-shapes
  and demo-patterns).

Measured zero-shot (demo, seed 0): 57% on demo-colours, 19% on demo-shapes, 17% (thinking) or 0%
(No-Thinking, whose greedy answer blends two pattern names) on demo-patterns. Few-shot training has
room to help: naming three colours it can already see, and learning shapes and textures from
scratch. It does not read the option list: asked to choose among unknown colours only, it still
answers a known one.

The pre-training set is drawn in memory from `ToySettings.seed`: each item's image comes from a
numpy generator seeded with (seed, 0x70E, index) and its question from a `random.Random` keyed
"toy-pretraining:seed:index", so none of its images is an image of a demo dataset (those
generators are keyed by the dataset's name). Its items, in proportions `KIND_SHARES`:

- `named-colour`: a known colour drawn as demo-colours draws it, asked demo-colours' question ->
  its name;
- `unnamed-colour`: one of the other demo colours, or a random colour far from every known one,
  asked the same question -> a random option of its list;
- `unfamiliar-image`: random blocks of colour or a known colour, asked demo-shapes' or
  demo-patterns' question -> a random option of its list.

Each item is asked in the no-thinking or the thinking style (half each) and lists a random
subset (at least 4) of its question's class names, the answer always among them.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from clsrl.datasets import demo
from clsrl.io import folder_written_atomically, write_atomic, write_json
from clsrl.prompts import problem_text, render_prompt

KNOWN_COLOURS = ("red", "green", "blue", "yellow")
KIND_SHARES = {"named-colour": 0.4, "unnamed-colour": 0.2, "unfamiliar-image": 0.4}
STYLES = ("no-thinking", "thinking")
MIN_OPTIONS = 4
FAR_FROM_KNOWN = 200  # a random "unnamed" colour differs from every known one by more (L1, 0-255)
BLOCKS = 4  # an unfamiliar image is BLOCKS x BLOCKS random colours
RECORD_FILE = "pretraining_record.json"
LOG_HISTORY_FILE = "log_history.csv"


WARMUP_STEPS = 20  # of the pre-training's cosine schedule


@dataclass(frozen=True)
class ToySettings:
    """The pre-training stage: the `toy_model` config section and the demo's image size, as
    clsrl.study.Study.toy_model_params gives them."""

    seed: int
    steps: int
    batch_size: int
    learning_rate: float
    image_size: int

    @classmethod
    def from_config(cls, config: dict, **changes):
        """The settings of a validated config (clsrl.config.default_config(): the demo's toy)."""
        from clsrl.study import Study

        return replace(cls(**Study(config).toy_model_params()), **changes)


def thinking_answer(name: str) -> str:
    """The thinking-style target.

    >>> thinking_answer("red")
    '<think>The photo shows red.</think> <answer>red</answer>'
    """
    return f"<think>The photo shows {name}.</think> <answer>{name}</answer>"


def _question(dataset: str) -> tuple[str, tuple[str, ...]]:
    spec = demo.demo_spec(dataset)
    return spec.question, spec.classnames


def _unnamed_colour(size: int, rng: np.random.Generator) -> Image.Image:
    """A demo colour without a known name, or a random colour far from the known ones."""
    unnamed = [name for name in demo.COLOURS if name not in KNOWN_COLOURS]
    if rng.random() < 0.5:
        return demo.draw_colour(unnamed[int(rng.integers(len(unnamed)))], size, rng)
    known = np.array([demo.COLOURS[name] for name in KNOWN_COLOURS])
    while True:
        colour = rng.integers(0, 256, size=3)
        if np.abs(known - colour).sum(axis=1).min() > FAR_FROM_KNOWN:
            return demo._with_noise(np.broadcast_to(colour, (size, size, 3)), rng)


def _blocks(size: int, rng: np.random.Generator) -> Image.Image:
    """Random blocks of colour: an image like nothing the demo datasets hold."""
    cells = rng.integers(0, 256, size=(BLOCKS, BLOCKS, 3)).astype(np.uint8)
    return Image.fromarray(cells, mode="RGB").resize((size, size), Image.NEAREST)


def pretraining_item(index: int, settings: ToySettings) -> dict:
    """Pre-training item `index`: kind, image, style, prompt text, answer (fixed by seed, index).

    >>> from clsrl.config import default_config
    >>> item = pretraining_item(0, ToySettings.from_config(default_config()))
    >>> sorted(item)
    ['answer', 'image', 'kind', 'options', 'prompt', 'style']
    >>> from clsrl.answers import extract_eval_answer
    >>> extract_eval_answer(item["answer"]) in item["options"]
    True
    """
    rng = np.random.default_rng([settings.seed, 0x70E, index])  # 0x70E: "toy"
    pick = random.Random(f"toy-pretraining:{settings.seed}:{index}")
    kind = pick.choices(list(KIND_SHARES), weights=list(KIND_SHARES.values()))[0]
    size = settings.image_size
    answer = None
    if kind == "named-colour":
        question, names = _question("demo-colours")
        answer = pick.choice(KNOWN_COLOURS)
        image = demo.draw_colour(answer, size, rng)
    elif kind == "unnamed-colour":
        question, names = _question("demo-colours")
        image = _unnamed_colour(size, rng)
    else:
        question, names = _question(pick.choice(["demo-shapes", "demo-patterns"]))
        known = KNOWN_COLOURS[int(rng.integers(len(KNOWN_COLOURS)))]
        image = _blocks(size, rng) if pick.random() < 0.5 else demo.draw_colour(known, size, rng)
    options = pick.sample(list(names), pick.randint(MIN_OPTIONS, len(names)))
    if answer is None:
        answer = pick.choice(options)
    elif answer not in options:
        options[0] = answer
    pick.shuffle(options)
    style = pick.choice(STYLES)
    return {
        "kind": kind,
        "image": image,
        "style": style,
        "options": options,
        "prompt": render_prompt(style, problem_text(question, options)),
        "answer": answer if style == "no-thinking" else thinking_answer(answer),
    }


def pretraining_rows(settings: ToySettings) -> tuple[list[dict], Counter]:
    """One epoch of SFT rows (steps x batch size items, TRL's conversational prompt-completion
    format with an image) and the count of items of each kind."""
    rows, kinds = [], Counter()
    for index in range(settings.steps * settings.batch_size):
        item = pretraining_item(index, settings)
        kinds[item["kind"]] += 1
        rows.append(
            {
                "prompt": [{"role": "user", "content": item["prompt"]}],
                "image": item["image"],
                "completion": [{"role": "assistant", "content": item["answer"]}],
            }
        )
    return rows, kinds


def build_toy_model(
    tiny_dir: str | os.PathLike, output_dir: str | os.PathLike, settings: ToySettings
) -> Path:
    """Pre-train the tiny model in `tiny_dir` and save the toy model to `output_dir` (replaced),
    with `pretraining_record.json` and `log_history.csv` beside it. Written to a hidden sibling
    and renamed into place at the end, so a crash never leaves half a model there."""
    import datasets
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor
    from trl import SFTConfig, SFTTrainer

    from clsrl.provenance import provenance

    output = Path(output_dir).resolve()
    started = time.perf_counter()
    rows, kinds = pretraining_rows(settings)
    print(f"pre-training set: {len(rows)} items {dict(kinds)}", flush=True)
    torch.manual_seed(settings.seed)
    model = AutoModelForImageTextToText.from_pretrained(tiny_dir, dtype=torch.float32)
    processor = AutoProcessor.from_pretrained(tiny_dir)
    arguments = SFTConfig(
        output_dir=str(output.with_name(f".{output.name}.checkpoints-{os.getpid()}")),
        per_device_train_batch_size=settings.batch_size,
        num_train_epochs=1,
        learning_rate=settings.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=WARMUP_STEPS,
        completion_only_loss=True,
        max_length=None,
        logging_steps=25,
        save_strategy="no",
        report_to=[],
        seed=settings.seed,
        use_cpu=True,  # tiny: the same model on any machine, and no GPU taken unreserved
    )
    trainer = SFTTrainer(
        model=model,
        args=arguments,
        train_dataset=datasets.Dataset.from_list(rows),
        processing_class=processor,
    )
    trainer.train()
    shutil.rmtree(arguments.output_dir, ignore_errors=True)
    steps = [entry for entry in trainer.state.log_history if "loss" in entry]
    record = {
        **provenance({"toy_settings": asdict(settings)}),
        "base": str(tiny_dir),
        "items": len(rows),
        "items_by_kind": dict(kinds),
        "known_colours": list(KNOWN_COLOURS),
        "final_loss": steps[-1]["loss"] if steps else None,
        "runtime_s": round(time.perf_counter() - started, 1),
    }
    with folder_written_atomically(output) as staging:
        trainer.model.save_pretrained(staging)
        processor.save_pretrained(staging)
        write_json(staging / RECORD_FILE, record)
        write_atomic(staging / LOG_HISTORY_FILE, pd.DataFrame(steps).to_csv(index=False))
    return output


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: `python -m clsrl.toy_model TINY_DIR OUTPUT_DIR [--steps N] [--seed N]`."""
    parser = argparse.ArgumentParser(prog="python -m clsrl.toy_model", description=__doc__)
    parser.add_argument("tiny_dir", type=Path, help="the tiny model (python -m clsrl.tiny_model)")
    parser.add_argument("output_dir", type=Path, help="folder to write the toy model to")
    parser.add_argument("--steps", type=int, help="SFT steps (default: the config schema's)")
    parser.add_argument("--seed", type=int, help="pre-training seed (default: the schema's)")
    args = parser.parse_args(argv)
    from clsrl.config import default_config

    changes = {k: v for k, v in {"seed": args.seed, "steps": args.steps}.items() if v is not None}
    settings = ToySettings.from_config(default_config(), **changes)
    print(build_toy_model(args.tiny_dir, args.output_dir, settings))


if __name__ == "__main__":
    main()
