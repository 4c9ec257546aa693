"""The package's shape (README "The tree"): one subpackage per stage, imports only going down the
stages (no loop between two stages or modules), no import hidden inside a function, and rules
that ask the study, not the config."""

import ast
import re
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "clsrl"
STAGES = ("datasets", "models", "compute", "evaluation", "training", "report", "toy", "workflow")


def room(module: str) -> str:
    """A stage's subpackage (`clsrl.training`), or a module of the core (`clsrl.prompts`)."""
    parts = module.split(".")
    return ".".join(parts[:2])


def module_name(path: Path) -> str:
    relative = path.relative_to(ROOT).with_suffix("")
    return ".".join(part for part in relative.parts if part != "__init__")


def clsrl_imports(tree: ast.AST) -> list[tuple[str, int]]:
    """(imported clsrl module, line) of every import statement in `tree`."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("clsrl"):
            modules = (
                [f"clsrl.{a.name}" for a in node.names] if node.module == "clsrl" else [node.module]
            )
            found += [(module, node.lineno) for module in modules]
        elif isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names if a.name.startswith("clsrl")]
    return found


def package_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_stage_is_a_subpackage():
    for stage in STAGES:
        assert (PACKAGE / stage / "__init__.py").is_file(), stage


def test_no_module_imports_clsrl_inside_a_function():
    hidden = []
    for path in package_files():
        tree = ast.parse(path.read_text())
        for function in ast.walk(tree):
            if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                hidden += [
                    f"{path.relative_to(ROOT)}:{line}" for _, line in clsrl_imports(function)
                ]
    assert not hidden, f"imports inside functions (move them to the top): {hidden}"


def test_the_stages_and_core_modules_import_each_other_without_a_loop():
    graph: dict[str, set[str]] = {}
    for path in package_files():
        source = room(module_name(path))
        graph.setdefault(source, set())
        for target, _ in clsrl_imports(ast.parse(path.read_text())):
            if target != "clsrl" and room(target) != source:
                graph[source].add(room(target))
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as error:
        raise AssertionError(f"an import loop between stages: {error.args[1]}") from error
    assert order.index("clsrl.workflow") > order.index("clsrl.training")  # the study is on top
    assert "clsrl.workflow" not in set().union(*(graph[r] for r in graph if r != "clsrl.workflow"))


def test_the_rules_ask_the_study_not_the_config():
    for path in [ROOT / "Snakefile", *sorted((ROOT / "rules").glob("*.smk"))]:
        reads = re.findall(r"\bconfig\[[^\]]*\]", path.read_text())
        assert not reads, f"{path.relative_to(ROOT)} reads {reads}: ask clsrl.workflow.study"
