"""Shared helpers: running the real Snakefile in a scratch folder."""

import os
import subprocess
import sys
import types
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
WORKFLOW_TIMEOUT_S = 900


def run_snakemake(
    workdir: Path,
    *args: str,
    configfile: Path | None = None,
    check: bool = True,
    snakefile: Path = ROOT / "Snakefile",
    env: dict | None = None,
):
    """Run a Snakefile (the repository's by default) with `workdir` as its working directory."""
    command = [*SNAKEMAKE, "--snakefile", str(snakefile), "--directory", str(workdir)]
    if configfile is not None:
        command += ["--configfile", str(configfile)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", **(env or {})}
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


def paper_options(**changes):
    """The paper's option-list settings (the schema's defaults), seed 0, with `changes`."""
    from dataclasses import replace

    from clsrl.config import default_config
    from clsrl.questions import OptionSettings, option_params
    from clsrl.views import View

    few_shot = option_params(default_config(), View("EuroSAT"))
    return replace(OptionSettings(**few_shot, seed=0), **changes)


def paper_eval(style, **changes):
    """The paper's evaluation settings (the schema's defaults) for a style, with `changes`."""
    from dataclasses import replace

    from clsrl.config import default_config
    from clsrl.evaluation.evaluate import EvalSettings
    from clsrl.views import View
    from clsrl.workflow.study import Study

    settings = Study(default_config()).eval_settings(style, View("any"))
    return replace(EvalSettings(**settings), **changes)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """The offline tiny Qwen2-VL, built once per test session."""
    from clsrl.datasets.demo import demo_texts
    from clsrl.models.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", seed=0, corpus=demo_texts())


@pytest.fixture(scope="session")
def colours_dir(tmp_path_factory) -> Path:
    """The demo-colours dataset (8 train images per class), generated once per test session."""
    from clsrl.datasets.demo import generate_demo_dataset

    out = tmp_path_factory.mktemp("data") / "demo-colours"
    generate_demo_dataset("demo-colours", out, per_class={"train": 8, "val": 1, "test": 4})
    return out


@pytest.fixture
def fake_vllm(monkeypatch):
    """A `vllm` module whose `LLM` records its arguments and answers each request with
    `module.reply(request)` (by default: the prompt echoed back)."""
    module = types.ModuleType("vllm")
    module.llms = []
    module.reply = lambda request: f"echo {request['prompt']}"

    class SamplingParams:
        def __init__(self, **kwargs):
            self.kwargs = kwargs

    class LLM:
        def __init__(self, **kwargs):
            self.kwargs = kwargs
            self.calls = []
            module.llms.append(self)

        def generate(self, prompts, sampling_params=None, **kwargs):
            self.calls.append((list(prompts), sampling_params))
            return [
                SimpleNamespace(outputs=[SimpleNamespace(text=module.reply(p))]) for p in prompts
            ]

    module.LLM = LLM
    module.SamplingParams = SamplingParams
    monkeypatch.setitem(sys.modules, "vllm", module)
    return module
