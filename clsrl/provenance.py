"""What produced a result: resolved settings, package versions, git revision, host and time.

Written beside every model and evaluation result, so any number can be traced to its inputs.

>>> sorted(provenance({"seed": 1}))
['cpu_numerics', 'created', 'git', 'host', 'python', 'settings', 'versions']
"""

from __future__ import annotations

import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from clsrl.cpu_numerics import numerics_in_effect

CHECKOUT = Path(__file__).resolve().parents[1]  # clsrl's repository, when it runs from one

TRACKED_PACKAGES = (
    "clsrl",
    "torch",
    "torchvision",
    "transformers",
    "trl",
    "peft",
    "accelerate",
    "datasets",
    "pandas",
    "pillow",
    "snakemake",
)


def package_versions(packages=TRACKED_PACKAGES) -> dict[str, str | None]:
    """Installed version of each package (None when it is not installed)."""
    versions = {}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_revision(directory: str | Path = CHECKOUT) -> dict[str, object]:
    """The commit of the checkout holding `directory` (by default clsrl's own, whatever the
    working directory) and whether it had uncommitted changes to tracked files; None for both
    when clsrl is an installed package, not a checkout (even inside a user's repository)."""
    if Path(directory) == CHECKOUT and not (CHECKOUT / ".git").exists():
        return {"commit": None, "dirty": None}

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=directory, capture_output=True, text=True, check=True
            )
        except (OSError, subprocess.CalledProcessError):
            return None
        return done.stdout.strip()

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def provenance(settings: dict) -> dict:
    """The record written beside a result: clsrl's revision, and the CPU numerics as they are
    in effect (clsrl.cpu_numerics.numerics_in_effect), not as asked."""
    return {
        "settings": settings,
        "versions": package_versions(),
        "git": git_revision(),
        "python": platform.python_version(),
        "host": platform.node(),
        "cpu_numerics": numerics_in_effect(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
