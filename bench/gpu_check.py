"""Time the full-size model on one GPU, and derive the cost model's figures from what it measured.

    python bench/gpu_check.py OUT_DIR --write-costs   # a GPU: builtin:qwen2-vl-2b-random, bf16
    python bench/gpu_check.py OUT_DIR --tiny          # CPU: the narrow model at toy sizes (a test)

With Qwen2-VL-2B-Instruct's architecture (random weights, built offline), 384x384 images and
questions listing 100 class names of ImageNet length (clsrl.rehearsal), through the real code:

- evaluation: images/s and peak GPU memory at batch 8, 32, 64 and 128, No-Thinking prompts (16 new
  tokens) and thinking prompts (256; a random model never stops early: the worst case per token);
- GRPO: 3 optimizer steps of 64 completions through clsrl.training.train with the reference model
on:
  CLS-RL with 256-token completions, gradient checkpointing off (the paper) and on; No-Thinking
  with 16-token completions; seconds per step, the share spent in `generate`, peak memory;
- SFT: 3 steps of 16 examples;
- GPU-seconds per completion, per example and per image (what clsrl/compute/resources.py's cost
model
  needs), and each figure against the compute-bound limit: 2 x parameters x tokens FLOP at the
  card's bf16 peak.

Writes OUT_DIR/gpu_check.json and OUT_DIR/gpu_check.md; `--write-costs` also writes
clsrl/gpu_costs.json, which clsrl/compute/resources.py then uses instead of its paper-derived
fallback. About 6 minutes on one H100 or H200 (model build included); on the device machine the
image lacks trl and datasets: install their wheels first (../shared/device/wheels.sh).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from dataclasses import replace
from datetime import date
from importlib import resources
from pathlib import Path

import torch
from rehearsal import (  # bench/rehearsal.py, beside this script
    FULL_SIZE_MODEL,
    Sizes,
    load_for_evaluation,
    rehearsal_data,
    resolve_model,
    run_evaluation,
    run_grpo,
    run_sft,
    steady,
)

from clsrl.io import write_atomic, write_json

# Dense bf16 peak of each card (NVIDIA's data sheets, SXM, without sparsity), by name fragment.
BF16_PEAK_TFLOPS = {"H200": 989, "H100": 989, "A100": 312, "L40S": 362, "A6000": 155, "L4": 121}
FULL = {
    "sizes": Sizes(
        precision="bf16",
        completions=64,
        per_device=4,
        completion_length=256,
        sft_examples=16,
        steps=3,
    ),
    "eval_batches": (8, 32, 64, 128),
    "eval_tokens": {"no-thinking": 16, "thinking": 256},
    "direct_length": 16,
}
TINY = {
    "sizes": Sizes(completions=4, per_device=2, completion_length=8, sft_examples=2, steps=2),
    "eval_batches": (2, 4),
    "eval_tokens": {"no-thinking": 4, "thinking": 8},
    "direct_length": 4,
}
COST_BATCH = 32  # the evaluation batch whose throughput the cost model uses (config default)
PAPER = {  # protocol section 8, per GPU
    "images_per_second": "3.5-5 (50,000 ImageNet images in 20-30 min on 8 A100)",
    "cls-rl_gpu_seconds_per_completion": 4.8,  # 1587 min x 8 A100 / 160,000 completions
    "no-thinking_gpu_seconds_per_completion": 0.28,
}


def bf16_peak_flops(device_name: str | None) -> float | None:
    """The card's dense bf16 peak in FLOP/s, None when unknown (or on the CPU)."""
    for fragment, tflops in BF16_PEAK_TFLOPS.items():
        if device_name and fragment in device_name:
            return tflops * 1e12
    return None


def parameters(model_dir: str) -> int:
    """The model's parameter count, from its config on the meta device."""
    from transformers import AutoConfig, AutoModelForImageTextToText

    config = AutoConfig.from_pretrained(model_dir)
    with torch.device("meta"):
        model = AutoModelForImageTextToText.from_config(config)
    return sum(p.numel() for p in model.parameters())


def bound_ratio(seconds: float, tokens: float, params: int, peak: float | None) -> float | None:
    """Measured seconds / the seconds of 2 x params x tokens FLOP at the card's peak."""
    if not peak:
        return None
    return round(seconds / (2 * params * tokens / peak), 1)


def evaluation_sweep(model: str, data: dict, plan: dict, params: int, peak) -> list[dict]:
    """Every (prompt style, batch size) of the plan; the first call warms the GPU up."""
    loaded, processor = load_for_evaluation(model, plan["sizes"].precision)
    run_evaluation(loaded, processor, data, "no-thinking", plan["eval_batches"][0], 2)  # warm-up
    rows = []
    for style, tokens in plan["eval_tokens"].items():
        for batch in plan["eval_batches"]:
            try:
                row = run_evaluation(loaded, processor, data, style, batch, tokens)
            except torch.OutOfMemoryError:
                rows.append({"style": style, "batch": batch, "out_of_memory": True})
                torch.cuda.empty_cache()
                continue
            per_image = 1 / row["images_per_second"]
            row_tokens = max(row["prompt_tokens_expected"]) + tokens
            row.update(
                new_tokens_per_image=tokens,
                gpu_seconds_per_image=round(per_image, 4),
                compute_bound_ratio=bound_ratio(per_image, row_tokens, params, peak),
            )
            rows.append(row)
    del loaded
    return rows


def grpo_runs(model: str, out: Path, data: dict, plan: dict, params: int, peak) -> list[dict]:
    """CLS-RL without and with gradient checkpointing, then No-Thinking."""
    sizes = plan["sizes"]
    runs = [
        ("cls-rl", replace(sizes, gradient_checkpointing=False), sizes.completion_length),
        ("cls-rl", replace(sizes, gradient_checkpointing=True), sizes.completion_length),
        ("no-thinking", replace(sizes, gradient_checkpointing=False), plan["direct_length"]),
    ]
    rows = []
    for method, run_sizes, length in runs:
        row = run_grpo(model, out, data, run_sizes, method=method, length=length)
        step = steady(row["step_seconds"])
        generating = steady(row["generate_seconds"])
        tokens = max(row["prompt_tokens_expected"]) + length
        row.update(
            method=method,
            completion_length=length,
            seconds_per_step=round(step, 3),
            generate_share=round(generating / step, 3),
            gpu_seconds_per_completion=round(step / run_sizes.completions, 4),
            compute_bound_ratio=bound_ratio(step, tokens * run_sizes.completions, params, peak),
        )
        rows.append(row)
        torch.cuda.empty_cache() if torch.cuda.is_available() else None
    return rows


def sft_run(model: str, out: Path, data: dict, plan: dict) -> dict:
    row = run_sft(model, out, data, plan["sizes"])
    step = steady(row["step_seconds"])
    row.update(
        seconds_per_step=round(step, 3),
        gpu_seconds_per_example=round(step / plan["sizes"].sft_examples, 4),
    )
    return row


def costs(record: dict) -> dict:
    """The figures clsrl/compute/resources.py's cost model reads (one GPU, gradient checkpointing
    off)."""
    grpo = {
        ("thinking" if row["method"] == "cls-rl" else "direct"): row
        for row in record["grpo"]
        if not row["gradient_checkpointing"]
    }
    measured = [row for row in record["evaluation"] if not row.get("out_of_memory")]
    batch = min({row["batch"] for row in measured}, key=lambda b: abs(b - COST_BATCH))
    evaluation = {
        ("thinking" if row["style"] == "thinking" else "direct"): row
        for row in measured
        if row["batch"] == batch
    }
    return {
        "measured_on": record["measured_on"],
        "grpo": {
            kind: {
                "gpu_seconds_per_completion": row["gpu_seconds_per_completion"],
                "generate_share": row["generate_share"],
                "completion_tokens": row["completion_length"],
            }
            for kind, row in grpo.items()
        },
        "sft": {"gpu_seconds_per_example": record["sft"]["gpu_seconds_per_example"]},
        "evaluation": {
            kind: {
                "gpu_seconds_per_image": row["gpu_seconds_per_image"],
                "new_tokens": row["new_tokens_per_image"],
            }
            for kind, row in evaluation.items()
        },
    }


def markdown(record: dict) -> str:
    """The tables of bench/RESULTS.md."""
    where = record["measured_on"]
    lines = [
        f"{where['gpu']}, {where['date']}, commit {where['commit']}; {record['model']}, "
        f"{record['parameters']:,} parameters, {record['precision']}.",
        "",
        "| evaluation | batch | new tokens | images/s | GPU-s per image | x compute bound | "
        "peak GPU GB |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in record["evaluation"]:
        if row.get("out_of_memory"):
            lines.append(f"| {row['style']} | {row['batch']} | | out of memory | | | |")
            continue
        lines.append(
            f"| {row['style']} | {row['batch']} | {row['new_tokens_per_image']} | "
            f"{row['images_per_second']:.2f} | {row['gpu_seconds_per_image']:.3f} | "
            f"{row['compute_bound_ratio'] or ''} | {_gb(row['peak_gpu_mb'])} |"
        )
    lines += [
        "",
        f"| GRPO ({record['grpo'][0]['completions']} completions per step) | completion tokens | "
        "gradient checkpointing | "
        "s per step | generating | GPU-s per completion | x compute bound | peak GPU GB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in record["grpo"]:
        lines.append(
            f"| {row['method']} | {row['completion_length']} | "
            f"{'on' if row['gradient_checkpointing'] else 'off'} | {row['seconds_per_step']:.2f} | "
            f"{100 * row['generate_share']:.0f}% | {row['gpu_seconds_per_completion']:.3f} | "
            f"{row['compute_bound_ratio'] or ''} | {_gb(row['peak_gpu_mb'])} |"
        )
    sft = record["sft"]
    lines += [
        "",
        f"SFT: {sft['seconds_per_step']:.2f} s per step of {sft['examples_per_step']} examples "
        f"({sft['gpu_seconds_per_example']:.3f} GPU-s per example), peak GPU memory "
        f"{_gb(sft['peak_gpu_mb']) or 'n/a'} GB.",
        f"Paper (per A100): {PAPER['images_per_second']} images/s; GRPO "
        f"{PAPER['cls-rl_gpu_seconds_per_completion']} (CLS-RL) and "
        f"{PAPER['no-thinking_gpu_seconds_per_completion']} (No-Thinking) GPU-s per completion.",
        f"Total {record['seconds']:.0f} s.",
    ]
    return "\n".join(lines) + "\n"


def _gb(mb) -> str:
    return "" if mb is None else f"{mb / 1024:.1f}"


def git_commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def check(out: Path, tiny: bool) -> dict:
    """Run every phase; return the record."""
    started = time.perf_counter()
    plan = TINY if tiny else FULL
    out.mkdir(parents=True, exist_ok=True)
    model = resolve_model(None if tiny else FULL_SIZE_MODEL, out)
    data = rehearsal_data(out / "data")
    params = parameters(model)
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    peak = bf16_peak_flops(gpu)
    record = {
        "measured_on": {
            "gpu": gpu or "CPU",
            "date": date.today().isoformat(),
            "commit": git_commit(),
        },
        "model": "narrow rehearsal model (--tiny)" if tiny else FULL_SIZE_MODEL,
        "parameters": params,
        "precision": plan["sizes"].precision,
        "bf16_peak_tflops": peak / 1e12 if peak else None,
        "evaluation": evaluation_sweep(model, data, plan, params, peak),
        "grpo": grpo_runs(model, out, data, plan, params, peak),
        "sft": sft_run(model, out, data, plan),
    }
    record["seconds"] = round(time.perf_counter() - started, 1)
    record["costs"] = costs(record)
    return record


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out_dir", type=Path, help="where the model, data and results go")
    parser.add_argument("--tiny", action="store_true", help="the narrow model at toy sizes (CPU)")
    parser.add_argument(
        "--write-costs", action="store_true", help="write clsrl/gpu_costs.json (the cost model)"
    )
    args = parser.parse_args(argv)
    record = check(args.out_dir, args.tiny)
    write_json(args.out_dir / "gpu_check.json", record)
    write_atomic(args.out_dir / "gpu_check.md", markdown(record))
    if args.write_costs:
        path = Path(str(resources.files("clsrl").joinpath("gpu_costs.json")))
        write_json(path, record["costs"])
        print(f"wrote {path}")
    print(markdown(record))
    print(json.dumps(record["costs"], indent=2))


if __name__ == "__main__":
    main()
