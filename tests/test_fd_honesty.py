"""Finite differences never fail a correct network: where float64 cannot resolve a quotient
(huge parameters) the entry is "not judged", with the reason; NaN is never shown as 0."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from symbackprop import reference
from symbackprop.check import FINITE_DIFFERENCES, check
from symbackprop.checking import compare
from symbackprop.checking.compare import Comparison, _compare, prepare
from symbackprop.checking.report import _table
from symbackprop.derivation import derive
from symbackprop.spec import parse_spec

SPEC = """
[network]
layers = [2, 3, 2]
activations = ["tanh", "softmax"]
loss = "cross_entropy"

[parameters]
W1 = [[{w}, 0.2], [0.3, 0.4], [0.5, 0.6]]
b1 = [0.1, -0.2, 0.3]
W2 = [[0.7, 0.8, 0.9], [1.0, 1.1, 1.2]]
b2 = [{b}, {b2}]

[data]
x = [1.0, 0.5]
y = [0, 1]
"""


def _spec(w: str = "0.1", b: str = "0.2", b2: str = "0.2") -> Any:
    return parse_spec(SPEC.format(w=w, b=b, b2=b2), source="honest.toml")


def _documented_fd(report: Any) -> Comparison:
    return next(
        c
        for c in report.comparisons
        if c.name == FINITE_DIFFERENCES and c.point == "documented point"
    )


@pytest.mark.parametrize(
    ("parameters", "least"),
    [({"b": "10000", "b2": "10000.5"}, 1), ({"w": "1e308"}, 17)],
)
def test_huge_parameters_are_not_judged_rather_than_failed(
    parameters: dict[str, str], least: int
) -> None:
    report = check(_spec(**parameters), random_points=0)
    fd = _documented_fd(report)
    assert report.ok, report.failure_table()
    assert len(fd.unresolved) >= least
    assert "not judged: float64 cannot resolve them" in report.to_text()
    assert any("float64 cannot resolve" in note for note in report.notes)
    found = json.loads(report.to_json())["comparisons"]
    documented = next(c for c in found if c["name"] == FINITE_DIFFERENCES)
    assert documented["not_resolved_in_float64"] == list(fd.unresolved)


def test_a_wrong_loss_still_fails_its_finite_differences(monkeypatch: pytest.MonkeyPatch) -> None:
    """A wrong derivative is stable when the step is halved: it is judged, and fails.

    ``check`` takes the loss (and the kink arguments) from ``reference.loss_and_kinks``, on
    stacked copies of the perturbed array as well as on the plain point."""
    right = reference.loss_and_kinks

    def wrong(weights: Any, biases: Any, *args: Any, **kwargs: Any) -> tuple[Any, list]:
        value, kinks = right(weights, biases, *args, **kwargs)
        return value + 1e-3 * weights[0][..., 0, 0], kinks

    monkeypatch.setattr(compare.reference, "loss_and_kinks", wrong)
    report = check(_spec(b="10000", b2="10000.25"), random_points=0)  # not a cached one
    fd = _documented_fd(report)
    assert [f.entry for f in fd.failures] == ["dW1[0,0]"]
    assert "dW1[0,0]" not in fd.unresolved


def test_nan_is_the_largest_error_not_zero() -> None:
    derivation = derive(_spec())
    point = prepare(derivation, 0, 0, 1e-7, 1e-9).points[0]
    arrays = point.arrays
    values = {f"W{l + 1}": np.array(w) for l, w in enumerate(arrays.weights)}
    values.update({f"b{l + 1}": np.array(b) for l, b in enumerate(arrays.biases or [])})
    values["W1"][0, 0] = math.nan
    comparison = _compare("nan test", point, values, 1e-7, 1e-9)
    assert math.isnan(comparison.max_abs_error)
    assert not comparison.ok
    line = _table([[comparison]], False)[1]
    assert "nan" in line and "0.0e+00" not in line


def test_a_correct_network_with_huge_biases_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from symbackprop.cli import main

    path = tmp_path / "big.toml"
    path.write_text(SPEC.format(w="0.1", b="10000", b2="10000.5"))
    assert main(["check", str(path), "--random-points", "1"]) == 0
    assert "not judged: float64 cannot resolve them" in capsys.readouterr().out


SATURATED = """
[network]
layers = [2, 2, 1]
activations = ["softplus", "sigmoid"]
loss = "binary_cross_entropy"

[parameters]
W1 = [[0.1, 0.2], [0.3, 0.4]]
b1 = [{b}, -0.2]
W2 = [[0.7, 0.8]]
b2 = [{b}]

[data]
x = [1.0, 0.5]
y = [0]
"""


@pytest.mark.parametrize("bias", ["1e6", "1e7"])
def test_check_evaluates_what_derive_evaluates(bias: str) -> None:
    """log(1 - sigma(z)) at z ~ 1e6 cancels ~434000 digits: the closed forms still settle."""
    spec = parse_spec(SATURATED.format(b=bias), source="saturated.toml")
    derivation = derive(spec)
    report = check(spec, random_points=1)
    assert report.ok, report.failure_table()
    point = prepare(derivation, 1, 0, 1e-7, 1e-9).points[0]
    loss = derivation.values.forward["loss"][0]
    assert f"{float(point.exact['loss'][0][0]):.6e}" == f"{float(derivation.decimal(loss)):.6e}"


def test_a_stack_with_huge_biases_does_not_fail_its_finite_differences() -> None:
    from symbackprop.builtin import example_text

    text = example_text("cnn").replace("b2 = [0.05, -0.05, 0.0]", "b2 = [1e4, 10000.5, 10000.25]")
    assert "10000.5" in text
    report = check(parse_spec(text, source="cnn-big.toml"), random_points=0)
    fd = _documented_fd(report)
    assert fd.ok and fd.unresolved, fd
    assert "not judged: float64 cannot resolve them" in report.to_text()


def test_the_diagnosis_says_what_was_not_judged() -> None:
    report = check(_spec(w="1e308"), random_points=0)
    assert (
        "17 finite-difference entries were not judged: float64 cannot resolve them there "
        "(see the note)." in report.diagnosis
    )


def test_a_smooth_network_has_no_kink_to_straddle() -> None:
    """Without kink arguments the mask is all False, and the arguments are asked for once, not
    twice per entry."""
    from symbackprop.finite_differences import kink_mask

    calls = []

    def no_kinks(weights: list, biases: list | None) -> list:
        calls.append(1)
        return []

    flags_w, flags_b = kink_mask(no_kinks, [np.ones((2, 3))], [np.zeros((2, 1))])
    assert [f.tolist() for f in flags_w] == [[[False] * 3] * 2]
    assert flags_b is not None and flags_b[0].tolist() == [[False], [False]]
    assert len(calls) == 1
