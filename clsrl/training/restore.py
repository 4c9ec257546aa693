"""Resume a training from its checkpoint completely, and check that it did.

transformers 5.24's Trainer restores a checkpoint's optimizer, scheduler, RNG states and step, but
loads its weights with `model.load_state_dict(..., strict=False)` under the names `save_pretrained`
wrote. For most vision-language models those are not the names in memory (Qwen2-VL saves
`model.layers.*` and `visual.*` and holds `model.language_model.*` and `model.visual.*`): nothing
loads, one log line lists "missing keys", and training goes on from the base weights
(huggingface/transformers issue 43701). The Trainer has no hook for its weight loading, so
`CheckpointRestore` replaces it on one trainer instance (`trainer._load_from_checkpoint`):

- full fine-tuning: the saved keys are renamed as `from_pretrained` renames them (the model's own
  conversion mapping), then loaded; a key left over on either side is an error (a parameter may
  be absent only when it is tied to a loaded one, as `lm_head.weight` to the embeddings);
- LoRA: the adapter, through peft's `set_peft_model_state_dict`; the adapter state read back must
  equal the file's, key for key;
- FSDP: the Trainer's own path (accelerate reads `pytorch_model_fsdp.bin`, which holds the
  in-memory names, and loads it strictly); the weights, gathered, are checksummed against it.

Before the first resumed step it checks that training starts from what the checkpoint holds: the
weights (exact checksums, `weight_checksum`), the optimizer's state and step count, the
scheduler's step and the global step; when the RNG states are restored, that they are the file's.
Any difference stops the job (`CheckpointMismatch`). `record()` says what was restored, for
training_record.json.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file
from transformers import TrainerCallback

from clsrl.datasets.checks import listed

WEIGHTS_FILE = "model.safetensors"
WEIGHTS_INDEX_FILE = "model.safetensors.index.json"
FSDP_WEIGHTS_FILE = "pytorch_model_fsdp.bin"  # accelerate's FULL_STATE_DICT, in-memory names
CHECKSUM_CHUNK = 1 << 24  # elements summed at once: bounds the int64 copy's memory
INTEGER_VIEWS = {1: torch.int8, 2: torch.int16, 4: torch.int32, 8: torch.int64}


class CheckpointMismatch(RuntimeError):
    """A checkpoint did not restore what it holds; the message names the checkpoint and what
    differs."""


def weight_checksum(tensor: torch.Tensor) -> int:
    """An exact checksum of a tensor's values: the sum of their bit patterns read as integers.
    Integer sums do not depend on the order of summation, so equal tensors give equal checksums
    on any device; a changed value changes it.

    >>> weight_checksum(torch.tensor([0.5, 2.0])) == weight_checksum(torch.tensor([0.5, 2.0]))
    True
    >>> weight_checksum(torch.tensor([0.5, 2.0])) == weight_checksum(torch.tensor([0.5, 2.0000002]))
    False
    """
    if hasattr(tensor, "to_local"):  # an FSDP shard (DTensor): this process's part
        tensor = tensor.to_local()
    flat = tensor.detach().contiguous().view(-1)
    bits = flat.view(INTEGER_VIEWS[flat.element_size()])
    return sum(int(chunk.to(torch.int64).sum()) for chunk in bits.split(CHECKSUM_CHUNK))


def weight_checksums(tensors: dict[str, torch.Tensor]) -> dict[str, int]:
    """`weight_checksum` of each named tensor."""
    return {name: weight_checksum(tensor) for name, tensor in tensors.items()}


def trainable_weights(model) -> dict[str, torch.Tensor]:
    """The parameters a training updates, by name."""
    return {name: p for name, p in model.named_parameters() if p.requires_grad}


def read_checkpoint_weights(checkpoint: Path) -> dict[str, torch.Tensor]:
    """The weights `save_pretrained` wrote in a checkpoint (one file or shards), on the CPU."""
    index = checkpoint / WEIGHTS_INDEX_FILE
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        weights = {}
        for shard in shards:
            weights.update(load_file(checkpoint / shard, device="cpu"))
        return weights
    if (checkpoint / WEIGHTS_FILE).is_file():
        return load_file(checkpoint / WEIGHTS_FILE, device="cpu")
    raise CheckpointMismatch(
        f"{checkpoint} holds no model weights ({WEIGHTS_FILE} or {WEIGHTS_INDEX_FILE}); delete "
        "it and rerun the job to start afresh"
    )


def in_memory_names(model, saved_keys) -> dict[str, str]:
    """{saved key: the name of the model's tensor it loads into}, renamed as `from_pretrained`
    renames a saved model's keys for this model class."""
    from transformers.conversion_mapping import get_model_conversion_mapping
    from transformers.core_model_loading import WeightConverter, WeightRenaming, rename_source_key

    transforms = get_model_conversion_mapping(model)
    renamings = [t for t in transforms if isinstance(t, WeightRenaming)]
    converters = [t for t in transforms if isinstance(t, WeightConverter)]
    in_memory = model.state_dict()
    names = {}
    for key in saved_keys:
        name, converted_by = rename_source_key(
            key, renamings, converters, model.base_model_prefix, in_memory
        )
        if converted_by is not None:
            raise CheckpointMismatch(
                f"{type(model).__name__} converts the saved weight {key!r} when it loads (not a "
                "renaming), which resuming does not support; set training.save_steps above the "
                "job's step count to train it without checkpoints"
            )
        names[key] = name
    return names


def tied_to_loaded(model, loaded: set[str]) -> set[str]:
    """Parameter names that share their tensor with a loaded one (tied weights)."""
    aliases: dict[int, list[str]] = {}
    for name, parameter in model.named_parameters(remove_duplicate=False):
        aliases.setdefault(id(parameter), []).append(name)
    return {name for names in aliases.values() if loaded & set(names) for name in names} - loaded


def _names(keys) -> str:
    """The first few names, sorted, then how many more."""
    return listed(sorted(keys), limit=5)


def load_full_weights(model, checkpoint: Path) -> dict[str, int]:
    """Load a checkpoint's weights into `model`, strictly; return the checksums of what loaded."""
    saved = read_checkpoint_weights(checkpoint)
    names = in_memory_names(model, saved)
    weights = {names[key]: tensor for key, tensor in saved.items()}
    if len(weights) < len(saved):
        raise CheckpointMismatch(f"{checkpoint}: several saved weights load into one tensor")
    result = model.load_state_dict(weights, strict=False)
    missing = set(result.missing_keys) - tied_to_loaded(model, set(weights))
    unexpected = result.unexpected_keys
    if missing or unexpected:
        raise CheckpointMismatch(
            f"{checkpoint} does not hold the weights of this model (a {type(model).__name__}): "
            f"missing {_names(missing) or 'none'}; unexpected {_names(unexpected) or 'none'}. "
            "Was it written by another base model? Delete it and rerun the job to start afresh"
        )
    in_model = model.state_dict()
    loaded = weight_checksums({name: in_model[name] for name in weights})
    differ = [
        name
        for name, tensor in weights.items()
        if weight_checksum(tensor.to(in_model[name].dtype)) != loaded[name]
    ]
    if differ:
        raise CheckpointMismatch(f"{checkpoint}: loading left {_names(differ)} unlike the file")
    return loaded


def load_adapter_weights(model, checkpoint: Path) -> dict[str, int]:
    """Load a checkpoint's LoRA adapter into a peft model, strictly; return the checksums of
    the trainable weights."""
    from peft import get_peft_model_state_dict, set_peft_model_state_dict
    from peft.utils import load_peft_weights

    adapter = model.active_adapters[0]
    saved = load_peft_weights(str(checkpoint), device="cpu")
    set_peft_model_state_dict(model, saved, adapter_name=adapter)
    now = get_peft_model_state_dict(model, adapter_name=adapter)
    missing, unexpected = set(now) - set(saved), set(saved) - set(now)
    differ = [
        key for key in set(saved) & set(now) if not torch.equal(saved[key].to(now[key]), now[key])
    ]
    if missing or unexpected or differ:
        raise CheckpointMismatch(
            f"{checkpoint} does not restore this model's LoRA adapter: missing "
            f"{_names(missing) or 'none'}; unexpected {_names(unexpected) or 'none'}; unlike the "
            f"file after loading {_names(differ) or 'none'}. Delete it and rerun to start afresh"
        )
    return weight_checksums(trainable_weights(model))


def _optimizer_steps(optimizer) -> tuple[int, set[int]]:
    """(parameters with optimizer state, their distinct step counts)."""
    states = optimizer.state_dict()["state"]
    return len(states), {int(state["step"]) for state in states.values() if "step" in state}


class CheckpointRestore(TrainerCallback):
    """Restore every part of `checkpoint` (committed at `step`) into `trainer`, and check it.

    trainer.add_callback(CheckpointRestore(trainer, checkpoint, step))
    trainer.train(resume_from_checkpoint=str(checkpoint))
    """

    def __init__(self, trainer, checkpoint: Path, step: int):
        self.checkpoint, self.step = Path(checkpoint), step
        self.trainer = trainer
        self.loaded: dict[str, int] | None = None  # checksums of the weights as loaded
        self.restored: dict = {"checkpoint": str(self.checkpoint), "step": step}
        # The Trainer's weight loading has no hook: replaced on this instance only, as is its RNG
        # loading, which is wrapped to check what it restored.
        self._trainer_load = trainer._load_from_checkpoint
        self._trainer_load_rng = trainer._load_rng_state
        trainer._load_from_checkpoint = self._load_weights
        trainer._load_rng_state = self._load_rng_state

    def _load_weights(self, checkpoint: str, model=None) -> None:
        if Path(checkpoint) != self.checkpoint:
            raise CheckpointMismatch(f"asked to resume {checkpoint}, not {self.checkpoint}")
        model = model if model is not None else self.trainer.model
        if self.trainer.is_fsdp_enabled:
            self._trainer_load(checkpoint, model)
            self.restored["weights"] = {"what": "FSDP shards, loaded by accelerate"}
            return
        from peft import PeftModel

        if isinstance(model, PeftModel):
            self.loaded = load_adapter_weights(model, self.checkpoint)
            self.restored["weights"] = {"what": "LoRA adapter", "tensors": len(self.loaded)}
        else:
            self.loaded = load_full_weights(model, self.checkpoint)
            self.restored["weights"] = {"what": "full model", "tensors": len(self.loaded)}

    def _weights_now(self, model) -> dict[str, int]:
        """Checksums of the loaded weights as the model holds them now."""
        from peft import PeftModel

        tensors = trainable_weights(model) if isinstance(model, PeftModel) else model.state_dict()
        return weight_checksums({name: tensors[name] for name in self.loaded if name in tensors})

    def on_train_begin(self, args, state, control, model=None, optimizer=None, **kwargs):
        problems = []
        if "weights" not in self.restored:
            problems.append("its weights were never loaded")
        if state.global_step != self.step:
            problems.append(f"the trainer is at step {state.global_step}, not {self.step}")
        if self.trainer.is_fsdp_enabled:
            problems += self._check_fsdp_weights(model)
        elif self.loaded is not None:
            now = self._weights_now(model)
            changed = [name for name, checksum in self.loaded.items() if now.get(name) != checksum]
            if changed:
                problems.append(f"the weights {_names(changed)} are not the checkpoint's")
            else:
                self.restored["weights"]["checked"] = "exact checksums before the first step"
        parameters, steps = _optimizer_steps(optimizer)
        if parameters == 0:
            problems.append("the optimizer holds no state (its moments were not restored)")
        elif steps and steps != {self.step}:
            problems.append(f"the optimizer's step counts are {sorted(steps)}, not {self.step}")
        else:
            self.restored["optimizer"] = {"parameters_with_state": parameters, "step": self.step}
        scheduler = kwargs.get("lr_scheduler")
        if scheduler is not None and scheduler.last_epoch != self.step:
            problems.append(f"the learning-rate schedule is at step {scheduler.last_epoch}")
        elif scheduler is not None:
            self.restored["scheduler"] = {"step": scheduler.last_epoch}
        if problems:
            raise CheckpointMismatch(f"resuming {self.checkpoint}: " + "; ".join(problems))

    def _check_fsdp_weights(self, model) -> list[str]:
        """Gather the sharded weights (every process takes part) and compare them with the
        checkpoint's `pytorch_model_fsdp.bin` on the main process; every process learns the
        outcome, so that all stop together."""
        accelerator = self.trainer.accelerator
        whole = accelerator.get_state_dict(model)  # a collective: whole on the main process
        differ: list[str] = []
        checked = 0
        if accelerator.is_main_process:
            saved_file = self.checkpoint / FSDP_WEIGHTS_FILE
            if not saved_file.is_file():
                differ = [f"{FSDP_WEIGHTS_FILE} (absent: not a FULL_STATE_DICT checkpoint)"]
            else:
                saved = torch.load(saved_file, weights_only=True, map_location="cpu")
                from peft import PeftModel

                # Under LoRA the file holds the adapter only: every trainable weight must be in it.
                needed = set(trainable_weights(model)) if isinstance(model, PeftModel) else whole
                checked = len(saved)
                differ = sorted((saved.keys() - whole.keys()) | (needed - saved.keys())) + [
                    name
                    for name in saved.keys() & whole.keys()
                    if weight_checksum(saved[name]) != weight_checksum(whole[name])
                ]
        flag = torch.tensor([float(len(differ))], device=accelerator.device)
        if accelerator.reduce(flag, reduction="sum").item() > 0:
            return [f"the gathered weights {_names(differ) or 'on the main process'} are not its"]
        self.restored["weights"].update(
            tensors=checked,
            checked="gathered, exact checksums before the first step",
        )
        return []

    def _load_rng_state(self, checkpoint) -> None:
        self._trainer_load_rng(checkpoint)
        args = self.trainer.args
        name = f"rng_state_{args.process_index}.pth" if args.world_size > 1 else "rng_state.pth"
        path = self.checkpoint / name
        if not path.is_file():
            raise CheckpointMismatch(f"{self.checkpoint} holds no {name}: its RNG states are lost")
        from transformers.trainer_pt_utils import safe_globals

        with safe_globals():  # numpy's state, as the Trainer reads it
            saved = torch.load(path, weights_only=True)
        restored = (
            torch.equal(torch.random.get_rng_state(), saved["cpu"])
            and random.getstate() == saved["python"]
            and _same_numpy_state(np.random.get_state(), saved["numpy"])
        )
        if not restored:
            raise CheckpointMismatch(f"{path}: the RNG states were not restored")
        self.restored["rng"] = {"file": name, "checked": "python, numpy and torch CPU states"}

    def on_step_end(self, args, state, control, **kwargs):
        if "rng" not in self.restored:  # the Trainer sets them before the first resumed step
            raise CheckpointMismatch(
                f"{self.checkpoint}: step {state.global_step} ran without the checkpoint's RNG "
                "states restored"
            )

    def record(self) -> dict:
        """What was restored and checked, for training_record.json."""
        return {**self.restored, "rng": self.restored.get("rng", "not needed: no step was left")}


def _same_numpy_state(a, b) -> bool:
    return all(
        np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y
        for x, y in zip(a, b, strict=True)
    )
