"""Do Snakemake job groups pay on SLURM? The sbatch count and wall time of one small study with
and without grouping its evaluations (several targets of one model in one allocation).

    .venv/bin/python bench/slurm_groups.py [--runs 2] [--components 4]

Starts the real local SLURM cluster of the tests (tests/slurm_cluster.py: root and Debian's
SLURM packages needed; one node, 2 fake GPUs), then runs tests/configs/slurm.yaml (tiny model,
2 trainings, 8 evaluations) through the `slurm` profile from an empty folder, alternating plain
and grouped runs: grouped, `--groups evaluate_trained=evals evaluate_zero_shot=evals
--group-components evals=N --resources gpu=1 --set-resource-scopes gpu=local` (one GPU per group,
its evaluations in series: without the last two a group asks the sum of its members' GPUs and
CPUs, 4 of each, which this 2-GPU node never grants). Counts the sbatch calls (a wrapper records
them) and times each whole run. Prints a Markdown table for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/ holds the local SLURM cluster

from tests.slurm_cluster import (  # noqa: E402
    LocalCluster,
    ensure_installed,
    profile_for_this_cluster,
)

CONFIG = ROOT / "tests" / "configs" / "slurm.yaml"
TARGETS = ["results/tables/zero_shot.csv", "results/tables/fewshot.csv"]


def recording_sbatch(folder: Path, record: Path) -> Path:
    """A folder with an `sbatch` that appends its arguments to `record`, then runs sbatch."""
    wrapper = folder / "sbatch"
    folder.mkdir(parents=True)
    wrapper.write_text(
        f"#!{sys.executable}\nimport json, os, sys\n"
        f"with open({str(record)!r}, 'a') as calls:\n"
        "    calls.write(json.dumps(sys.argv[1:]) + '\\n')\n"
        f"os.execv({shutil.which('sbatch')!r}, ['sbatch', *sys.argv[1:]])\n"
    )
    wrapper.chmod(0o755)
    return folder


def one_run(workdir: Path, profile: Path, env: dict, record: Path, group: int | None) -> dict:
    """Run the study from an empty folder; its sbatch calls, GPUs asked and wall seconds."""
    record.write_text("")
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile")]
    command += ["--directory", str(workdir), *TARGETS, "--profile", str(profile)]
    command += ["--configfile", str(CONFIG)]
    if group:
        command += ["--groups", "evaluate_trained=evals", "evaluate_zero_shot=evals"]
        command += ["--group-components", f"evals={group}"]
        # one GPU per group, its members in series (a group otherwise sums its members' GPUs)
        command += ["--resources", "gpu=1", "--set-resource-scopes", "gpu=local"]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=workdir)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        tail = f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        sys.exit(f"the run failed ({done.returncode}):\n{tail}")
    calls = [json.loads(line) for line in record.read_text().splitlines()]
    gpus = [next((a.split("=")[1] for a in call if a.startswith("--gpus=")), "0") for call in calls]
    return {"sbatch": len(calls), "gpus": gpus, "seconds": seconds}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2, help="runs of each kind")
    parser.add_argument("--components", type=int, default=4, help="evaluations per group")
    args = parser.parse_args(argv)
    reason = ensure_installed()
    if reason:
        sys.exit(f"no SLURM cluster: {reason}")
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        cluster = LocalCluster(scratch / "slurm")
        cluster.start()
        try:
            record = scratch / "calls.jsonl"
            bin_dir = recording_sbatch(scratch / "bin", record)
            env = {**os.environ, **cluster.env, "HF_HUB_OFFLINE": "1"}
            env["PATH"] = f"{bin_dir}{os.pathsep}{cluster.env['PATH']}"
            profile = profile_for_this_cluster(scratch / "profile")
            results: dict[str, list[dict]] = {"plain": [], "grouped": []}
            for index in range(args.runs):
                for kind in ("plain", "grouped"):
                    workdir = scratch / f"{kind}-{index}"
                    workdir.mkdir()
                    group = args.components if kind == "grouped" else None
                    results[kind].append(one_run(workdir, profile, env, record, group))
                    shutil.rmtree(workdir)
                    print(kind, results[kind][-1], file=sys.stderr, flush=True)
        finally:
            cluster.stop()
    print("| run | sbatch calls | GPUs per call | wall s (median, min-max) |")
    print("|---|---|---|---|")
    for kind, runs in results.items():
        seconds = [run["seconds"] for run in runs]
        gpus = sorted(set(runs[0]["gpus"]))
        print(
            f"| {kind} | {runs[0]['sbatch']} | {', '.join(gpus)} | {statistics.median(seconds):.0f}"
            f" ({min(seconds):.0f}-{max(seconds):.0f}) |"
        )


if __name__ == "__main__":
    main()
