r"""Check config files as the workflow would before any job, without Snakemake: YAML syntax with
the line and column (Snakemake says only "Config file is not valid JSON or YAML"), then every
check of `clsrl.workflow.study.plan_study`. Exit status 0 when the study can run, 1 otherwise.

    python -m clsrl.workflow.check my.yaml [more.yaml ...]   # files merged in order, as
    --configfile does

>>> import tempfile
>>> from pathlib import Path
>>> bad = Path(tempfile.mkdtemp()) / "my.yaml"
>>> _ = bad.write_text("datasets: [EuroSAT\nmethods: [zero-shot]\n")
>>> print(yaml_problem(bad).split("my.yaml, ")[1].split(";")[0])
line 2, column 8: YAML syntax: expected ',' or ']', but got ':'
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from clsrl.config import ConfigError
from clsrl.workflow.study import config_sources, plan_study

QUOTING_HINT = (
    "a value holding ': ', ' #', '?', '[', '{' or a leading '*', '&', '!' must be quoted: "
    'question: "What is in the photo?"'
)


def yaml_problem(path: Path) -> str | None:
    """The syntax error of a YAML file, with its line and column, or None."""
    try:
        yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        return (
            f"{path}, line {mark.line + 1}, column {mark.column + 1}: YAML syntax: "
            f"{error.problem or error.context}; {QUOTING_HINT}"
        )
    return None


def merged(paths: list[Path]) -> dict:
    """The files' mappings merged in order, nested mappings key by key (as --configfile does)."""

    def update(into: dict, new: dict) -> dict:
        for key, value in new.items():
            if isinstance(value, dict) and isinstance(into.get(key), dict):
                update(into[key], value)
            else:
                into[key] = value
        return into

    config: dict = {}
    for path in paths:
        update(config, yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    return config


def check(paths: list[Path]) -> tuple[bool, list[str]]:
    """(whether the study can run, the lines to print)."""
    missing = [f"{path}: no such file" for path in paths if not path.is_file()]
    syntax = [problem for path in paths if path.is_file() and (problem := yaml_problem(path))]
    if missing or syntax:
        return False, missing + syntax
    try:
        study, warnings = plan_study(merged(paths), [str(path) for path in paths])
    except ConfigError as error:
        return False, [f"Invalid configuration:\n{error}"]
    lines = [config_sources([str(path) for path in paths]), study.summary()]
    return True, lines + [f"warning: {warning}" for warning in warnings]


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.split("\n\n>>>")[0])
        return 0 if argv else 2
    ok, lines = check([Path(arg) for arg in argv])
    print("\n".join(lines), file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
