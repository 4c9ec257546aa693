"""Every job of a study with the resources it would ask SLURM for, and the GPU-hours they imply.

    python bench/gpu_hours.py          # the paper's study, bench/paper_study.yaml
    python bench/gpu_hours.py --configfile config.yaml --jobs jobs.tsv

Runs `snakemake --dry-run --profile slurm` in a scratch folder (nothing is built), reads each
planned job's rule, wildcards and resolved resources (first attempt) from its output, and sums
GPU-hours as jobs x requested GPUs x requested runtime: an upper bound, since runtimes are the
requests of clsrl/compute/resources.py, with their safety margin. A second table gives the GPU-hours
of every method and stage under both cost models of clsrl/compute/resources.py: the fallback from
the paper's timings, and the one measured by bench/gpu_check.py where a GPU run wrote it.
"""

from __future__ import annotations

import argparse
import csv
import re
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import yaml

from clsrl.compute.resources import (
    FALLBACK,
    cost_model,
    eval_resources,
    num_classes,
    train_resources,
)
from clsrl.config import validate_config
from clsrl.workflow.study import Study

ROOT = Path(__file__).resolve().parents[1]
JOB_HEADER = re.compile(r"^(?:local)?rule (\w+):$")


def dry_run(configfile: Path, profile: Path) -> str:
    """The output of a dry run of the workflow through `profile`, in a scratch folder."""
    with tempfile.TemporaryDirectory() as workdir:
        command = [sys.executable, "-m", "snakemake", "--dry-run", "--snakefile"]
        command += [str(ROOT / "Snakefile"), "--directory", workdir]
        command += ["--configfile", str(configfile), "--profile", str(profile)]
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        sys.exit(f"the dry run failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout + done.stderr


def planned_jobs(output: str) -> list[dict]:
    """One row per planned job: rule, wildcards, gpu, mem_mb, runtime (minutes).

    >>> planned_jobs('''rule train:
    ...     wildcards: method=sft, view=EuroSAT
    ...     resources: tmpdir=/tmp, mem_mb=16000, mem=16 GB, runtime=42, gpu=8
    ... localrule all:
    ...     resources: tmpdir=/tmp''')  # doctest: +NORMALIZE_WHITESPACE
    [{'rule': 'train', 'wildcards': 'method=sft, view=EuroSAT', 'gpu': 8, 'mem_mb': 16000,
      'runtime': 42},
     {'rule': 'all', 'wildcards': '', 'gpu': 0, 'mem_mb': 0, 'runtime': 0}]
    """
    jobs: list[dict] = []
    for line in output.splitlines():
        header = JOB_HEADER.match(line)
        if header:
            jobs.append({"rule": header[1], "wildcards": "", "gpu": 0, "mem_mb": 0, "runtime": 0})
        elif jobs and line.strip().startswith("wildcards:"):
            jobs[-1]["wildcards"] = line.split(":", 1)[1].strip()
        elif jobs and line.strip().startswith("resources:"):
            for item in line.split(":", 1)[1].split(","):
                key, _, value = item.strip().partition("=")
                if key in ("gpu", "mem_mb", "runtime") and value.isdigit():
                    jobs[-1][key] = int(value)
    return jobs


def summary(jobs: list[dict], local_rules: set[str]) -> str:
    """A markdown table per rule: jobs, GPUs and runtime per job, GPU-hours; then the total."""
    per_rule: dict[str, list[dict]] = defaultdict(list)
    for job in jobs:
        per_rule[job["rule"]].append(job)
    lines = [
        "| rule | where | jobs | GPUs per job | runtime per job (h) | GPU-hours |",
        "|---|---|---|---|---|---|",
    ]
    total = 0.0
    for rule, rows in sorted(per_rule.items(), key=lambda item: -gpu_hours(item[1])):
        hours = gpu_hours(rows)
        total += hours
        gpus = sorted({row["gpu"] for row in rows})
        runtimes = [row["runtime"] / 60 for row in rows]
        where = "login node" if rule in local_rules else "SLURM"
        span = f"{min(runtimes):.1f}" + (
            f"-{max(runtimes):.1f}" if max(runtimes) > min(runtimes) else ""
        )
        runtime = "" if where == "login node" else span
        lines.append(
            f"| {rule} | {where} | {len(rows)} | {','.join(map(str, gpus))} | {runtime} | "
            f"{hours:,.0f} |"
        )
    lines.append(f"| **total** | | {len(jobs)} | | | **{total:,.0f}** |")
    return "\n".join(lines)


def gpu_hours(rows: list[dict]) -> float:
    return sum(row["gpu"] * row["runtime"] / 60 for row in rows)


def wildcards_of(job: dict) -> dict[str, str]:
    """A job's wildcards as a dict.

    >>> wildcards_of({"wildcards": "method=sft, view=EuroSAT, shots=4"})
    {'method': 'sft', 'view': 'EuroSAT', 'shots': '4'}
    """
    pairs = (item.split("=", 1) for item in job["wildcards"].split(", ") if "=" in item)
    return {key: value for key, value in pairs}


def job_gpu_hours(job: dict, study: Study, costs) -> tuple[str, str, float] | None:
    """(stage, method, GPU-hours) of a training or evaluation job under a cost model."""
    wildcards = wildcards_of(job)
    if job["rule"] == "train":
        method, view = wildcards["method"], wildcards["view"]
        shots, seed = int(wildcards["shots"]), int(wildcards["seed"])
        spec = study.training_spec(method, view, shots, seed, model=wildcards["model"])
        asked = train_resources(spec, num_classes(view), costs=costs)
        stage = "train"
    elif job["rule"] in ("evaluate_trained", "evaluate_zero_shot"):
        method = wildcards.get("method", "zero-shot")
        style = wildcards.get("style") or study.method_style(method)
        base_model = study.base_model(wildcards["model"])
        asked = eval_resources(
            study.config, style, wildcards["target"], costs=costs, base_model=base_model
        )
        stage = "evaluate"
    else:
        return None
    return stage, method, asked["gpu"] * asked["runtime"] / 60


def by_method(jobs: list[dict], study: Study) -> str:
    """GPU-hours per stage and method under the fallback and (where written) measured models."""
    cost_models = {"fallback": FALLBACK}
    if cost_model() is not FALLBACK:
        cost_models["measured"] = cost_model()
    sums: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for job in jobs:
        for name, costs in cost_models.items():
            found = job_gpu_hours(job, study, costs)
            if found:
                sums[found[:2]][name] += found[2]
        found = job_gpu_hours(job, study, FALLBACK)
        if found:
            counts[found[:2]] += 1
    names = list(cost_models)
    lines = [
        "| stage | method | jobs | " + " | ".join(f"GPU-hours, {n}" for n in names) + " |",
        "|---|---|---|" + "---|" * len(names),
    ]
    totals = defaultdict(float)
    for key in sorted(sums):
        for name in names:
            totals[name] += sums[key][name]
        cells = " | ".join(f"{sums[key][name]:,.0f}" for name in names)
        lines.append(f"| {key[0]} | {key[1]} | {counts[key]} | {cells} |")
    cells = " | ".join(f"**{totals[name]:,.0f}**" for name in names)
    lines.append(f"| **total** | | {sum(counts.values())} | {cells} |")
    sources = "; ".join(costs.source for costs in cost_models.values())
    return "\n".join(lines) + f"\n\nCost models: {sources}."


def by_model(jobs: list[dict]) -> str:
    """GPU-hours per base model (wildcard `model`) and rule, as requested.

    >>> print(by_model([{"rule": "train", "wildcards": "model=big, method=sft", "gpu": 2,
    ...     "mem_mb": 60000, "runtime": 90}]))  # doctest: +NORMALIZE_WHITESPACE
    | model | rule | jobs | GPUs per job | host GB per job | hours per job | GPU-hours |
    |---|---|---|---|---|---|---|
    | big | train | 1 | 2 | 60 | 1.5 | 3 |
    """
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for job in jobs:
        model = wildcards_of(job).get("model")
        if model and job["gpu"]:
            groups[(model, job["rule"])].append(job)
    lines = [
        "| model | rule | jobs | GPUs per job | host GB per job | hours per job | GPU-hours |",
        "|---|---|---|---|---|---|---|",
    ]
    for (model, rule), rows in sorted(groups.items()):

        def span(values):
            low, high = min(values), max(values)
            return f"{low:g}" if low == high else f"{low:g}-{high:g}"

        lines.append(
            f"| {model} | {rule} | {len(rows)} | {span([row['gpu'] for row in rows])} | "
            f"{span([row['mem_mb'] / 1000 for row in rows])} | "
            f"{span([round(row['runtime'] / 60, 1) for row in rows])} | {gpu_hours(rows):,.0f} |"
        )
    return "\n".join(lines)


def local_rule_names() -> set[str]:
    """The rules that run where snakemake runs (the `localrules:` of rules/resources.smk)."""
    text = (ROOT / "rules" / "resources.smk").read_text()
    block = text.split("localrules:", 1)[1]
    return set(re.findall(r"^\s+(\w+),", block, flags=re.M))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configfile", type=Path, default=ROOT / "bench" / "paper_study.yaml")
    parser.add_argument("--profile", type=Path, default=ROOT / "slurm")
    parser.add_argument("--jobs", type=Path, help="write every job and its resources (TSV) here")
    args = parser.parse_args(argv)
    jobs = planned_jobs(dry_run(args.configfile.resolve(), args.profile.resolve()))
    local_rules = local_rule_names()
    if args.jobs:
        for job in jobs:
            job["where"] = "login node" if job["rule"] in local_rules else "SLURM"
        with args.jobs.open("w", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=list(jobs[0]), delimiter="\t")
            writer.writeheader()
            writer.writerows(jobs)
    print(summary(jobs, local_rules))
    print(f"\nPer base model (the jobs that ask GPUs):\n\n{by_model(jobs)}")
    study = Study(validate_config(yaml.safe_load(args.configfile.read_text()) or {}))
    print(f"\nRequests above: {cost_model().source}.\n")
    print(by_method(jobs, study))


if __name__ == "__main__":
    main()
