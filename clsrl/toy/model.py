"""`python -m clsrl.toy.model TINY_DIR OUTPUT_DIR`: the toy base model, a weak but real classifier.

The tiny random Qwen2-VL (`clsrl.models.tiny`) answers nothing right, so every method scores 0 on
it. This module gives it a short instruction-tuning stage, SFT with TRL's `SFTTrainer` on a
generated pre-training set, after which it is the "model organism" of the demo:

- it answers in both formats (a bare class name, and `<think>..</think> <answer>..</answer>`),
  and in the thinking format its answer follows its thinking (the build measures
  P(answer X | thinking concludes X) and refuses a model below `MIN_THINK_FOLLOWED`);
- it names four of the sixteen demo colours (`KNOWN_COLOURS`); it has seen the other twelve, but
  always labelled with a random colour word, so it has no name for them;
- it knows the shape and texture words but not what they look like (about chance on demo-shapes
  and demo-patterns).

Few-shot training has room to help: twelve colour names to learn, each a class-level race of its
own, and shapes and textures from scratch.

The package ships the toy model the config schema's settings build (`clsrl/artefacts/
toy-qwen2-vl`, with a SHA256SUMS file): the demo copies it after checking every file, so every
machine starts from the same bytes (float results of a pre-training differ between CPUs).
`python -m clsrl.toy.model --ship` rebuilds it; other `toy_model` settings make the workflow
pre-train a new one (about 9 minutes on 2 cores).

The pre-training set is drawn in memory from `ToySettings.seed`: each item's image comes from a
numpy generator seeded with (seed, 0x70E, index) and its question from a `random.Random` keyed
"toy-pretraining:seed:index", so none of its images is an image of a demo dataset (those
generators are keyed by the dataset's name). Its items, in proportions `KIND_SHARES`:

- `named-colour`: a known colour drawn as demo-colours draws it, asked demo-colours' question ->
  its name;
- `unnamed-colour`: one of the other demo colours, or a random colour far from every known one,
  asked the same question -> a random option of its list;
- `ambiguous-colour`: two known colours, one on each half of the image, both listed -> either
  name, chosen at random: in the thinking style the thinking names it first and the answer
  repeats it, so the answer learns to follow the thinking (the decision sits in the reasoning);
- `unfamiliar-image`: random blocks of colour or a known colour, asked demo-shapes' or
  demo-patterns' question -> a random option of its list.

Each item is asked in the no-thinking or the thinking style (half each) and lists a random
subset (at least 4) of its question's class names, the answer always among them.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from clsrl.answers import THINK_PATTERN, extract_eval_answer, last_class_named, strict_match
from clsrl.config import default_config
from clsrl.cpu_numerics import pin_if_asked
from clsrl.datasets import demo
from clsrl.evaluation.inference import user_message
from clsrl.io import folder_written_atomically, write_atomic, write_json
from clsrl.models.tiny import build_tiny_model
from clsrl.prompts import problem_text, render_prompt
from clsrl.provenance import provenance
from clsrl.toy.settings import (
    CHECKSUMS_FILE,
    LOG_HISTORY_FILE,
    RECORD_FILE,
    SHIPPED,
    ToySettings,
    shipped_folder,
    tiny_model_params,
    toy_settings,
)

KNOWN_COLOURS = ("red", "green", "blue", "yellow")
KIND_SHARES = {
    "named-colour": 0.3,
    "unnamed-colour": 0.3,
    "ambiguous-colour": 0.15,
    "unfamiliar-image": 0.25,
}
STYLES = ("no-thinking", "thinking")
MIN_OPTIONS = 4
FAR_FROM_KNOWN = 200  # a random "unnamed" colour differs from every known one by more (L1, 0-255)
BLOCKS = 4  # an unfamiliar image is BLOCKS x BLOCKS random colours
MIN_THINK_FOLLOWED = 0.9  # a toy model whose answers follow its thinking less often is refused


WARMUP_STEPS = 20  # of the pre-training's cosine schedule


class ToyModelError(RuntimeError):
    """The pre-trained toy model lacks a property the toy world rests on."""


def thinking_answer(name: str) -> str:
    """The thinking-style target. The name is quoted in the thinking so that it is spelt with the
    same tokens as in the answer (a byte-level BPE spells " red" and "red" differently), and the
    answer can copy what the thinking concluded.

    >>> print(thinking_answer("red"))
    <think>The photo shows "red".</think> <answer>red</answer>
    """
    return f'<think>The photo shows "{name}".</think> <answer>{name}</answer>'


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


def _halves(first: str, second: str, size: int, rng: np.random.Generator) -> Image.Image:
    """An ambiguous image: one known colour on the left half, another on the right."""
    left, right = demo.draw_colour(first, size, rng), demo.draw_colour(second, size, rng)
    pixels = np.asarray(left).copy()
    pixels[:, size // 2 :] = np.asarray(right)[:, size // 2 :]
    return Image.fromarray(pixels, mode="RGB")


def pretraining_item(index: int, settings: ToySettings) -> dict:
    """Pre-training item `index`: kind, image, style, prompt text, answer (fixed by seed, index).

    >>> from clsrl.config import default_config
    >>> item = pretraining_item(0, toy_settings(default_config()))
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
    answer, must_list = None, ()
    if kind == "named-colour":
        question, names = _question("demo-colours")
        answer = pick.choice(KNOWN_COLOURS)
        image = demo.draw_colour(answer, size, rng)
    elif kind == "unnamed-colour":
        question, names = _question("demo-colours")
        image = _unnamed_colour(size, rng)
    elif kind == "ambiguous-colour":  # either name is right: the thinking decides
        question, names = _question("demo-colours")
        must_list = tuple(pick.sample(KNOWN_COLOURS, 2))
        image = _halves(*must_list, size, rng)
        answer = pick.choice(must_list)
    else:
        question, names = _question(pick.choice(["demo-shapes", "demo-patterns"]))
        known = KNOWN_COLOURS[int(rng.integers(len(KNOWN_COLOURS)))]
        image = _blocks(size, rng) if pick.random() < 0.5 else demo.draw_colour(known, size, rng)
    others = [name for name in names if name not in must_list and name != answer]
    listed = [*dict.fromkeys([*must_list, *([answer] if answer else [])])]
    count = max(pick.randint(MIN_OPTIONS, len(names)), len(listed))
    options = listed + pick.sample(others, count - len(listed))
    if answer is None:
        answer = pick.choice(options)
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


def think_followed(model, processor, image_size: int, seed: int = 0, samples: int = 4) -> float:
    """P(answer X | the thinking names X): how often a sampled thinking-style answer repeats the
    class its thinking concluded with, over every demo colour (4 images each, `samples` answers
    per image, temperature 1 and top-k 50 as in GRPO). In a real VLM the reasoning conditions
    the answer; a toy model whose answer ignored its thinking would make CLS-RL's thinking decor.
    """
    import torch

    names = list(demo.COLOURS)
    question = _question("demo-colours")[0]
    rng, order = np.random.default_rng([seed, 0x7F]), random.Random(f"think-followed:{seed}")
    images, texts = [], []
    for name in names:
        for _ in range(4):
            options = order.sample(names, len(names))
            prompt = render_prompt("thinking", problem_text(question, options))
            images.append(demo.draw_colour(name, image_size, rng))
            texts.append(
                processor.apply_chat_template(
                    user_message(prompt), add_generation_prompt=True, tokenize=False
                )
            )
    inputs = processor(text=texts, images=images, padding=True, return_tensors="pt")
    torch.manual_seed(seed)
    with torch.inference_mode():
        output = model.generate(
            **inputs.to(model.device),
            do_sample=True,
            temperature=1.0,
            top_k=50,
            max_new_tokens=32,
            num_return_sequences=samples,
        )
    completions = processor.batch_decode(
        output[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True
    )
    followed = judged = 0
    for completion in completions:
        think = THINK_PATTERN.search(completion)
        concluded = last_class_named(think.group(1), names) if think else None
        if concluded is None or "<answer>" not in completion:
            continue
        judged += 1
        followed += strict_match(extract_eval_answer(completion), concluded)
    return followed / judged if judged else 0.0


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
    tiny_dir: str | os.PathLike,
    output_dir: str | os.PathLike,
    settings: ToySettings,
    tiny_settings: dict | None = None,
) -> Path:
    """Pre-train the tiny model in `tiny_dir` (built with `tiny_settings`, recorded) and save
    the toy model to `output_dir` (replaced), with `pretraining_record.json` and
    `log_history.csv` beside it. Written to a hidden sibling and renamed into place at the end,
    so a crash never leaves half a model there."""
    import datasets
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor
    from trl import SFTConfig, SFTTrainer

    pin_if_asked()  # as every model load through clsrl.models.loading does
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
    trainer.model.eval()
    followed = think_followed(trainer.model, processor, settings.image_size, settings.seed)
    print(f"P(answer X | thinking concludes X) = {followed:.3f}", flush=True)
    if followed < MIN_THINK_FOLLOWED:
        raise ToyModelError(
            f"the toy model's answers follow its thinking in {followed:.1%} of sampled answers, "
            f"below {MIN_THINK_FOLLOWED:.0%}: its thinking would not drive its answers as a real "
            "VLM's does. Pre-train longer (toy_model.steps) or with another seed."
        )
    record = {
        **provenance({"toy_settings": asdict(settings)}),
        "base": str(tiny_dir),
        "toy_settings": asdict(settings),
        "tiny_settings": tiny_settings,
        "items": len(rows),
        "items_by_kind": dict(kinds),
        "known_colours": list(KNOWN_COLOURS),
        "final_loss": steps[-1]["loss"] if steps else None,
        "think_followed": round(followed, 4),
        "min_think_followed": MIN_THINK_FOLLOWED,
        "runtime_s": round(time.perf_counter() - started, 1),
    }
    with folder_written_atomically(output) as staging:
        trainer.model.save_pretrained(staging)
        processor.save_pretrained(staging)
        write_json(staging / RECORD_FILE, record)
        write_atomic(staging / LOG_HISTORY_FILE, pd.DataFrame(steps).to_csv(index=False))
    return output


# --- the shipped toy model (its folder, settings and digest: clsrl.toy.settings) ----------
def verify_shipped(folder: Path | None = None) -> None:
    """Raise ToyModelError unless every file of the shipped toy model has its recorded sha256."""
    folder = folder or shipped_folder()
    lines = (folder / CHECKSUMS_FILE).read_text(encoding="utf-8").splitlines()
    for line in lines:
        digest, name = line.split(maxsplit=1)
        actual = hashlib.sha256((folder / name).read_bytes()).hexdigest()
        if actual != digest:
            raise ToyModelError(
                f"{folder / name} has sha256 {actual}, not the recorded {digest}: the shipped toy "
                "model was changed; restore it (git checkout clsrl/artefacts) or rebuild it with "
                "`python -m clsrl.toy.model --ship`"
            )


def install_shipped(output_dir: str | os.PathLike) -> Path:
    """Copy the shipped toy model to `output_dir` (replaced) after checking its checksums."""
    verify_shipped()
    output = Path(output_dir).resolve()
    with folder_written_atomically(output) as staging:
        shutil.copytree(shipped_folder(), staging)
    verify_shipped(output)
    return output


def ship(workdir: Path) -> Path:
    """Build the toy model with the config schema's settings (the tiny model, then its
    pre-training) and make it the shipped one, with its checksums."""
    config = default_config()
    tiny = tiny_model_params(config)
    tiny_dir = build_tiny_model(
        workdir / "tiny", seed=tiny["seed"], corpus=demo.demo_texts(),
        image_min_pixels=tiny["image_pixels"], image_max_pixels=tiny["image_pixels"],
    )  # fmt: skip
    toy = build_toy_model(tiny_dir, workdir / "toy", toy_settings(config), tiny)
    target = shipped_folder()
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(toy, target)
    sums = [
        f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.name}"
        for path in sorted(target.iterdir())
        if path.name != CHECKSUMS_FILE
    ]
    (target / CHECKSUMS_FILE).write_text("\n".join(sums) + "\n", encoding="utf-8")
    return target


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: `python -m clsrl.toy.model TINY_DIR OUTPUT_DIR [--steps N] [--seed N]`, or
    `python -m clsrl.toy.model --ship` to rebuild the shipped toy model."""
    parser = argparse.ArgumentParser(
        prog="python -m clsrl.toy.model",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("tiny_dir", type=Path, nargs="?", help="the tiny model to pre-train")
    parser.add_argument("output_dir", type=Path, nargs="?", help="folder to write the toy model to")
    parser.add_argument(
        "--ship", action="store_true", help=f"rebuild clsrl/{SHIPPED} with the schema's settings"
    )
    parser.add_argument("--steps", type=int, help="SFT steps (default: the config schema's)")
    parser.add_argument("--seed", type=int, help="pre-training seed (default: the schema's)")
    args = parser.parse_args(argv)
    if args.ship:
        import tempfile

        with tempfile.TemporaryDirectory() as workdir:
            print(ship(Path(workdir)))
        return
    if args.tiny_dir is None or args.output_dir is None:
        parser.error("give TINY_DIR and OUTPUT_DIR, or --ship")
    changes = {k: v for k, v in {"seed": args.seed, "steps": args.steps}.items() if v is not None}
    settings = replace(toy_settings(default_config()), **changes)
    print(build_toy_model(args.tiny_dir, args.output_dir, settings))


if __name__ == "__main__":
    main()
