"""A real single-node SLURM cluster for tests: munge, slurmctld, slurmd on localhost, 2 fake GPUs.

Debian's packages (Slurm 22.05) run as root without systemd. Everything the cluster writes (config,
state, logs, PID files, fake GPU devices) lives in one folder; clients find it through $SLURM_CONF,
so no /etc/slurm/slurm.conf is written: with slurm on PATH and no config, `scontrol` fails at once,
and the other tests' snakemake calls are not slowed down. Daemons are started in the foreground and
stopped by their PIDs. Jobs are killed when they use more memory than they asked for
(jobacct_gather/linux with OverMemoryKill, sampled every second), so a job can fail for memory.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import yaml

PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"]
BINARIES = ["slurmctld", "slurmd", "sbatch", "srun", "squeue", "scontrol", "munged"]
PARTITION = "clsrl-test"
GPUS = 2
START_TIMEOUT_S = 60


def ensure_installed() -> str | None:
    """None once SLURM's binaries are here (installing Debian's packages if needed), else why."""
    if all(shutil.which(binary) for binary in BINARIES):
        return None
    if os.geteuid() != 0:
        return "SLURM is not installed and installing it needs root (apt-get install " + " ".join(
            PACKAGES
        )
    if shutil.which("apt-get") is None:
        return "SLURM is not installed and there is no apt-get to install Debian's packages"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES]
    done = subprocess.run(install, capture_output=True, text=True, env=env)
    if done.returncode != 0:  # a stale package index: refresh it once
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env)
        done = subprocess.run(install, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        return f"apt-get could not install SLURM ({done.returncode}):\n{done.stderr[-2000:]}"
    missing = [binary for binary in BINARIES if shutil.which(binary) is None]
    return f"installed SLURM but these are still missing: {missing}" if missing else None


def profile_for_this_cluster(folder: Path, **settings) -> Path:
    """slurm/config.yaml in `folder` with this cluster's partition, no accounting (sacct fails
    without slurmdbd: poll with squeue), fast polling, and `settings` (profile keys)."""
    root = Path(__file__).resolve().parents[1]
    profile = yaml.safe_load((root / "slurm" / "config.yaml").read_text())
    profile["default-resources"]["slurm_partition"] = PARTITION
    profile.update(
        {
            "slurm-status-command": "squeue",
            "slurm-no-account": True,
            "seconds-between-status-checks": 1,
            "slurm-init-seconds-before-status-checks": 1,
            "latency-wait": 5,
            **settings,
        }
    )
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(profile))
    return folder


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def node_memory_mb() -> int:
    """90% of the memory slurmd sees (a node may not offer more than it has)."""
    found = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout
    real = int(found.split("RealMemory=")[1].split()[0])
    return int(real * 0.9)


class LocalCluster:
    """munged (unless one already runs), slurmctld and slurmd, all under `root`."""

    def __init__(self, root: Path):
        self.root = root
        self.conf = root / "slurm.conf"
        self.processes: dict[str, subprocess.Popen] = {}

    @property
    def env(self) -> dict[str, str]:
        """What a client (sbatch, squeue, snakemake) needs to reach this cluster: $SLURM_CONF, and
        first on PATH an srun that sets it, as the executor plugin clears SLURM_* variables before
        its srun inside a job (a real node finds /etc/slurm/slurm.conf instead)."""
        return {
            "SLURM_CONF": str(self.conf),
            "PATH": f"{self.root / 'bin'}{os.pathsep}{os.environ['PATH']}",
        }

    def write_config(self) -> None:
        for folder in ("state", "spool", "dev", "bin"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        srun = self.root / "bin" / "srun"
        srun.write_text(f'#!/bin/sh\nSLURM_CONF={self.conf} exec {shutil.which("srun")} "$@"\n')
        srun.chmod(0o755)
        devices = []
        for index in range(GPUS):  # character devices: a count-only gres line is dropped
            device = self.root / "dev" / f"fakegpu{index}"
            if not device.exists():
                subprocess.run(["mknod", str(device), "c", "195", str(index)], check=True)
            devices.append(device)
        (self.root / "gres.conf").write_text(
            f"Name=gpu File={self.root}/dev/fakegpu[0-{GPUS - 1}]\n"
        )
        self.conf.write_text(
            "\n".join(
                [
                    "ClusterName=clsrltest",
                    "SlurmctldHost=localhost",
                    f"SlurmctldPort={free_port()}",
                    f"SlurmdPort={free_port()}",
                    "SlurmUser=root",
                    "AuthType=auth/munge",
                    "ProctrackType=proctrack/linuxproc",
                    "TaskPlugin=task/none",
                    "SelectType=select/cons_tres",
                    "SelectTypeParameters=CR_Core_Memory",
                    "DefMemPerCPU=1000",
                    "GresTypes=gpu",
                    "MpiDefault=none",
                    "ReturnToService=2",
                    "MinJobAge=600",  # finished jobs stay visible to squeue (status polling)
                    "JobAcctGatherType=jobacct_gather/linux",
                    "JobAcctGatherFrequency=task=1",
                    "JobAcctGatherParams=OverMemoryKill",
                    f"StateSaveLocation={self.root}/state",
                    f"SlurmdSpoolDir={self.root}/spool",
                    f"SlurmctldPidFile={self.root}/slurmctld.pid",
                    f"SlurmdPidFile={self.root}/slurmd.pid",
                    f"SlurmctldLogFile={self.root}/slurmctld.log",
                    f"SlurmdLogFile={self.root}/slurmd.log",
                    f"NodeName=localhost CPUs={os.cpu_count()} RealMemory={node_memory_mb()} "
                    f"Gres=gpu:{GPUS} State=UNKNOWN",
                    # Not the default partition: a job reaches it only if the profile names it.
                    f"PartitionName={PARTITION} Nodes=localhost MaxTime=INFINITE State=UP",
                    "",
                ]
            )
        )

    def munge_runs(self) -> bool:
        encoded = subprocess.run(["munge", "-n"], capture_output=True)
        return (
            encoded.returncode == 0
            and subprocess.run(["unmunge"], input=encoded.stdout, capture_output=True).returncode
            == 0
        )

    def start(self) -> None:
        """Start the daemons and wait until the node takes jobs."""
        self.write_config()
        env = {**os.environ, **self.env}
        if not self.munge_runs():
            run_dir = Path("/run/munge")
            run_dir.mkdir(exist_ok=True)
            shutil.chown(run_dir, "munge", "munge")
            self.launch("munged", ["munged", "--foreground", "--force"], env, user="munge")
            self.wait_for(self.munge_runs, "munged to answer")
        self.launch("slurmctld", ["slurmctld", "-D", "-i"], env)
        self.wait_for(lambda: self.client(["scontrol", "ping"]).returncode == 0, "slurmctld")
        self.launch("slurmd", ["slurmd", "-D", "-N", "localhost"], env)
        self.wait_for(self.node_idle, "the node to become idle")

    def launch(self, name: str, command: list[str], env: dict, user: str | None = None) -> None:
        log = (self.root / f"{name}.out").open("w")
        self.processes[name] = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, user=user
        )

    def client(self, command: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run(
            command, capture_output=True, text=True, env={**os.environ, **self.env}, timeout=30
        )

    def node_idle(self) -> bool:
        state = self.client(["sinfo", "-h", "-N", "-o", "%t"]).stdout.strip()
        return state == "idle"

    def wait_for(self, ready, what: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not ready():
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited ({process.returncode}):\n{self.logs()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for {what}:\n{self.logs()}")
            time.sleep(0.5)

    def logs(self) -> str:
        """The tail of every daemon log, for failure messages."""
        parts = []
        for path in sorted(self.root.glob("*.log")) + sorted(self.root.glob("*.out")):
            parts.append(f"--- {path.name}\n" + "\n".join(path.read_text().splitlines()[-20:]))
        return "\n".join(parts)

    def stop(self) -> None:
        """Stop the daemons this cluster started, by PID, newest first."""
        for name in reversed(list(self.processes)):
            process = self.processes[name]
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()
