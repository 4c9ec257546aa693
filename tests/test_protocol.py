"""`protocol: paper | reference-code` (issue 14): the reference code's CLS-RL reward (math_verify
first) and its evaluation of empty answer tags, on a table of completions, and the one switch that
turns on every reference-code behaviour while an explicit key still wins."""

import re

import pytest
import yaml

from clsrl.answers import thinking_accuracy, thinking_accuracy_reference
from clsrl.config import REFERENCE_CODE, protocol_in_force, validate_config
from clsrl.evaluation.evaluate import score_output
from clsrl.training.rewards import REWARDS
from clsrl.views import View
from clsrl.workflow.study import Study
from tests.conftest import ROOT

math_verify = pytest.importorskip("math_verify", reason="pip install 'clsrl[reference]'")


def reference_code_accuracy_reward(content: str, sol: str) -> float:
    """The reference code's accuracy reward, transcribed line by line (the oracle of the table)."""
    reward = 0.0
    try:
        answer = math_verify.parse(content)
        if float(math_verify.verify(answer, math_verify.parse(sol))) > 0:
            reward = 1.0
    except Exception:
        pass
    if reward == 0.0:
        try:
            sol_match = re.search(r"<answer>(.*?)</answer>", sol)
            ground_truth = sol_match.group(1).strip() if sol_match else sol.strip()
            content_match = re.search(r"<answer>(.*?)</answer>", content)
            student = content_match.group(1).strip() if content_match else content.strip()
            if student.lower() == ground_truth.lower():
                reward = 1.0
        except Exception:
            pass
    return reward


def thought(answer: str, thinking: str = "The photo shows an aircraft.") -> str:
    return f"<think>{thinking}</think> <answer>{answer}</answer>"


# (completion, label, paper reward, reference-code reward). "differs" rows are where the two rules
# disagree: a label with a number that the completion repeats, whatever the rest of the answer.
REWARD_TABLE = [
    # the examples (StanfordCars, FGVCAircraft)
    (thought("Saab 2000"), "Falcon 2000", 0.0, 1.0),
    (thought("2012 BMW 3 Series Wagon"), "2012 BMW 3 Series Sedan", 0.0, 1.0),
    (thought("2012 Fiat 500 Abarth"), "2012 Fiat 500 Convertible", 0.0, 1.0),
    (thought("Embraer", "It seats about 100 people."), "Fokker 100", 0.0, 1.0),
    # more names with numbers: the answer's last number is the label's
    (thought("2012 Ferrari FF Coupe", "A 458?"), "2012 Ferrari 458 Italia Convertible", 0.0, 1.0),
    (thought("Cessna 172"), "Cessna 172", 1.0, 1.0),
    (thought("cessna 172"), "Cessna 172", 1.0, 1.0),
    (thought("Falcon 2000"), "Falcon 2000", 1.0, 1.0),
    (thought("Fokker 100"), "Fokker 100", 1.0, 1.0),
    (thought("1993 Volvo 240 Sedan"), "1993 Volvo 240 Sedan", 1.0, 1.0),
    (thought("Dodge Ram Pickup 3500 Crew Cab 2010"), "Dodge Ram Pickup 3500 Crew Cab 2010", 1, 1),
    (thought("2012 Audi S4 Sedan"), "2007 Audi S4 Sedan", 0.0, 0.0),
    (thought("Cessna 208"), "Cessna 172", 0.0, 0.0),
    (thought("Fokker 70"), "Fokker 100", 0.0, 0.0),
    (thought("Boeing 747-200"), "Boeing 747-400", 0.0, 1.0),  # the solution reads as 747
    (thought("BAE 146-300"), "BAE 146-200", 0.0, 1.0),  # the solution reads as 146 (issue 26)
    (thought("Boeing 747-400"), "Boeing 747-400", 1.0, 1.0),
    (thought("A330-300"), "A330-200", 0.0, 0.0),  # math_verify reads nothing from "A330-200"
    (thought("A330-200"), "A330-200", 1.0, 1.0),
    (thought("MD-80"), "DC-10", 0.0, 0.0),
    (thought("DC-10"), "DC-10", 1.0, 1.0),
    (thought("Tu-154"), "Tu-134", 0.0, 0.0),
    (thought(""), "Fokker 100", 0.0, 0.0),
    ("Saab 2000", "Falcon 2000", 0.0, 1.0),  # no tags: the whole completion
    ("<answer>Saab 2000</answer>", "Falcon 2000", 0.0, 1.0),
    ("<answer>Falcon 2000</answer>", "Falcon 2000", 1.0, 1.0),
    # names without numbers (the other 9 datasets): the two rules agree
    (thought("Forest"), "Forest", 1.0, 1.0),
    (thought("forest"), "Forest", 1.0, 1.0),
    (thought("Highway or Road"), "Highway or Road", 1.0, 1.0),
    (thought("River"), "Forest", 0.0, 0.0),
    (thought("dotted"), "dotted", 1.0, 1.0),
    (thought("banded"), "dotted", 0.0, 0.0),
    (thought("Persian cat"), "Persian", 0.0, 0.0),  # no substring match in a reward
    (thought("grilled cheese sandwich"), "grilled_cheese_sandwich", 0.0, 0.0),
    (thought(" Abyssinian "), "Abyssinian", 1.0, 1.0),
    ("<think>x</think><answer>cat</answer><answer>dog</answer>", "cat", 1.0, 1.0),
    ("<think>x</think><answer>dog</answer><answer>cat</answer>", "cat", 0.0, 0.0),
    ("<answer>\ncat\n</answer>", "cat", 0.0, 0.0),  # not DOTALL: no match, whole completion
    ("cat", "cat", 1.0, 1.0),
    (thought("cat", "I count 3 ears."), "cat", 1.0, 1.0),
    (thought("dog", "It is a cat with 3 ears."), "cat", 0.0, 0.0),
    (thought("sunflower"), "sunflower", 1.0, 1.0),
    (thought("Apply_Eye_Makeup"), "Apply_Eye_Makeup", 1.0, 1.0),
]


def test_the_table_is_big_enough_and_has_both_kinds_of_rows():
    assert len(REWARD_TABLE) >= 40
    assert sum(paper != reference for _, _, paper, reference in REWARD_TABLE) >= 7


@pytest.mark.parametrize(("completion", "label", "paper", "reference"), REWARD_TABLE)
def test_each_rule_gives_its_codes_reward(completion, label, paper, reference):
    assert thinking_accuracy(completion, label) == paper
    assert thinking_accuracy_reference(completion, label) == reference
    # the table is right: the reference code's reward gets the solution column, tags included
    assert reference_code_accuracy_reward(completion, f"<answer>{label}</answer>") == reference


def test_the_trl_reward_functions_take_conversational_completions():
    completions = [[{"role": "assistant", "content": thought("Saab 2000")}]] * 2
    labels = ["Falcon 2000", "Saab 2000"]
    assert REWARDS["thinking_accuracy"](completions, classname=labels) == [0.0, 1.0]
    assert REWARDS["thinking_accuracy_reference"](completions, classname=labels) == [1.0, 1.0]


def test_a_missing_math_verify_names_the_extra(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_math_verify(name, *args, **kwargs):
        if name == "math_verify":
            raise ImportError("No module named 'math_verify'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_math_verify)
    with pytest.raises(ImportError, match=r"clsrl\[reference\].*accuracy_rule: paper"):
        thinking_accuracy_reference(thought("Saab 2000"), "Falcon 2000")


# (output, truth, lenient verdict: paper, reference-code). The reference evaluation reads the whole
# output when the answer tag is empty, thinking included.
EVAL_TABLE = [
    ("<think>it is a cat</think><answer></answer>", "cat", False, True),
    ("<think>it is a cat</think><answer> </answer>", "cat", False, True),
    ("<think>it is a cat</think>\n<answer>\n</answer>", "cat", False, True),
    ("<think>a Persian cat</think><answer></answer>", "Persian_cat", False, True),
    ("<think>it is a dog</think><answer></answer>", "cat", False, False),
    ("<answer></answer>", "cat", False, False),
    ("<think>it is a cat</think><answer>dog</answer>", "cat", False, False),
    ("<think>it is a dog</think><answer>cat</answer>", "cat", True, True),
    ("<answer>Cat</answer>", "cat", True, True),
    ("cat", "cat", True, True),
    ("it is a cat", "cat", True, True),
    ("", "cat", False, False),
]


@pytest.mark.parametrize(("output", "truth", "paper", "reference"), EVAL_TABLE)
def test_each_evaluation_rule_gives_its_codes_verdict(output, truth, paper, reference):
    question = {"classname": truth, "options": None}
    assert score_output(output, question, "paper")["lenient_correct"] is paper
    assert score_output(output, question, "reference-code")["lenient_correct"] is reference


# --- the switch -------------------------------------------------------------------------------


def reference_config(**sections):
    config = {"protocol": "reference-code", **sections}
    return validate_config(config)


def test_the_preset_sets_every_reference_code_behaviour():
    config = reference_config()
    for (section, key), value in REFERENCE_CODE.items():
        assert config[section][key] == value, f"{section}.{key}"
    assert protocol_in_force(config) == "reference-code"


def test_the_default_is_the_papers_protocol():
    config = validate_config({})
    assert config["protocol"] == "paper" and protocol_in_force(config) == "paper"
    assert config["options"]["floor_rule"] == "paper"
    assert config["evaluation"]["wording"] == "train"
    assert config["evaluation"]["empty_answer"] == "paper"
    assert config["training"]["accuracy_rule"] == "paper"
    assert config["training"]["trainer_seed"] == 100


def test_under_the_papers_protocol_a_jobs_settings_are_those_it_had_before_the_switch():
    """Results made before the protocol keys existed stay valid: no new param reruns them."""
    study = Study(validate_config({"datasets": ["EuroSAT"]}))
    settings = study.eval_settings("thinking", View("EuroSAT"))
    assert set(settings) == {"style", "wording", "max_new_tokens", "image_resize", "base_classes"}
    assert settings["wording"] == "train"
    assert study.option_params(View("EuroSAT"))["floor_rule"] == "paper"
    assert study.training_spec("cls-rl", "EuroSAT", 4, 1).rewards == (
        "thinking_format",
        "thinking_accuracy",
    )


def test_an_explicit_key_wins_over_the_preset_and_says_so():
    warnings = []
    config = validate_config(
        {"protocol": "reference-code", "training": {"trainer_seed": 7}}, warnings
    )
    assert config["training"]["trainer_seed"] == 7
    assert config["training"]["accuracy_rule"] == "reference-code"
    assert protocol_in_force(config) == "mixed"
    assert any("'training.trainer_seed' is 7" in warning for warning in warnings), warnings


def test_each_behaviour_stays_settable_on_its_own():
    config = validate_config({"evaluation": {"empty_answer": "reference-code"}})
    assert config["evaluation"]["empty_answer"] == "reference-code"
    assert config["training"]["accuracy_rule"] == "paper"
    assert protocol_in_force(config) == "mixed"


def test_config_yaml_leaves_the_presets_keys_to_the_switch():
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    assert protocol_in_force(validate_config(config)) == "paper"
    assert protocol_in_force(validate_config({**config, "protocol": "reference-code"})) == (
        "reference-code"
    )


def specs(config, method, dataset):
    return Study(config).training_spec(method, dataset, 4, 1)


def test_the_reference_reward_replaces_the_papers_only_where_math_verify_fires():
    config = reference_config(datasets=["StanfordCars", "EuroSAT"])
    cars, eurosat = specs(config, "cls-rl", "StanfordCars"), specs(config, "cls-rl", "EuroSAT")
    assert cars.rewards == ("thinking_format", "thinking_accuracy_reference")
    assert eurosat.rewards == ("thinking_format", "thinking_accuracy")
    # the reference reward's own version reruns the jobs that use it, and no other
    assert cars.as_mapping()["rule_versions"] == {"thinking_accuracy_reference": 2}
    assert "rule_versions" not in eurosat.as_mapping()
    assert specs(config, "no-thinking", "StanfordCars").rewards == ("no_thinking_accuracy",)
    assert cars.trl["seed"] == 42
    paper = validate_config({"datasets": ["StanfordCars"]})
    assert specs(paper, "cls-rl", "StanfordCars").rewards == (
        "thinking_format",
        "thinking_accuracy",
    )


@pytest.mark.parametrize(
    ("view", "floor_rule"),
    [
        ("OxfordPets", "all-classes"),  # 37 classes: 14 by the ratio, paper 30, code 37
        ("DescribableTextures", "all-classes"),  # 47: 18, paper 30, code 47
        ("EuroSAT", "paper"),  # 10: both list all 10
        ("ImageNet", "paper"),  # 1000: the ratio gives 100
        ("OxfordPets.base", "paper"),  # 19 x 0.8 = 15; paper min(30, 19) = 19 = all
        ("demo-colours", "paper"),
    ],
)
def test_the_floor_rule_reaches_only_the_option_lists_it_changes(view, floor_rule):
    config = reference_config(datasets=["OxfordPets"])
    assert Study(config).option_params(View.parse(view))["floor_rule"] == floor_rule


@pytest.mark.parametrize(
    ("style", "half", "wording"),
    [
        ("thinking", None, "reference-code"),
        ("thinking", "base", "reference-code"),
        ("no-thinking", "new", "reference-code"),
        ("think-after-answer", None, "train"),  # no reference-code text: the training one
    ],
)
def test_the_evaluation_wording_reaches_only_the_prompts_it_changes(style, half, wording):
    settings = Study(reference_config()).eval_settings(style, View("EuroSAT", half))
    assert settings["wording"] == wording
    assert settings["empty_answer"] == "reference-code"
