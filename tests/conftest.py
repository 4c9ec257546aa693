"""Shared helpers: running the real Snakefile in a scratch folder."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
WORKFLOW_TIMEOUT_S = 900


def run_snakemake(workdir: Path, *args: str, configfile: Path | None = None, check: bool = True):
    """Run the repository's Snakefile with `workdir` as its working directory."""
    command = [*SNAKEMAKE, "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir)]
    if configfile is not None:
        command += ["--configfile", str(configfile)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    done = subprocess.run(
        [*command, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=WORKFLOW_TIMEOUT_S,
        cwd=workdir,
    )
    if check and done.returncode != 0:
        pytest.fail(f"snakemake failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done
