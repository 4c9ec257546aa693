"""Pinned CPU numerics (clsrl.cpu_numerics): the environment, the refusal of an unpinned process,
the command-line runner. That pinned runs give the same weights whatever instruction sets MKL and
oneDNN may use is checked in tests/toy/test_toy_world.py (it trains)."""

import json
import os
import subprocess
import sys

import pytest

from clsrl.cpu_numerics import MARKER, PINNED_ENV, pinned_environment
from tests.conftest import ROOT


def test_a_process_started_without_the_pinned_environment_is_refused():
    from clsrl.cpu_numerics import UnpinnedError

    before = {name: os.environ.get(name) for name in PINNED_ENV}
    env = {k: v for k, v in os.environ.items() if k not in PINNED_ENV}
    code = "from clsrl.cpu_numerics import pin_process; pin_process()"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode != 0 and UnpinnedError.__name__ in result.stderr
    with pinned_environment():
        pinned = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert pinned.returncode == 0, pinned.stderr
    assert {name: os.environ.get(name) for name in PINNED_ENV} == before  # restored


def test_the_runner_starts_a_command_pinned_and_a_model_load_pins_the_process():
    code = """
import json, os, sys, torch
from clsrl.cpu_numerics import pin_if_asked
pin_if_asked()
print(json.dumps({
    "env": {name: os.environ.get(name) for name in sys.argv[1:]},
    "threads": torch.get_num_threads(),
    "onednn": torch.backends.mkldnn.enabled,
    "kernels": torch.backends.cpu.get_cpu_capability(),
}))
"""
    command = [sys.executable, "-m", "clsrl.cpu_numerics", sys.executable, "-c", code]
    command += sorted(PINNED_ENV)
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    state = json.loads(result.stdout)
    assert state == {"env": PINNED_ENV, "threads": 1, "onednn": False, "kernels": "DEFAULT"}
    assert MARKER not in os.environ


def test_the_runner_without_a_command_explains_itself():
    result = subprocess.run(
        [sys.executable, "-m", "clsrl.cpu_numerics"], capture_output=True, text=True
    )
    assert result.returncode == 2 and "python -m clsrl.cpu_numerics" in result.stderr


def test_the_runner_answers_help_and_names_a_command_it_cannot_find():
    run = [sys.executable, "-m", "clsrl.cpu_numerics"]
    helped = subprocess.run([*run, "--help"], capture_output=True, text=True)
    assert helped.returncode == 0 and "python -m clsrl.cpu_numerics" in helped.stderr
    missing = subprocess.run([*run, "no-such-command"], capture_output=True, text=True)
    assert missing.returncode == 127
    assert (
        missing.stderr.strip() == "clsrl.cpu_numerics: no command 'no-such-command' found on PATH"
    )


PROVENANCE = """
import json, sys
from clsrl.cpu_numerics import pin_if_asked
from clsrl.provenance import provenance
if sys.argv[1] == "load":  # what loading a model through clsrl.models.loading does first
    pin_if_asked()
print(json.dumps(provenance({})["cpu_numerics"]))
"""


@pytest.mark.parametrize(
    ("runner", "loads", "said"),
    [
        ([], "load", "native"),  # not asked
        (["-m", "clsrl.cpu_numerics", sys.executable], "load", "pinned"),  # asked, and pinned
        # asked, but the process never pinned itself: the record must not say pinned
        (["-m", "clsrl.cpu_numerics", sys.executable], "none", "asked to pin, not in effect"),
    ],
)
def test_provenance_says_whether_the_numerics_are_pinned_as_they_are(runner, loads, said):
    command = [sys.executable, *runner, "-c", PROVENANCE, loads]
    env = {k: v for k, v in os.environ.items() if k not in PINNED_ENV}
    result = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    assert json.loads(result.stdout).startswith(said), result.stdout


def test_provenance_names_clsrls_own_commit_from_any_working_directory(tmp_path, monkeypatch):
    from clsrl.provenance import provenance

    other = tmp_path / "a user's project"
    other.mkdir()
    subprocess.run(["git", "init", "-q", str(other)], check=True)
    subprocess.run(
        ["git", "-C", str(other), "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-q",
         "--allow-empty", "-m", "theirs"],
        check=True,
    )  # fmt: skip
    clsrl_commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    monkeypatch.chdir(other)
    assert provenance({})["git"]["commit"] == clsrl_commit
