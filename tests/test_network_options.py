"""Network options: batches, no biases, L2, one gradient-descent step, every activation and loss.

The grid compares three independent oracles (exact symbolic gradients, the hand-written NumPy
backprop, central finite differences) for every hidden activation against every output/loss
pair. The derived simplifications (yhat - y, the 1/m of a batch mean) are checked on the
recorded derivation steps, and a saturated softmax (loss about 28) still gives exact gradients.
"""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from oracles import ReferenceProblem, assert_three_oracles_agree, by_key, floats
from sympy import Add, Derivative, ImmutableMatrix, Integer, Rational

from symbackprop import SpecError, derive, notation, parse_spec
from symbackprop.activations import ACTIVATIONS
from symbackprop.spec import NetworkSpec

# --- building specs -------------------------------------------------------------------------


def _decimals(rng: np.random.Generator, shape: tuple[int, ...], scale: float = 1.0) -> list:
    """Random two-decimal numbers (exact in the spec), away from zero."""
    values = np.round(rng.uniform(0.1, 1.2, size=shape) * rng.choice([-1, 1], size=shape), 2)
    return (values * scale).round(4).tolist()


def _toml(value: object) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


def make_spec(
    layers: list[int],
    activations: list[str | dict],
    loss: str | dict,
    *,
    samples: int = 2,
    biases: bool = True,
    l2: str = "0",
    seed: int = 0,
    training: dict | None = None,
) -> NetworkSpec:
    """A spec with random two-decimal parameters and data, targets valid for the loss."""
    rng = np.random.default_rng(seed)
    name = loss if isinstance(loss, str) else loss["name"]
    lines = [
        "[network]",
        f"layers = {layers}",
        f"activations = {_toml(activations)}",
        f"loss = {_toml(loss)}",
        f"biases = {_toml(biases)}",
        f"l2 = {l2}",
        "[parameters]",
    ]
    for l in range(len(layers) - 1):
        lines.append(f"W{l + 1} = {_decimals(rng, (layers[l + 1], layers[l]))}")
        if biases:
            lines.append(f"b{l + 1} = {_decimals(rng, (layers[l + 1],), 0.5)}")
    lines += ["[data]", f"x = {_decimals(rng, (samples, layers[0]))}"]
    n = layers[-1]
    if name == "cross_entropy":
        lines.append(f"labels = {rng.integers(0, n, size=samples).tolist()}")
    elif name == "binary_cross_entropy":
        lines.append(f"y = {rng.choice([0, 1, 0.25], size=(samples, n)).tolist()}")
    else:
        lines.append(f"y = {_decimals(rng, (samples, n))}")
    if training is not None:
        lines += ["[training]", *[f"{k} = {_toml(v)}" for k, v in training.items()]]
    return parse_spec("\n".join(lines))


def single_sample(spec: NetworkSpec, s: int) -> NetworkSpec:
    """Sample ``s`` of a batch as a one-sample spec."""
    return dataclasses.replace(spec, x=spec.x[:, s], y=spec.y[:, s], batched=False)


def close(a, b, digits: int = 30) -> bool:
    """Exact expressions equal to ``digits`` significant digits."""
    difference = (a - b).evalf(digits + 10)
    scale = max(abs(a.evalf(digits)), 1)
    return bool(abs(difference) <= scale * Decimal(10) ** -digits)


# --- the grid: every activation x every loss, three oracles --------------------------------

HIDDEN: list[str | dict[str, Any]] = [
    "identity",
    "relu",
    {"name": "leaky_relu", "slope": 0.1},
    "sigmoid",
    "tanh",
    "softplus",
]
OUTPUTS: list[tuple[str | dict[str, Any], str | dict[str, Any]]] = [
    ("softmax", "cross_entropy"),
    ("sigmoid", "binary_cross_entropy"),
    ("identity", {"name": "squared_error", "half": True}),
    ("sigmoid", {"name": "squared_error", "half": False}),
    ("tanh", "squared_error"),
    ("softplus", "squared_error"),
    ("relu", "squared_error"),
    ({"name": "leaky_relu", "slope": 0.2}, "squared_error"),
    ("softmax", "squared_error"),
]
SIZES = [[2, 3, 2], [3, 2, 3], [1, 2, 2], [2, 2, 1]]


def _id(value: str | dict) -> str:
    return value if isinstance(value, str) else "-".join(str(v) for v in value.values())


GRID = [
    pytest.param(hidden, output, loss, i, id=f"{_id(hidden)}->{_id(output)}:{_id(loss)}")
    for i, (hidden, (output, loss)) in enumerate((h, o) for h in HIDDEN for o in OUTPUTS)
]


@pytest.mark.parametrize("hidden, output, loss, index", GRID)
def test_activation_loss_grid_three_oracles(
    hidden: str | dict, output: str | dict, loss: str | dict, index: int
) -> None:
    name = loss if isinstance(loss, str) else loss["name"]
    layers = list(SIZES[index % len(SIZES)])
    if name in ("cross_entropy",) and layers[-1] < 2:
        layers[-1] = 2
    if isinstance(loss, str):
        loss = {"name": loss}
    loss = {**loss, "reduction": ["mean", "sum"][index % 2]}
    spec = make_spec(layers, [hidden, output], loss, samples=1 + index % 3, seed=index)
    assert_three_oracles_agree(spec)


@pytest.mark.parametrize("hidden", HIDDEN, ids=_id)
def test_deep_network_mixing_activations(hidden: str | dict) -> None:
    """Three hidden layers: the chosen one between tanh and sigmoid, no biases, a batch of 3."""
    spec = make_spec(
        [2, 3, 2, 3, 2],
        ["tanh", hidden, "sigmoid", "softmax"],
        "cross_entropy",
        samples=3,
        biases=False,
        seed=7,
    )
    assert_three_oracles_agree(spec)


def test_every_registered_activation_is_in_the_grid() -> None:
    names = {h if isinstance(h, str) else h["name"] for h in HIDDEN}
    names |= {o if isinstance(o, str) else o["name"] for o, _ in OUTPUTS}
    assert names == set(ACTIVATIONS)


# --- batches -------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction, scale", [("mean", Rational(1, 3)), ("sum", Integer(1))])
def test_batch_gradient_is_the_reduced_per_sample_gradients(
    reduction: str, scale: Rational
) -> None:
    spec = make_spec(
        [2, 2, 2],
        ["tanh", "sigmoid"],
        {"name": "binary_cross_entropy", "reduction": reduction},
        samples=3,
        seed=3,
    )
    batch = derive(spec).values
    singles = [derive(single_sample(spec, s)).values for s in range(3)]
    for key, matrix in batch.gradients.items():
        for index in np.ndindex(matrix.shape):
            total = scale * Add(*[single.gradients[key][index] for single in singles])
            assert close(matrix[index], total), (key, index)
    losses = Add(*[single.forward["loss"][0, 0] for single in singles])
    assert close(batch.forward["loss"][0, 0], scale * losses)


def test_batch_forward_values_are_per_sample_columns() -> None:
    spec = make_spec([2, 3, 2], ["relu", "softmax"], "cross_entropy", samples=3, seed=4)
    batch = derive(spec).values
    for s in range(3):
        single = derive(single_sample(spec, s)).values
        for key in ("z1", "a1", "z2", "yhat"):
            assert batch.forward[key][:, s] == single.forward[key], (key, s)
        assert close(batch.symbols[notation.sample_loss(s)], single.forward["loss"][0, 0])


# --- derived simplifications, read off the recorded steps -----------------------------------


def _output_error(spec: NetworkSpec, k: int = 0, s: int = 0):
    d = derive(spec)
    n = d.network.output.size
    return d, d.gradients.output_errors[s * n + k]


def _single_case(activation: str, loss: str | dict, labels: str = "y = [1, 0]") -> NetworkSpec:
    return parse_spec(
        f"""
[network]
layers = [2, 2]
activations = ["{activation}"]
loss = {_toml(loss)}
[parameters]
W1 = [[0.5, -0.25], [0.75, 0.125]]
b1 = [0.1, -0.2]
[data]
x = [1, 2]
{labels}
"""
    )


@pytest.mark.parametrize(
    "activation, loss, factor",
    [
        ("sigmoid", "binary_cross_entropy", Integer(1)),
        ("identity", {"name": "squared_error", "half": True}, Integer(1)),
        ("identity", {"name": "squared_error", "half": False}, Integer(2)),
        ("softmax", "cross_entropy", Integer(1)),
    ],
    ids=["sigmoid+bce", "identity+half-se", "identity+se", "softmax+ce"],
)
def test_output_error_simplifies_to_yhat_minus_y(activation: str, loss, factor: Integer) -> None:
    """Derived, not typed in: the chain rule's result cancels to factor * (yhat_k - y_k)."""
    d, error = _output_error(_single_case(activation, loss))
    yhat, y = d.network.output.activation[0, 0], d.network.y[0, 0]
    first, last = error.steps[0], error.steps[-1]
    assert first.reason == "chain rule through the output activation"
    # the cancellation is derived: the chain rule's own step is not yet yhat - y
    assert activation == "identity" or (first.rhs - factor * (yhat - y)).expand() != 0
    assert (last.rhs - factor * (yhat - y)).expand() == 0
    assert close(
        d.values.deltas[0][0, 0], factor * (d.values.forward["yhat"][0, 0] - d.spec.y[0, 0])
    )


@pytest.mark.parametrize(
    "loss, target", [("squared_error", "y = [0.25]"), ("cross_entropy", "label = 0")]
)
def test_a_one_unit_softmax_is_constant_so_every_gradient_is_zero(loss: str, target: str) -> None:
    """Regression: with no chain-rule terms left, dJ/dz was once taken as Mul() = 1, not 0."""
    spec = parse_spec(
        f"""
[network]
layers = [2, 1]
activations = ["softmax"]
loss = "{loss}"
[parameters]
W1 = [[0.5, -0.25]]
b1 = [0.1]
[data]
x = [1, 2]
{target}
"""
    )
    d = assert_three_oracles_agree(spec)
    assert d.values.forward["yhat"][0, 0] == 1
    assert all(error.steps[-1].rhs == 0 for error in d.gradients.output_errors)
    assert all(v == 0 for matrix in d.values.gradients.values() for v in matrix)


def test_sigmoid_with_half_squared_error_keeps_its_textbook_form() -> None:
    """Mazur's delta: (yhat - y) yhat (1 - yhat); no cancellation to yhat - y here."""
    d, error = _output_error(_single_case("sigmoid", "squared_error"))
    yhat, y = d.network.output.activation[0, 0], d.network.y[0, 0]
    assert (error.steps[-1].rhs - (yhat - y) * yhat * (1 - yhat)).expand() == 0


@pytest.mark.parametrize("reduction, scale", [("mean", Rational(1, 3)), ("sum", Integer(1))])
def test_batch_mean_adds_one_over_m(reduction: str, scale: Rational) -> None:
    spec = make_spec(
        [2, 2],
        ["sigmoid"],
        {"name": "binary_cross_entropy", "reduction": reduction},
        samples=3,
        seed=5,
    )
    d = derive(spec)
    for s in range(3):
        for k in range(2):
            error = d.gradients.output_errors[s * 2 + k]
            per_sample, reduced = error.steps[-2], error.steps[-1]
            assert reduced.reason == "batch reduction"
            z = d.network.output.pre_activation[k, s]
            assert per_sample.lhs == Derivative(notation.sample_loss(s), z)
            assert reduced.lhs == Derivative(notation.LOSS, z)
            assert reduced.rhs == scale * per_sample.rhs
            yhat, y = d.network.output.activation[k, s], d.network.y[k, s]
            assert (per_sample.rhs - (yhat - y)).expand() == 0


# --- saturation: loss about 28, gradients still exact ----------------------------------------

SATURATED = """
[network]
layers = [2, 2, 2]
activations = ["relu", "softmax"]
loss = "cross_entropy"
[parameters]
W1 = [[2, 0], [0, 1]]
b1 = [0, 0]
W2 = [[0, 0], [14, 0]]
b2 = [0, 0]
[data]
x = [1, 0.5]
label = 0
"""


def test_saturated_softmax_loss_28_still_gives_correct_gradients() -> None:
    """Logits (0, 28): loss = log(1 + e^28) = 28.0000000000007, softmax_1 = 6.9e-13."""
    spec = parse_spec(SATURATED)
    d = assert_three_oracles_agree(spec, fd_atol=1e-5)
    loss = d.values.forward["loss"][0, 0]
    assert abs(float(loss) - 28) < 1e-11
    assert float(d.values.forward["yhat"][0, 0]) == pytest.approx(6.914400106940203e-13)
    problem = ReferenceProblem.of(spec)
    assert problem.loss(problem.weights, problem.biases) == pytest.approx(float(loss), rel=1e-15)
    # the gradient of the weight into the losing logit: (yhat_1 - 1) * a1_1, about -2
    assert float(d.values.gradients["W2"][0, 0]) == pytest.approx(-2 * (1 - 6.9144e-13))


@pytest.mark.parametrize("z", [-60, 60])
def test_saturated_binary_cross_entropy_from_logits(z: int) -> None:
    """A sigmoid output at z = -60 with y = 1 (loss 60) or z = 60 with y = 1 (loss ~0)."""
    spec = parse_spec(
        f"""
[network]
layers = [1, 1]
activations = ["sigmoid"]
loss = "binary_cross_entropy"
[parameters]
W1 = [[{z}]]
b1 = [0]
[data]
x = [1]
y = [1]
"""
    )
    d = assert_three_oracles_agree(spec)
    problem = ReferenceProblem.of(spec)
    exact = float(d.values.forward["loss"][0, 0])
    assert problem.loss(problem.weights, problem.biases) == pytest.approx(exact, rel=1e-14)
    assert exact == pytest.approx(float(np.logaddexp(0.0, -z)), rel=1e-14)


# --- biases off ------------------------------------------------------------------------------


def test_no_biases_means_no_bias_symbols_gradients_or_output() -> None:
    spec = make_spec([2, 3, 2], ["sigmoid", "softmax"], "cross_entropy", biases=False, seed=8)
    assert spec.biases is None
    d = assert_three_oracles_agree(spec)
    assert set(d.values.gradients) == {"W1", "W2"}
    assert all(layer.biases is None for layer in d.network.layers)
    assert all(
        not str(s).startswith("b")
        for layer in d.network.layers
        for s in layer.z_definition.free_symbols
    )
    document = json.loads(d.to_json())
    assert document["network"]["biases"] is False
    assert set(document["gradients"]) == {"W1", "W2"}
    assert "no biases" in d.to_text().splitlines()[0]


def test_biases_given_for_a_network_without_biases_are_an_error() -> None:
    text = SATURATED.replace('loss = "cross_entropy"', 'loss = "cross_entropy"\nbiases = false')
    with pytest.raises(
        SpecError, match=r"^<spec>: \[parameters\] b1: unknown key; expected one of: W1, W2$"
    ):
        parse_spec(text)


def test_biases_must_be_a_boolean() -> None:
    text = SATURATED.replace('loss = "cross_entropy"', 'loss = "cross_entropy"\nbiases = 0')
    with pytest.raises(
        SpecError, match=r"^<spec>: \[network\] biases: expected true or false, got 0$"
    ):
        parse_spec(text)


# --- L2 -------------------------------------------------------------------------------------


def test_l2_adds_lambda_sum_w_squared_to_the_loss_and_2_lambda_w_to_the_weights() -> None:
    """The convention: J + l2 * sum W^2 over all weights (no 1/2), biases not regularised."""
    plain = make_spec([2, 3, 2], ["tanh", "sigmoid"], "binary_cross_entropy", seed=9)
    l2 = Rational(3, 20)
    regularised = dataclasses.replace(plain, l2=l2)
    a, b = derive(plain).values, derive(regularised).values
    penalty = l2 * Add(*[w**2 for matrix in plain.weights for w in matrix])
    assert close(b.forward["loss"][0, 0], a.forward["loss"][0, 0] + penalty)
    for l, weights in enumerate(plain.weights):
        key = f"W{l + 1}"
        for index in np.ndindex(weights.shape):
            expected = a.gradients[key][index] + 2 * l2 * weights[index]
            assert close(b.gradients[key][index], expected), (key, index)
        assert b.gradients[f"b{l + 1}"] == a.gradients[f"b{l + 1}"]


def test_l2_is_shown_in_the_derivation_and_checked_by_three_oracles() -> None:
    spec = make_spec([2, 2, 2], ["relu", "softmax"], "cross_entropy", l2="0.05", seed=10)
    d = assert_three_oracles_agree(spec)
    weight = d.network.layers[0].weights[0, 0]
    assert d.network.loss_definition.coeff(weight**2) == Rational(1, 20)
    assert d.gradients.matrix_form_verified
    assert "l2 = 1/20" in d.to_text().splitlines()[0]
    assert json.loads(d.to_json())["network"]["l2"] == "1/20"


def test_negative_l2_is_an_error() -> None:
    text = SATURATED.replace('loss = "cross_entropy"', 'loss = "cross_entropy"\nl2 = -0.1')
    with pytest.raises(
        SpecError, match=r"^<spec>: \[network\] l2: expected a number >= 0, got -0.1$"
    ):
        parse_spec(text)


# --- one gradient-descent step ---------------------------------------------------------------


@pytest.mark.parametrize("update_biases", [True, False])
def test_updated_parameters_are_exact_steps_against_the_gradient(update_biases: bool) -> None:
    spec = make_spec(
        [2, 3, 2],
        ["tanh", "softmax"],
        "cross_entropy",
        seed=11,
        training={"learning_rate": 0.25, "update_biases": update_biases},
    )
    assert spec.training is not None
    assert spec.training.learning_rate == Rational(1, 4)
    d = derive(spec)
    assert d.updated is not None
    assert set(d.updated) == set(d.values.gradients)
    for l in range(spec.depth):
        key = f"W{l + 1}"
        assert d.updated[key] == ImmutableMatrix(spec.weights[l] - d.values.gradients[key] / 4)
        bias = f"b{l + 1}"
        step = spec.biases[l] - d.values.gradients[bias] / 4  # type: ignore[index]
        assert d.updated[bias] == (ImmutableMatrix(step) if update_biases else spec.biases[l])  # type: ignore[index]
    # and it agrees with a step of the reference backprop
    problem = ReferenceProblem.of(spec)
    grads = by_key(spec, problem.backprop())
    assert problem.biases is not None
    for key, matrix in d.updated.items():
        layer = int(key[1:]) - 1
        current = problem.weights[layer] if key[0] == "W" else problem.biases[layer]
        moved = key[0] == "W" or update_biases
        np.testing.assert_allclose(
            floats(matrix), current - (0.25 * grads[key] if moved else 0), rtol=1e-12
        )


def test_no_training_table_means_no_update() -> None:
    d = derive(make_spec([2, 2], ["sigmoid"], "binary_cross_entropy", seed=12))
    assert d.spec.training is None
    assert d.updated is None
    document = json.loads(d.to_json())
    assert document["updated"] is None
    assert document["training"] is None
    assert "gradient-descent step" not in d.to_text()


def test_the_step_is_rendered_in_text_and_json() -> None:
    d = derive(
        make_spec(
            [2, 2],
            ["sigmoid"],
            "binary_cross_entropy",
            seed=13,
            training={"learning_rate": 0.5, "update_biases": False},
        )
    )
    text = d.to_text()
    assert "One gradient-descent step: theta - 1/2 dJ/dtheta; biases not updated" in text
    assert "  W1[0,0] = W^(1)_11     = " in text
    document = json.loads(d.to_json())
    assert document["training"] == {"learning_rate": "1/2", "update_biases": False}
    updated = document["updated"]
    assert set(updated) == {"W1", "b1"}
    assert d.updated is not None
    assert updated["W1"]["value"] == [
        [d.decimal(v) for v in row] for row in d.updated["W1"].tolist()
    ]
    assert updated["b1"]["exact"] == [[str(v)] for v in d.spec.biases[0]]  # type: ignore[index]


@pytest.mark.parametrize(
    "table, message",
    [
        ("update_biases = false", r"^<spec>: \[training\] learning_rate: missing key$"),
        (
            "learning_rate = 0",
            r"^<spec>: \[training\] learning_rate: expected a number > 0, got 0$",
        ),
        ("learning_rate = -0.5", r"learning_rate: expected a number > 0, got -0.5$"),
        ('learning_rate = "fast"', r"learning_rate: expected a number, got string 'fast'$"),
        ("learning_rate = nan", r"learning_rate: expected a finite number, got nan$"),
        ("learning_rate = 1\nupdate_biases = 1", r"update_biases: expected true or false, got 1$"),
        (
            "learning_rate = 1\nmomentum = 0.9",
            r"^<spec>: \[training\] momentum: unknown key; expected one of: learning_rate, update_biases$",
        ),
    ],
    ids=["missing-rate", "zero", "negative", "string", "nan", "bool", "unknown"],
)
def test_bad_training_tables_name_the_key(table: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse_spec(SATURATED + "\n[training]\n" + table + "\n")
