"""Is a hub model there? Checked once, before any job that loads it, instead of in every job.

A hub name in `base_model` that is neither in the local hub cache nor reachable would otherwise
cost every training and evaluation job a minute or more to fail (and where packets are dropped, a
job can hang), each with huggingface_hub's raw error. The Snakefile asks `hub_model_problem` when a
real run (not a dry run) is about to start a job that loads the model.

>>> hub_model_problem("Qwen/Qwen2-VL-2B-Instruct", offline=True, cached=False)  # doctest: +ELLIPSIS
"base_model 'Qwen/Qwen2-VL-2B-Instruct' is not in the hub cache (...) and HF_HUB_OFFLINE=1 ..."
"""

from __future__ import annotations

import os

from clsrl.io import looks_like_local_path

PROBE_TIMEOUT_S = 10
OFFLINE_VALUES = ("1", "ON", "YES", "TRUE")


def hub_offline() -> bool:
    """Whether HF_HUB_OFFLINE forbids the network."""
    return os.environ.get("HF_HUB_OFFLINE", "").upper() in OFFLINE_VALUES


def is_cached(name: str) -> bool:
    """Whether the hub cache holds the model (its config.json)."""
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(name, "config.json"), str)


def cache_dir() -> str:
    from huggingface_hub.constants import HF_HUB_CACHE

    return str(HF_HUB_CACHE)


def hub_model_problem(
    name: str, *, offline: bool | None = None, cached: bool | None = None
) -> str | None:
    """None when `name` is a local folder, a cached hub model or one the hub answers for; else
    a message naming base_model, what was tried and how to fix it."""
    if name.startswith("builtin:") or looks_like_local_path(name):
        return None
    cached = is_cached(name) if cached is None else cached
    if cached:
        return None
    offline = hub_offline() if offline is None else offline
    where = f"not in the hub cache ({cache_dir()})"
    fix = (
        f"download it once where the hub is reachable (`hf download {name}`, or "
        f"`huggingface-cli download {name}`; set HF_HOME to a folder the compute nodes share), "
        "or set base_model to a local folder holding the model"
    )
    if offline:
        return f"base_model {name!r} is {where} and HF_HUB_OFFLINE=1 forbids downloading it: {fix}."
    from huggingface_hub import model_info

    try:
        model_info(name, timeout=PROBE_TIMEOUT_S)
    except Exception as error:  # any failure to reach it (network, 401/403/404): report it whole
        return (
            f"base_model {name!r} is {where}, and asking the hub for it failed within "
            f"{PROBE_TIMEOUT_S} s ({type(error).__name__}: {error}): {fix}; for gated or private "
            "models log in first (`hf auth login`)."
        )
    return None
