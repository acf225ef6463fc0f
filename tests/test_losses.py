"""The loss registry: formulas, options, reductions, targets, and values against the reference.

The derived simplifications (sigmoid + BCE gives yhat - y, ...) are in test_network_options.py,
next to the networks that produce them.
"""

from __future__ import annotations

import numpy as np
import pytest
from sympy import Add, Eq, Integer, Rational, Symbol, log, symbols

from symbackprop import SpecError, derive, notation, reference
from symbackprop.losses import LOSSES, REDUCTIONS
from symbackprop.spec import parse_spec

yhat = symbols("yhat1:4")
y = symbols("y1:4")


def spec_text(
    activation: str, loss: str, data: str, layers: str = "[2, 2]", extra: str = ""
) -> str:
    return f"""
[network]
layers = {layers}
activations = [{activation}]
loss = {loss}
{extra}
[parameters]
W1 = [[0.5, -0.25], [0.75, 0.125]]
b1 = [0.1, -0.2]
[data]
{data}
"""


# --- the formulas ------------------------------------------------------------------------------


def test_registry_holds_the_three_losses_and_two_reductions() -> None:
    assert set(LOSSES) == {
        "cross_entropy",
        "binary_cross_entropy",
        "squared_error",
        "temporal_cross_entropy",
    }
    assert REDUCTIONS == ("mean", "sum")
    assert all(loss.description for loss in LOSSES.values())


def test_cross_entropy_formula() -> None:
    expected = -(y[0] * log(yhat[0]) + y[1] * log(yhat[1]) + y[2] * log(yhat[2]))
    assert (LOSSES["cross_entropy"].per_sample(yhat, y, {}) - expected).expand() == 0


def test_binary_cross_entropy_formula() -> None:
    expected = -Add(*[t * log(p) + (1 - t) * log(1 - p) for p, t in zip(yhat, y, strict=True)])
    assert (LOSSES["binary_cross_entropy"].per_sample(yhat, y, {}) - expected).expand() == 0


@pytest.mark.parametrize("half, factor", [(True, Rational(1, 2)), (False, Integer(1))])
def test_squared_error_formula_sums_over_outputs(half: bool, factor: Rational) -> None:
    expected = factor * Add(*[(p - t) ** 2 for p, t in zip(yhat, y, strict=True)])
    assert (LOSSES["squared_error"].per_sample(yhat, y, {"half": half}) - expected).expand() == 0


def test_squared_error_half_defaults_to_true() -> None:
    spec = parse_spec(spec_text('"identity"', '"squared_error"', "x = [1, 2]\ny = [0, 1]"))
    assert dict(spec.loss.options) == {"half": True}
    assert spec.loss.reduction == "mean"


def test_output_activation_requirements() -> None:
    assert LOSSES["cross_entropy"].output_activations == ("softmax",)
    assert LOSSES["binary_cross_entropy"].output_activations == ("sigmoid",)
    assert LOSSES["squared_error"].output_activations is None


# --- the spec: options, targets, labels --------------------------------------------------------


@pytest.mark.parametrize(
    "activation, loss, data, message",
    [
        (
            '"sigmoid"',
            '"cross_entropy"',
            "x = [1, 2]\ny = [0, 1]",
            r"^<spec>: \[network\] loss: 'cross_entropy' needs a softmax output layer, got 'sigmoid'$",
        ),
        (
            '"softmax"',
            '"binary_cross_entropy"',
            "x = [1, 2]\ny = [0, 1]",
            r"^<spec>: \[network\] loss: 'binary_cross_entropy' needs a sigmoid output layer",
        ),
        (
            '"softmax"',
            '"cross_entropy"',
            "x = [1, 2]\ny = [0.5, 0.5]",
            r"^<spec>: \[data\] y: target must be one-hot for cross_entropy",
        ),
        (
            '"softmax"',
            '"cross_entropy"',
            "x = [[1, 2], [3, 4]]\ny = [[0, 1], [1, 1]]",
            r"one-hot for cross_entropy: 0s and exactly one 1 \(sample 2\)$",
        ),
        (
            '"sigmoid"',
            '"binary_cross_entropy"',
            "x = [1, 2]\ny = [2, 0]",
            r"^<spec>: \[data\] y: target must lie in \[0, 1\] for binary_cross_entropy$",
        ),
        (
            '"sigmoid"',
            '{ name = "squared_error", half = 1 }',
            "x = [1, 2]\ny = [0, 1]",
            r"^<spec>: \[network\] loss.half: expected true or false, got 1$",
        ),
        (
            '"sigmoid"',
            '{ name = "squared_error", reduction = "max" }',
            "x = [1, 2]\ny = [0, 1]",
            r"^<spec>: \[network\] loss.reduction: expected one of: mean, sum, got 'max'$",
        ),
        (
            '"sigmoid"',
            '{ name = "binary_cross_entropy", half = true }',
            "x = [1, 2]\ny = [0, 1]",
            r"^<spec>: \[network\] loss.half: unknown option; expected one of: name, reduction$",
        ),
        (
            '"sigmoid"',
            '"hinge"',
            "x = [1, 2]\ny = [0, 1]",
            r"^<spec>: \[network\] loss: unknown loss 'hinge'; expected one of: "
            r"binary_cross_entropy, cross_entropy, squared_error, temporal_cross_entropy$",
        ),
        (
            '"softmax"',
            '"cross_entropy"',
            "x = [1, 2]\nlabel = 2",
            r"^<spec>: \[data\] label: expected a class index in 0..1, got 2$",
        ),
        (
            '"softmax"',
            '"cross_entropy"',
            "x = [1, 2]\nlabels = [0]",
            r"^<spec>: \[data\] labels: use 'label' with a single sample x and 'labels' with a batch$",
        ),
        (
            '"softmax"',
            '"cross_entropy"',
            "x = [1, 2]\ny = [0, 1]\nlabel = 1",
            r"^<spec>: \[data\] y: expected exactly one of: y, label, labels; got y, label$",
        ),
    ],
    ids=[
        "ce-needs-softmax",
        "bce-needs-sigmoid",
        "ce-one-hot",
        "ce-one-hot-batch",
        "bce-range",
        "half-bool",
        "reduction",
        "bce-no-half",
        "unknown-loss",
        "label-range",
        "labels-need-batch",
        "y-and-label",
    ],
)
def test_bad_loss_specs_name_the_key(activation: str, loss: str, data: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse_spec(spec_text(activation, loss, data))


def test_labels_become_one_hot_targets() -> None:
    single = parse_spec(spec_text('"softmax"', '"cross_entropy"', "x = [1, 2]\nlabel = 1"))
    assert single.y.tolist() == [[0], [1]]
    batch = parse_spec(
        spec_text(
            '"softmax"', '"cross_entropy"', "x = [[1, 2], [3, 4], [5, 6]]\nlabels = [1, 0, 1]"
        )
    )
    assert batch.y.tolist() == [[0, 1, 0], [1, 0, 1]]


def test_binary_targets_may_be_soft() -> None:
    spec = parse_spec(
        spec_text('"sigmoid"', '"binary_cross_entropy"', "x = [1, 2]\ny = [0.25, 1]")
    )
    assert spec.y.tolist() == [[Rational(1, 4)], [1]]


# --- the reduction over a batch ----------------------------------------------------------------


@pytest.mark.parametrize("reduction, scale", [("mean", Rational(1, 3)), ("sum", Integer(1))])
def test_reduction_combines_the_per_sample_losses(reduction: str, scale: Rational) -> None:
    text = spec_text(
        '"sigmoid"',
        f'{{ name = "binary_cross_entropy", reduction = "{reduction}" }}',
        "x = [[1, 2], [3, 4], [-1, 0]]\ny = [[0, 1], [1, 1], [0.5, 0]]",
    )
    d = derive(parse_spec(text))
    j_s = [notation.sample_loss(s) for s in range(3)]
    assert d.network.sample_losses == tuple(j_s)
    assert d.network.loss_definition == scale * Add(*j_s)


def test_a_single_sample_has_no_reduction() -> None:
    d = derive(
        parse_spec(spec_text('"sigmoid"', '"binary_cross_entropy"', "x = [1, 2]\ny = [0, 1]"))
    )
    assert d.network.sample_losses == ()
    assert not d.network.loss_definition.has(Symbol("J_1"))


# --- the assumption a loss may state -----------------------------------------------------------


def test_cross_entropy_applies_and_records_the_one_hot_assumption() -> None:
    d = derive(parse_spec(spec_text('"softmax"', '"cross_entropy"', "x = [1, 2]\nlabel = 0")))
    for error in d.gradients.output_errors:
        y1, y2 = d.network.y[0, 0], d.network.y[1, 0]
        assert error.assumption == Eq(y1 + y2, 1)
        assert [step.reason for step in error.steps][-1] == "one-hot target"


@pytest.mark.parametrize(
    "activation, loss, data",
    [
        ('"sigmoid"', '"binary_cross_entropy"', "y = [0, 1]"),
        ('"identity"', '"squared_error"', "y = [0, 1]"),
    ],
)
def test_other_losses_assume_nothing(activation: str, loss: str, data: str) -> None:
    d = derive(parse_spec(spec_text(activation, loss, f"x = [1, 2]\n{data}")))
    assert all(error.assumption is None for error in d.gradients.output_errors)
    assert all(s.reason != "one-hot target" for e in d.gradients.output_errors for s in e.steps)


# --- values against the hand-written reference, including saturation ------------------------

VALUE_CASES = [
    ("softmax", "cross_entropy", {}, "labels = [0, 1]"),
    ("sigmoid", "binary_cross_entropy", {}, "y = [[0, 1], [0.75, 0]]"),
    ("identity", "squared_error", {"half": True}, "y = [[0, 1], [2, -1]]"),
    ("tanh", "squared_error", {"half": False}, "y = [[0, 1], [0.5, -1]]"),
]


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("scale", [1, 40], ids=["moderate", "saturated"])
@pytest.mark.parametrize(
    "activation, loss, options, targets", VALUE_CASES, ids=[c[1] + "-" + c[0] for c in VALUE_CASES]
)
def test_exact_loss_equals_the_reference_loss(
    activation: str, loss: str, options: dict, targets: str, scale: int, reduction: str
) -> None:
    """At scale 40 the logits differ by about 60: log-softmax and BCE from logits must hold."""
    opts = "".join(f", {k} = {str(v).lower()}" for k, v in options.items())
    text = f"""
[network]
layers = [2, 2]
activations = ["{activation}"]
loss = {{ name = "{loss}", reduction = "{reduction}"{opts} }}
[parameters]
W1 = [[{0.5 * scale}, {-0.25 * scale}], [{-0.75 * scale}, {0.125 * scale}]]
b1 = [0.1, -0.2]
[data]
x = [[1, 2], [-1, 0.5]]
{targets}
"""
    spec = parse_spec(text)
    exact = float(derive(spec).values.forward["loss"][0, 0])
    ours = reference.loss(
        [np.array(spec.weights[0].tolist(), float)],
        [np.array(spec.biases[0].tolist(), float)],  # type: ignore[index]
        np.array(spec.x.tolist(), float),
        np.array(spec.y.tolist(), float),
        activations=[activation],
        loss=loss,
        half=options.get("half", True),
        reduction=reduction,
    )
    assert np.isfinite(ours)
    assert ours == pytest.approx(exact, rel=1e-12)
