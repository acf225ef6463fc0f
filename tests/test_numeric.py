"""Lambdified gradients against the exact values, for every activation/loss combination."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest
from sympy import Float, Max, Rational, Symbol

from symbackprop import derive
from symbackprop.activations import ACTIVATIONS, KinkFunction, ReLU, ReLUPrime, Sigmoid
from symbackprop.check import exact_numbers
from symbackprop.exact import evaluate
from symbackprop.losses import LOSSES
from symbackprop.numeric import (
    KINK_MARGIN,
    elementary,
    float64_constants,
    lambdify_network,
    load_point,
    random_points,
    shift_invariant,
)
from symbackprop.spec import load_spec, parse_spec

HIDDEN = sorted(name for name, entry in ACTIVATIONS.items() if not entry.output_only)
#: The losses of a vector output (an MLP's); temporal_cross_entropy scores sequences.
VECTOR_LOSSES = sorted(name for name, entry in LOSSES.items() if entry.output_rank == 1)
OUTPUT_LOSS = sorted(
    (output, loss)
    for loss, entry in LOSSES.items()
    if entry.output_rank == 1
    for output in (entry.output_activations or sorted(ACTIVATIONS))
)


def network_toml(
    layers: list[int],
    activations: list[str],
    loss: str,
    *,
    samples: int | None = None,
    seed: int = 0,
) -> str:
    """A spec with two-decimal parameters and data, and targets valid for ``loss``."""
    rng = random.Random(seed)

    def number() -> str:
        return f"{rng.randint(-100, 100) / 100:.2f}"

    def row(n: int) -> str:
        return "[" + ", ".join(number() for _ in range(n)) + "]"

    def target() -> str:
        n = layers[-1]
        if loss == "cross_entropy":
            k = rng.randrange(n)
            return "[" + ", ".join(str(int(i == k)) for i in range(n)) + "]"
        if loss == "binary_cross_entropy":
            return "[" + ", ".join(rng.choice(["0", "1", "0.25"]) for _ in range(n)) + "]"
        return row(n)

    params = []
    for l in range(len(layers) - 1):
        w = "[" + ", ".join(row(layers[l]) for _ in range(layers[l + 1])) + "]"
        params += [f"W{l + 1} = {w}", f"b{l + 1} = {row(layers[l + 1])}"]
    if samples is None:
        x, y = row(layers[0]), target()
    else:
        x = "[" + ", ".join(row(layers[0]) for _ in range(samples)) + "]"
        y = "[" + ", ".join(target() for _ in range(samples)) + "]"
    acts = ", ".join(f'"{a}"' for a in activations)
    return (
        f'[network]\nlayers = {layers}\nactivations = [{acts}]\nloss = "{loss}"\n\n'
        "[parameters]\n" + "\n".join(params) + f"\n\n[data]\nx = {x}\ny = {y}\n"
    )


def assert_numeric_matches_exact(derivation, points: int = 2, loss: bool = True) -> None:
    """At the documented point (when clear of kinks) and at random points (``loss``: J too).

    The exact values come from ``check.exact_numbers`` (the exact definitions evaluated at 60
    digits; ``tests/test_check.py`` compares those with the closed forms).
    """
    numeric = lambdify_network(derivation)
    specs = [] if derivation.values.kinks else [derivation.spec]
    specs += random_points(numeric, points, seed=1)
    for spec in specs:
        network = replace(derivation.network, spec=spec)
        exact = exact_numbers(network, derivation.gradients, Rational(0))
        values = numeric.evaluate(load_point(spec))
        for key, got in [*values.gradients.items(), ("yhat", values.forward["yhat"])]:
            want = np.array(exact[key if key == "yhat" else f"d{key}"], dtype=np.float64)
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12, err_msg=key)
        if loss:
            want_loss = float(exact["loss"][0][0])
            np.testing.assert_allclose(values.forward["loss"][0, 0], want_loss, rtol=1e-12)


def test_seed_matches_notebook_and_exact() -> None:
    d = derive("seed")
    values = lambdify_network(d).evaluate(load_point(d.spec))
    np.testing.assert_allclose(
        values.gradients["W2"],
        [[0.11045627, 0.22091255, 0.33136882], [-0.11045627, -0.22091255, -0.33136882]],
        atol=5e-9,
    )
    np.testing.assert_allclose(values.forward["yhat"].ravel(), [0.36818758, 0.63181242], atol=5e-9)
    assert_numeric_matches_exact(d)


@pytest.mark.parametrize("samples", [None, 3], ids=["one-sample", "batch-3"])
def test_deeper_network(samples: int | None) -> None:
    text = network_toml(
        [3, 4, 4, 2], ["relu", "relu", "softmax"], "cross_entropy", samples=samples
    )
    assert_numeric_matches_exact(derive(parse_spec(text)))


@pytest.mark.parametrize(("output", "loss"), OUTPUT_LOSS, ids=[f"{o}-{l}" for o, l in OUTPUT_LOSS])
@pytest.mark.parametrize("hidden", HIDDEN)
def test_every_activation_and_loss(hidden: str, output: str, loss: str) -> None:
    text = network_toml([2, 3, 2], [hidden, output], loss, seed=len(hidden) + len(output))
    assert_numeric_matches_exact(derive(parse_spec(text)), points=1)


@pytest.mark.parametrize("loss", VECTOR_LOSSES)
def test_batches_for_every_loss(loss: str) -> None:
    output = (LOSSES[loss].output_activations or ("tanh",))[0]
    text = network_toml([3, 4, 4, 2], ["tanh", "leaky_relu", output], loss, samples=4, seed=7)
    assert_numeric_matches_exact(derive(parse_spec(text)), points=1)


def test_saturated_softmax_with_a_large_loss() -> None:
    """yhat_2 ~ 8e-13 and J ~ 27.9; with b2 = 800 exp(z2) overflows unless z2 is shifted."""
    base = load_spec("seed").text
    for scale in ("1", "800"):  # b2 shifts both logits alike: only the shift keeps exp finite
        # a1 = (0.3, 0.6, 0.9), so z2 = (27.9 + b, b) with target y = (0, 1)
        w2 = "W2 = [[0, 0, 31], [0, 0, 0]]"
        text = base.replace("W2 = [[0.7, 0.8, 0.9], [1.0, 1.1, 1.2]]", w2)
        text = text.replace("b2 = [0.2, 0.2]", f"b2 = [{scale}, {scale}]")
        d = derive(parse_spec(text))
        loss = float(d.values.forward["loss"][0].evalf(30))
        assert 27 < loss < 29
        values = lambdify_network(d).evaluate(load_point(d.spec))
        assert values.forward["loss"][0, 0] == pytest.approx(loss, rel=1e-12)
        for key, matrix in d.values.gradients.items():
            want = np.array(matrix.evalf(30).tolist(), dtype=np.float64)
            np.testing.assert_allclose(values.gradients[key], want, rtol=1e-12, atol=1e-15)


def test_softmax_is_evaluated_shifted() -> None:
    d = derive(parse_spec(load_spec("seed").text.replace("b2 = [0.2, 0.2]", "b2 = [800, 800]")))
    numeric = lambdify_network(d)
    assert [bool(stage.maxima) for stage in numeric.forward_stages] == [False, False, False, True]
    values = numeric.evaluate(load_point(d.spec))
    assert np.all(np.isfinite(values.gradients["W2"]))
    np.testing.assert_allclose(values.forward["yhat"].ravel(), [0.36818758, 0.63181242], atol=5e-9)


def test_softplus_does_not_overflow() -> None:
    """z1 ~ 800: log(1 + exp(z)) is inf in float64; softplus is printed as logaddexp(0, z)."""
    text = load_spec("seed").text.replace('"relu"', '"softplus"')
    assert '"softplus"' in text
    text = text.replace("b1 = [0.1, 0.1, 0.1]", "b1 = [0.1, -800, 800]")
    # a small last column of W2 keeps the softmax clear of saturation (and of cancellation)
    text = text.replace(
        "W2 = [[0.7, 0.8, 0.9], [1.0, 1.1, 1.2]]", "W2 = [[0.7, 0.8, 0.001], [1.0, 1.1, -0.001]]"
    )
    d = derive(parse_spec(text))
    assert d.spec.biases is not None and d.spec.biases[0][2] == 800
    assert d.spec.weights[1][0, 2] == Rational(1, 1000)
    values = lambdify_network(d).evaluate(load_point(d.spec))
    for key in ("z1", "a1", "loss"):
        want = np.array(d.values.forward[key].evalf(30).tolist(), dtype=np.float64)
        np.testing.assert_allclose(values.forward[key], want, rtol=1e-12, err_msg=key)
    for key, matrix in d.values.gradients.items():
        want = np.array(matrix.evalf(30).tolist(), dtype=np.float64)
        np.testing.assert_allclose(values.gradients[key], want, rtol=1e-12, atol=1e-300)


def test_huge_leaky_slope_is_a_float64_constant() -> None:
    """slope = 1e300 used to reach NumPy as a 301-digit int: an object array, then a TypeError."""
    text = load_spec("seed").text.replace('"relu"', '{name = "leaky_relu", slope = 1e300}')
    d = derive(parse_spec(text))
    assert dict(d.spec.activations[0].options)["slope"] == 10**300
    # J ~ 4e299 at a saturated random point is inf in float64 (-log of an underflowed yhat)
    assert_numeric_matches_exact(d, points=4, loss=False)
    z = Symbol("z")
    assert float64_constants(Rational(10**300) * z + Rational(1, 3)) == Float(
        1e300, 17
    ) * z + Rational(1, 3)
    assert float64_constants(z / 10**20).atoms(Float) == {Float(1e-20, 17)}


def test_shift_invariance_is_detected() -> None:
    layers = derive("seed").network.layers
    assert (shift_invariant(layers[0]), shift_invariant(layers[1])) == (False, True)


def test_named_functions_become_elementary() -> None:
    z = Symbol("z")
    assert elementary(ReLU(z), Rational(0)) == Max(0, z)
    assert elementary(Sigmoid(z) * ReLUPrime(z), Rational(1, 2)).atoms(KinkFunction) == set()
    d = derive(
        parse_spec(load_spec("seed").text.replace("b1 = [0.1, 0.1, 0.1]", "b1 = [0.1, -0.5, 0.1]"))
    )
    for half, want in ((Rational(0), 0.0), (Rational(1, 2), 0.5), (Rational(1), 1.0)):
        values = lambdify_network(d, convention=half).evaluate(load_point(d.spec))
        # z1[1] = 0 exactly (and in float64): db1[1] = ReLU'(0) * (W2^T delta2)[1]
        exact = evaluate(d.network, d.gradients, half).gradients["b1"][1]
        assert values.gradients["b1"][1, 0] == pytest.approx(float(exact), abs=1e-15)
        if want == 0.0:
            assert values.gradients["b1"][1, 0] == 0.0


def test_stages_are_layer_by_layer() -> None:
    text = network_toml([3, 4, 4, 2], ["relu", "relu", "softmax"], "cross_entropy")
    numeric = lambdify_network(derive(parse_spec(text)))
    assert [s.key for s in numeric.forward_stages] == ["z1", "a1", "z2", "a2", "z3", "yhat"]
    assert [s.key for s in numeric.backward_stages] == ["delta3", "delta2", "delta1"]
    assert [s.key for s in numeric.gradient_stages] == ["W1", "b1", "W2", "b2", "W3", "b3"]
    # each hidden delta stage reads only the next delta, the layer's z and W: no whole network
    names = {str(s) for s in numeric.backward_stages[2].inputs}
    assert not any(n.startswith(("x", "W^(1)", "delta^(3)")) for n in names)


@pytest.fixture(scope="module")
def deep():
    text = network_toml([3, 4, 4, 2], ["relu", "relu", "softmax"], "cross_entropy", samples=3)
    d = derive(parse_spec(text))
    return d, lambdify_network(d)


class TestRandomPoints:
    def test_reproducible(self, deep) -> None:
        _, numeric = deep
        first, again, other = (random_points(numeric, 3, s) for s in (5, 5, 6))
        assert [p.weights for p in first] == [p.weights for p in again]
        assert [p.weights for p in first] != [p.weights for p in other]

    def test_clear_of_kinks_with_inactive_units_and_saturation(self, deep) -> None:
        d, numeric = deep
        saturated = 0
        for spec in random_points(numeric, 6, seed=3):
            exact = evaluate(replace(d.network, spec=spec), d.gradients)
            assert spec.expected is None and spec.x.shape == d.spec.x.shape
            for key in ("z1", "z2"):
                z = exact.forward[key]
                assert all(abs(v) >= KINK_MARGIN for v in z), key
                assert any(v < 0 for v in z) and any(v > 0 for v in z), key
            for s in range(spec.samples):  # targets stay one-hot
                assert sorted(spec.y[:, s]) == [0, 1]
            yhat = np.array(exact.forward["yhat"].evalf(20).tolist(), dtype=float)
            saturated += bool(yhat.max() > 0.999)
        assert saturated >= 2
