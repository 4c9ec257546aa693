"""Run clsrl.training.train under FSDP2 on the CPU, for tests: one process of a torchrun launch.

    torchrun --nproc_per_node 2 tests/training/fsdp_on_cpu.py --spec ...   # train's arguments
    # with fsdp_environment() in the environment: envs/accelerate/fsdp.yaml as `accelerate
    # launch` gives it to its processes, and the repository on PYTHONPATH

On a GPU, `accelerate launch --config_file envs/accelerate/fsdp.yaml` runs FSDP2. On the CPU,
accelerate needs MPI to launch, and its AcceleratorState promotes only GPU-like runs to FSDP: a
torchrun run on the CPU (MULTI_CPU, gloo) silently drops the FSDP plugin and trains with DDP.
This launcher promotes it, so that FSDP2's sharded weights, its checkpoints
(`pytorch_model_fsdp.bin`) and their resume run here; tests check `is_fsdp2` in the record.

It lives in tests/training/, not tests/: a script's folder comes first on its import path, and
tests/datasets/ there would stand in for the `datasets` package.
"""

import runpy
import sys
from pathlib import Path

import accelerate.state
from accelerate.utils import DistributedType

ROOT = Path(__file__).resolve().parents[2]


def promote_fsdp_on_cpu() -> None:
    """Make accelerate keep its FSDP plugin in a CPU run of several processes."""
    original = accelerate.state.AcceleratorState.__init__

    def init(self, *args, fsdp_plugin=None, **kwargs):
        original(self, *args, fsdp_plugin=fsdp_plugin, **kwargs)
        if fsdp_plugin is not None and self.distributed_type == DistributedType.MULTI_CPU:
            self.distributed_type = DistributedType.FSDP
            self.fsdp_plugin = fsdp_plugin
            accelerate.state.PartialState._shared_state["distributed_type"] = DistributedType.FSDP

    accelerate.state.AcceleratorState.__init__ = init


def fsdp_environment(processes: int = 2) -> dict[str, str]:
    """The variables `accelerate launch` gives its processes for envs/accelerate/fsdp.yaml."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils.launch import prepare_multi_gpu_env

    config = str(ROOT / "envs/accelerate/fsdp.yaml")
    arguments = ["--config_file", config, "--num_processes", str(processes), "train.py"]
    launch, *_ = _validate_launch_command(launch_command_parser().parse_args(arguments))
    environment = prepare_multi_gpu_env(launch)
    return {k: v for k, v in environment.items() if k.startswith(("ACCELERATE_", "FSDP_"))}


if __name__ == "__main__":
    promote_fsdp_on_cpu()
    sys.argv = ["clsrl.training.train", *sys.argv[1:]]
    runpy.run_module("clsrl.training.train", run_name="__main__", alter_sys=True)
