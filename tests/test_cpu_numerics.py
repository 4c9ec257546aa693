"""Pinned CPU numerics (clsrl.cpu_numerics): the environment, the refusal of an unpinned process,
the command-line runner. That pinned runs give the same weights whatever instruction sets MKL and
oneDNN may use is checked in tests/test_toy_world.py (it trains)."""

import json
import os
import subprocess
import sys

from clsrl.cpu_numerics import MARKER, PINNED_ENV, pinned_environment


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


def test_provenance_says_whether_the_numerics_were_pinned():
    from clsrl.provenance import provenance

    assert provenance({})["cpu_numerics"] == os.environ.get(MARKER, "native")
    with pinned_environment():
        assert provenance({})["cpu_numerics"] == "pinned"
