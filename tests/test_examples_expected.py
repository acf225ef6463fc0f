"""The published examples check their own published numbers through ``[expected]``."""

from __future__ import annotations

import json
import tomllib
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from test_examples import EXAMPLES, PUBLISHED

from symbackprop.builtin import example_names, example_text
from symbackprop.check import check
from symbackprop.cli import main
from symbackprop.errors import SpecError
from symbackprop.spec import parse_spec

ROOT = Path(__file__).resolve().parents[1]

#: The entries each example's check reports as wrong: the published errors the comments explain.
WRONG = {
    "cs231n-two-layer-net": set(),
    "deeplearning-ai-planar": set(),
    "mazur-step-by-step": {"loss_updated[0]"},
    "nn-timeline-2-2-1": set(),
    "postnetwork-softmax": {"z2[1]", "yhat[0]", "yhat[1]", "loss[0]"},
    "schiendorfer-worked-example": {"dW1[0,0]", "dW1[0,1]"},
    "schiendorfer-worked-example-step": {
        "W2_updated[0,0]",
        "W2_updated[0,1]",
        "W2_updated[1,0]",
        "W2_updated[1,1]",
    },
    "lexailabs-conv2d-backward": set(),
    "stackoverflow-conv-filter-gradients": {
        "dW1[0,0,0,0]",
        "dW1[0,0,0,1]",
        "dW1[0,0,1,0]",
        "dW1[0,0,1,1]",
    },
}
#: Stacks whose published numbers are no parameter gradient of the spec (their comments say so).
WITHOUT = {
    "alexkode-batch-normalization",
    "prachub-bptt-walkthrough",
    "stats-se-max-pool-gradient",
}


def _is_stack(path: Path) -> bool:
    return "layers" in tomllib.loads(path.read_text("utf-8"))


def test_every_example_has_expected_or_says_why_not() -> None:
    paths = sorted(EXAMPLES.glob("*.toml"))
    assert {p.stem for p in paths} == set(WRONG) | WITHOUT
    for path in paths:
        data = tomllib.loads(path.read_text("utf-8"))
        if path.stem in WITHOUT:
            assert "expected" not in data
            assert "# No [expected] table: " in path.read_text("utf-8"), path.name
        elif _is_stack(path):  # published integers: exactly
            assert (data["expected"]["atol"], data["expected"]["rtol"]) == (0, 0), path.name
        else:
            assert data["expected"]["tolerance"] == "printed", path.name


@pytest.mark.parametrize("name", sorted(WRONG))
def test_check_reports_which_published_numbers_hold(name: str) -> None:
    documented = check(EXAMPLES / f"{name}.toml", random_points=0).documented
    assert documented is not None
    failing = {e.entry for e in documented.failures}
    assert failing == WRONG[name]
    for e in documented.entries:
        if not documented.rtol:  # at the printed precision alone, wrong means not as printed
            assert e.ok == (not e.misread), e.entry
        if documented.printed:
            half_unit = Decimal(1).scaleb(Decimal(e.documented).as_tuple().exponent) / 2
            assert float(e.tolerance) >= float(half_unit) * (1 - 1e-12)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_expected_agrees_with_the_published_numbers_of_the_tests(name: str) -> None:
    """Every failing [expected] value is one the tests call wrong; every wrong one in it fails."""
    documented = check(EXAMPLES / f"{name}.toml", random_points=0).documented
    assert documented is not None
    wrong = {Decimal(p.text) for p in PUBLISHED[name] if p.correct is not None}
    failing = {Decimal(e.documented) for e in documented.failures}
    extra = {"mazur-step-by-step": {Decimal("0.291027924")}}.get(name, set())
    assert failing - extra <= wrong
    assert wrong & {Decimal(e.documented) for e in documented.entries} <= failing


def test_mazur_w5_after_the_step_is_reproduced_and_the_error_after_it_explained() -> None:
    report = check("mazur-step-by-step", random_points=0)
    entries = {e.entry: e for e in report.documented.entries}
    w5 = entries["W2_updated[0,0]"]
    assert (w5.documented, w5.ok, w5.should_read) == ("0.35891648", True, "0.35891648")
    assert entries["loss_updated[0]"].should_read == "0.291027774"
    assert report.documented.update_order == ("loss_updated[0]",)
    assert "update-order slip" in report.to_text()


def test_published_examples_are_built_in(capsys) -> None:
    names = example_names()
    for path in EXAMPLES.glob("*.toml"):
        assert path.stem in names
        assert example_text(path.stem) == path.read_text("utf-8")
    assert main(["example"]) == 0
    assert "mazur-step-by-step" in capsys.readouterr().out.split()
    assert main(["check", "postnetwork-softmax", "--random-points", "0"]) == 1
    assert "z2[1] 0.157 (not 0.185)" in capsys.readouterr().out


def test_the_wheel_ships_the_published_examples() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    wheel = project["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert wheel["force-include"] == {"examples": "symbackprop/published"}


BASE = """
[network]
layers = [2, 2, 1]
activations = ["sigmoid", "sigmoid"]
loss = "squared_error"
[parameters]
W1 = [[0.1, 0.2], [0.3, 0.4]]
b1 = [0, 0]
W2 = [[0.5, 0.6]]
b2 = [0]
[data]
x = [1, 0]
y = [1]
"""


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("W1_updated = [[0, 0], [0, 0]]", r"\[expected\] W1_updated: .*needs a \[training\]"),
        ('tolerance = "loose"', r'\[expected\] tolerance: expected "printed", got \'loose\''),
        ('"dW1[2,0]" = 0.1', r"\[expected\] dW1\[2,0\]: unknown key"),
        ('"dW1[0, 0]" = 0.1', r"\[expected\] dW1\[0, 0\]: unknown key"),
    ],
    ids=["updated-without-training", "bad-tolerance", "entry-out-of-range", "entry-spaced"],
)
def test_bad_expected_is_one_line(table: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse_spec(BASE + "[expected]\n" + table + "\n", "t.toml")


def test_single_entries_and_values_after_the_step_are_judged() -> None:
    text = BASE + '[training]\nlearning_rate = 1\n[expected]\n"db1[1]" = 0.5\nloss_updated = 9\n'
    documented = check(parse_spec(text, "t.toml"), random_points=0).documented
    assert [e.entry for e in documented.entries] == ["db1[1]", "loss_updated[0]"]
    assert [e.ok for e in documented.entries] == [False, False]


def test_schiendorfer_printed_step_is_named_as_another_learning_rate() -> None:
    report = check("schiendorfer-worked-example-step", random_points=0)
    assert report.documented.learning_rate == Fraction(13, 20)
    assert "learning rate 0.65 instead of the spec's" in report.to_text()
    assert json.loads(report.to_json())["documented"]["learning_rate"] == "13/20"
    assert check("mazur-step-by-step", random_points=0).documented.learning_rate is None


def test_stack_expected_takes_gradients_in_the_parameters_shapes() -> None:
    text = example_text("cnn")
    with pytest.raises(SpecError, match=r"\[expected\] z1: unknown key; expected one of: dW1, "):
        parse_spec(text + "\n[expected]\nz1 = 1\n", "s.toml")
    with pytest.raises(
        SpecError, match=r"^s\.toml: \[expected\] dW1\[0\]: expected an array of shape"
    ):
        parse_spec(text + "\n[expected]\ndW1 = [1, 2]\n", "s.toml")
