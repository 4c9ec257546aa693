"""Publish a trained model: whole on the main process, checked against the base model, written
atomically with its spec, record and step log.

    model = whole_trained_model(trainer, fresh_model)   # every process (FSDP gathers)
    if model is not None:                               # the main process
        check_weights_changed(trainer.state, model, base_checksums)
        save_final_model(model, trainer, processor, spec, output_dir, restored, dtypes)

Under FSDP each process holds a shard of every weight: saving or merging a LoRA adapter needs them
whole, so every process takes part in gathering them and the main process loads them into a
fresh copy of the base model (the training's own copy stays sharded).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import torch

from clsrl.compute.disk_space import disk_full_explained
from clsrl.io import folder_written_atomically, write_atomic, write_json
from clsrl.provenance import provenance
from clsrl.training.restore import weight_checksums
from clsrl.training.spec import TrainingSpec

SPEC_FILE = "training_spec.json"
RECORD_FILE = "training_record.json"
LOG_HISTORY_FILE = "log_history.csv"


class WeightsUnchanged(RuntimeError):
    """Training ran steps with gradients, yet the weights it trained are the base model's."""


def whole_trained_model(trainer, fresh_model: Callable[[], torch.nn.Module]):
    """The trained model with whole weights on the main process, None on the others. Under FSDP
    every process must call it (the shards are gathered); `fresh_model()` builds the model the
    gathered weights load into (the base model, with the LoRA adapter if the job has one)."""
    if not trainer.is_fsdp_enabled:
        return trainer.model if trainer.is_world_process_zero() else None
    weights = trainer.accelerator.get_state_dict(trainer.model)  # a collective
    if not trainer.is_world_process_zero():
        return None
    model = fresh_model()
    model.load_state_dict(weights, strict=True)
    return model


def check_weights_changed(state, model, base_checksums: dict[str, int]) -> None:
    """Raise WeightsUnchanged when a logged step had a gradient and a learning rate above zero
    and the weights that were trained still equal the base model's in `model`, bit for bit
    (`base_checksums`, by name, taken before training). A run whose steps had no gradient
    (GRPO rewards all alike) may leave them so."""
    norms = [
        entry["grad_norm"]
        for entry in state.log_history
        if entry.get("grad_norm", 0) > 0 and entry.get("learning_rate", 0) > 0
    ]
    now = dict(model.named_parameters())
    trained = weight_checksums({name: now[name] for name in base_checksums if name in now})
    if norms and trained == base_checksums:
        raise WeightsUnchanged(
            f"training reached step {state.global_step} with gradients (grad_norm up to "
            f"{max(norms):.3g}), yet the weights it trained equal the base model's, bit for bit: "
            "the model is not published. A checkpoint or optimizer fault, not a result; the log "
            "above says what was resumed"
        )


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def save_final_model(
    model,
    trainer,
    processor,
    spec: TrainingSpec,
    output_dir: Path,
    restored: dict | None,
    dtypes: dict,
) -> None:
    """`model` (LoRA merged, in the compute dtype), processor, spec, record and step log; renamed
    into place at the end. `restored`: what was restored from a checkpoint, checked
    (clsrl.training.restore.CheckpointRestore.record), or None for a run from the base model."""
    if spec.lora is not None:
        model = model.merge_and_unload()
    saved_dtype = torch.bfloat16 if dtypes["compute_dtype"] == "bfloat16" else torch.float32
    model = model.to(saved_dtype)  # a bf16 model is published in bf16, as Qwen2-VL is
    record = provenance(spec.as_mapping())
    record.update(
        resumed_from=restored["checkpoint"] if restored else None,
        restored=restored,
        global_step=trainer.state.global_step,
        world_size=trainer.args.world_size,
        fsdp=bool(trainer.is_fsdp_enabled),
        train_runtime_s=next(
            (e["train_runtime"] for e in trainer.state.log_history if "train_runtime" in e), None
        ),
        **dtypes,
        saved_dtype=dtype_name(saved_dtype),
    )
    steps = [entry for entry in trainer.state.log_history if "train_runtime" not in entry]
    model_bytes = sum(p.numel() for p in model.parameters()) * saved_dtype.itemsize
    with (
        disk_full_explained(output_dir.parent, model_bytes, f"the model {output_dir.name}"),
        folder_written_atomically(output_dir) as staging,
    ):
        model.save_pretrained(staging)
        processor.save_pretrained(staging)
        write_json(staging / SPEC_FILE, spec.as_mapping())
        write_json(staging / RECORD_FILE, record)
        write_atomic(staging / LOG_HISTORY_FILE, pd.DataFrame(steps).to_csv(index=False))


def published_runs(results: str | Path) -> dict:
    """What produced the trained models under a study's `results` folder, from their records:
    the commits, whether any ran with uncommitted changes or outside git (`dirty`), the CPU
    numerics; with today's date and this machine (for a record of the study's results)."""
    runs = [
        json.loads(path.read_text())
        for path in sorted(Path(results).glob(f"models/**/{RECORD_FILE}"))
    ]
    return {
        "commits": sorted({run["git"]["commit"] for run in runs if run["git"]["commit"]}),
        "dirty": any(run["git"]["dirty"] is not False for run in runs),
        "cpu_numerics": sorted({run["cpu_numerics"] for run in runs}),
        "date": datetime.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
    }
