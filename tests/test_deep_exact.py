"""Exact values of deep towers of functions (tanh(tanh(...))) are substituted as written."""

from __future__ import annotations

from pathlib import Path

import mpmath
import numpy as np

from symbackprop import derive
from symbackprop.exact import NEST_LIMIT

DEPTH = 20


def _chain(folder: Path) -> Path:
    widths = ", ".join(["1"] * (DEPTH + 1))
    activations = ", ".join(['"tanh"'] * (DEPTH - 1) + ['"identity"'])
    parameters = "".join(f"W{i} = [[0.9]]\nb{i} = [0.1]\n" for i in range(1, DEPTH + 1))
    path = folder / "chain.toml"
    path.write_text(
        f'[network]\nlayers = [{widths}]\nactivations = [{activations}]\nloss = "squared_error"\n'
        f"[parameters]\n{parameters}[data]\nx = [0.5]\ny = [0.2]\n"
    )
    return path


def _loss(w1: mpmath.mpf) -> mpmath.mpf:
    """The chain's loss at 40 digits, written out here independently of the tool."""
    a = mpmath.mpf("0.5")
    for layer in range(DEPTH):
        z = (w1 if layer == 0 else mpmath.mpf("0.9")) * a + mpmath.mpf("0.1")
        a = z if layer == DEPTH - 1 else mpmath.tanh(z)
    return (a - mpmath.mpf("0.2")) ** 2 / 2


def test_a_20_deep_tanh_chain_derives_and_its_gradient_is_the_mpmath_derivative(
    tmp_path: Path,
) -> None:
    assert DEPTH > NEST_LIMIT  # the unevaluated substitution is what this test runs
    d = derive(str(_chain(tmp_path)))
    with mpmath.workdps(40):
        expected = float(mpmath.diff(_loss, mpmath.mpf("0.9")))
    np.testing.assert_allclose(d.gradient("W1"), [[expected]], rtol=1e-12)


def _tanh_then_relu(folder: Path) -> Path:
    """Five tanh layers, then a ReLU layer with one unit on each side of its kink."""
    weights = ["[[0.9, -0.4], [0.3, 0.8]]"] * 5 + ["[[1, 1], [-1, -1]]", "[[0.7, -0.6]]"]
    parameters = "".join(
        f"W{i} = {w}\nb{i} = [{', '.join(['0.1'] * (1 if i == 7 else 2))}]\n"
        for i, w in enumerate(weights, start=1)
    )
    path = folder / "tanh-relu.toml"
    path.write_text(
        "[network]\nlayers = [2, 2, 2, 2, 2, 2, 2, 1]\n"
        'activations = ["tanh", "tanh", "tanh", "tanh", "tanh", "relu", "identity"]\n'
        f'loss = "squared_error"\n[parameters]\n{parameters}[data]\nx = [0.5, -0.3]\ny = [0.2]\n'
    )
    return path


def test_a_relu_past_the_nesting_limit_takes_the_side_of_its_certified_sign(
    tmp_path: Path,
) -> None:
    """ReLU and ReLU' of a value written unevaluated (past NEST_LIMIT) are resolved by the sign
    of their argument; they used to take the kink's value whatever it was (derive failed)."""
    from symbackprop import reference

    d = derive(str(_tanh_then_relu(tmp_path)))
    spec = d.network.spec
    floats = lambda m: np.array(m.tolist(), dtype=float)  # noqa: E731
    weights, biases = [floats(w) for w in spec.weights], [floats(b) for b in spec.biases]
    names = [a.name for a in spec.activations]
    zs, _ = reference.forward(weights, biases, floats(spec.x), names)
    assert zs[5][0, 0] > 0 > zs[5][1, 0]  # both sides of the kink
    gw, gb = reference.backprop(
        weights, biases, floats(spec.x), floats(spec.y), activations=names, loss="squared_error"
    )
    for l in range(7):
        np.testing.assert_allclose(d.gradient(f"W{l + 1}"), gw[l], rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(d.gradient(f"b{l + 1}"), gb[l], rtol=1e-10, atol=1e-15)
    assert list(d.values.gradients["W6"][1, :]) == [0, 0]  # ReLU'(z < 0), exactly
