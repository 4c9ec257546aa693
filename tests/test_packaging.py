"""The pins of pyproject.toml, the conda environment file and the README's commands agree."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)==(\S+)$")


def _pins(requirements):
    pins = {}
    for requirement in requirements:
        match = PIN.match(requirement)
        assert match, f"{requirement!r} is not an exact pin (name==version)"
        pins[match.group(1).lower()] = match.group(2)
    return pins


def test_every_dependency_is_pinned_and_the_conda_env_agrees():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    # the reference extra too: cluster jobs may run protocol: reference-code
    pinned = _pins(project["dependencies"] + project["optional-dependencies"]["reference"])
    env = yaml.safe_load((ROOT / "envs" / "clsrl.yaml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    conda_pins = _pins([r for r in pip_section if not r.startswith("-")])
    assert conda_pins == pinned
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python="))
    assert project["requires-python"].startswith(">=" + python.removeprefix("python="))


def test_design_card_packages_are_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = set(_pins(project["dependencies"]))
    card = {"snakemake", "torch", "transformers", "trl", "peft", "datasets", "pandas", "pillow"}
    assert card | {"seaborn", "torchvision"} <= names


def test_every_rule_uses_the_conda_env_file():
    for rule_file in (ROOT / "rules").glob("*.smk"):
        text = rule_file.read_text()
        rules = len(re.findall(r"^rule \w+:", text, flags=re.M))
        partial = len(re.findall(r'^rule \w+:\n    """Partial target', text, flags=re.M))
        conda = text.count('conda:\n        "../envs/clsrl.yaml"')
        assert conda == rules - partial, f"{rule_file.name}: a rule lacks the conda env"


def test_readme_starts_with_the_two_commands_and_ci_runs_the_test_command():
    readme = (ROOT / "README.md").read_text()
    head = readme[:1500]
    assert "./demo.sh" in head and "./test.sh" in head
    assert "./test.sh" in (ROOT / ".ci" / "run").read_text()
