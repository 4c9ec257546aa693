"""The docs say what the code does: every link and command they give exists, and the toy study's
table and claims are the recorded results'."""

import importlib.util
import json
import re
import statistics

import pytest

from clsrl.report.intervals import t95_half_width
from tests.conftest import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")  # [text](target) and ![alt](target)
MODULE_COMMAND = re.compile(r"python -m (clsrl[\w.]*)")
SCRIPT_COMMAND = re.compile(r"python ((?:bench|scripts|workflow_scripts)/[\w/]+\.py)")


def load_toy_study():
    spec = importlib.util.spec_from_file_location("toy_study", ROOT / "bench" / "toy_study.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: path.name)
def test_every_relative_link_of_the_docs_reaches_a_file(doc):
    text = doc.read_text()
    targets = [target for target in LINK.findall(text) if "://" not in target]
    missing = [target for target in targets if not (doc.parent / target).exists()]
    assert not missing, f"{doc.relative_to(ROOT)} links to missing files: {missing}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: path.name)
def test_every_command_the_docs_give_names_a_module_or_script_that_exists(doc):
    text = doc.read_text()
    modules = set(MODULE_COMMAND.findall(text))
    absent = [name for name in modules if importlib.util.find_spec(name) is None]
    scripts = [path for path in set(SCRIPT_COMMAND.findall(text)) if not (ROOT / path).is_file()]
    assert not absent and not scripts, f"{doc.relative_to(ROOT)}: {absent} {scripts}"


def test_the_readme_toy_study_table_is_rendered_from_the_record():
    toy_study = load_toy_study()
    readme = (ROOT / "README.md").read_text()
    record = json.loads(toy_study.RECORD.read_text())
    assert toy_study.rendered_readme(readme, record) == readme, (
        "README's toy-study table is not the record's: python bench/toy_study.py --render-only"
    )


def test_the_toy_study_claims_of_the_readme_hold_in_the_record():
    """docs/toy-world.md "What holds at toy scale", claim by claim, from the recorded per-seed
    results (the README's table)."""
    record = json.loads((ROOT / "bench/results/toy_study.json").read_text())
    rows = {(row["method"], row["style"]): row for row in record["rows"]}
    zero_shot = {
        style: rows["zero-shot", style]["accuracy"][0] for style in ("no-thinking", "thinking")
    }
    no_thinking, cls_rl = rows["no-thinking", "no-thinking"], rows["cls-rl", "thinking"]
    sft = rows["sft", "no-thinking"]
    # RL above zero-shot: every seed, in the method's own prompt style
    assert min(no_thinking["accuracy"]) > zero_shot["no-thinking"]
    assert min(cls_rl["accuracy"]) > zero_shot["thinking"]
    for row, style in ((no_thinking, "no-thinking"), (cls_rl, "thinking")):  # and the interval
        accuracy = row["accuracy"]
        assert statistics.mean(accuracy) - t95_half_width(accuracy) > zero_shot[style]
    # No-Thinking learns faster: a larger reward gain, the threshold on every seed, CLS-RL's on
    # fewer and later; and a higher test accuracy
    assert statistics.mean(no_thinking["reward_gain"]) > statistics.mean(cls_rl["reward_gain"])
    assert None not in no_thinking["steps_to_threshold"]
    reached = [steps for steps in cls_rl["steps_to_threshold"] if steps is not None]
    assert len(reached) < len(cls_rl["steps_to_threshold"])
    assert max(no_thinking["steps_to_threshold"]) < min(reached)
    assert statistics.mean(no_thinking["accuracy"]) > statistics.mean(cls_rl["accuracy"])
    # RL above SFT: no
    assert statistics.mean(sft["accuracy"]) > statistics.mean(no_thinking["accuracy"])
    assert len(no_thinking["accuracy"]) == len(cls_rl["accuracy"]) == len(sft["accuracy"]) == 5


def test_the_toy_study_record_names_the_commit_and_date_it_came_from():
    record = json.loads((ROOT / "bench/results/toy_study.json").read_text())
    assert re.fullmatch(r"[0-9a-f]{40}", record["commit"])
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", record["date"])
    assert record["cpu_numerics"] == "pinned"


def markdown_rows(text: str) -> list[str]:
    """The lines of the first Markdown table in `text`."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| "))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return lines[start:end]


def test_the_demo_table_of_the_docs_is_the_copied_demo_result_and_names_its_commit():
    page = (ROOT / "docs/toy-world.md").read_text()
    shown = page.split("### What the demo shows", 1)[1]
    assert markdown_rows(shown) == markdown_rows((ROOT / "docs/demo/fewshot.md").read_text())
    record = json.loads((ROOT / "docs/demo/record.json").read_text())
    assert record["commits"] and not record["dirty"]


def test_the_seed_agreement_the_docs_quote_is_the_copied_demo_result():
    rows = markdown_rows((ROOT / "docs/demo/seed_agreement.md").read_text())
    cells = {tuple(c.strip() for c in row.strip("|").split("|")) for row in rows[2:]}
    by_run = {(c[1], c[3], c[6]): (c[8], c[9]) for c in cells}
    assert by_run["no-thinking", "demo-shapes", "demo-shapes"] == ("18.75, 18.75", "0.25")
    assert by_run["cls-rl", "demo-shapes", "demo-shapes"] == ("16.67, 16.67", "0.94")
