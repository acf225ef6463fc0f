"""The activation registry: every stated derivative is proved equal to diff of the definition.

Each elementwise activation is a small ``sympy.Function`` whose ``fdiff`` states the textbook
derivative (sigma' = sigma (1 - sigma)) and whose ``elementary`` method gives the definition that
numeric code lambdifies. Nothing checks that the two agree unless these tests do: here every
``fdiff`` is compared with ``sympy.diff`` of the elementary definition, symbolically.
"""

from __future__ import annotations

import numpy as np
import pytest
from sympy import (
    Eq,
    Expr,
    Function,
    Heaviside,
    ImmutableMatrix,
    Rational,
    S,
    Symbol,
    diff,
    exp,
    factor,
    lambdify,
    simplify,
    symbols,
    tanh,
)

from symbackprop import derive, reference
from symbackprop.activations import (
    ACTIVATIONS,
    NAMED_FUNCTIONS,
    KinkFunction,
    LeakyReLU,
    LeakyReLUPrime,
    ReLU,
    ReLUPrime,
    Sigmoid,
    Softplus,
    canonical_name,
)
from symbackprop.spec import parse_spec

z = Symbol("z", real=True)
positive = Symbol("p", positive=True)
negative = Symbol("n", negative=True)
CONVENTIONS = [S.Zero, Rational(1, 2), S.One]
SLOPE = Rational(1, 10)


def elementary(expr: Expr, convention: Expr = S.Zero) -> Expr:
    """Replace every named function in ``expr`` by its elementary definition."""
    return expr.replace(
        lambda e: isinstance(e, NAMED_FUNCTIONS), lambda e: e.elementary(convention)
    )


# --- smooth functions: fdiff == diff(elementary) everywhere ---------------------------------


@pytest.mark.parametrize(
    "function",
    [pytest.param(Sigmoid(z), id="sigmoid"), pytest.param(Softplus(z), id="softplus")],
)
def test_smooth_fdiff_is_the_derivative_of_the_definition(function: Function) -> None:
    stated = elementary(function.fdiff())
    derived = diff(function.elementary(S.Zero), z)
    assert simplify((stated - derived).rewrite(exp)) == 0


def test_sigmoid_derivative_is_stated_in_the_textbook_form() -> None:
    s = Sigmoid(z)
    assert s.fdiff() == s * (1 - s)
    assert diff(s, z) == s * (1 - s)


def test_softplus_derivative_is_the_sigmoid() -> None:
    assert diff(Softplus(z), z) == Sigmoid(z)


def test_tanh_derivative_is_one_minus_tanh_squared() -> None:
    """tanh is SymPy's own; its derivative must print in the textbook form 1 - tanh^2."""
    assert ACTIVATIONS["tanh"].apply([z], {}) == [tanh(z)]
    assert diff(tanh(z), z) == 1 - tanh(z) ** 2
    assert simplify(diff(tanh(z).rewrite(exp), z) - (1 - tanh(z) ** 2).rewrite(exp)) == 0


@pytest.mark.parametrize("function", [Sigmoid, Softplus])
def test_named_functions_evaluate_at_numbers_to_their_definition(function: type) -> None:
    value = Rational(3, 7)
    assert function(value) == function(z).elementary(S.Zero).subs(z, value)


# --- kinked functions: equal on each side, the convention at 0 --------------------------------


def test_relu_fdiff_is_the_derivative_on_each_side_of_the_kink() -> None:
    derived = diff(ReLU(z).elementary(S.Zero), z)  # SymPy says Heaviside(z)
    assert derived == Heaviside(z)
    stated = ReLU(z).fdiff()
    assert isinstance(stated, ReLUPrime)
    for side, value in [(positive, 1), (negative, 0)]:
        assert stated.subs(z, side) == value == derived.subs(z, side)
        for c in CONVENTIONS:
            assert elementary(stated, c).subs(z, side) == value


@pytest.mark.parametrize("c", CONVENTIONS)
def test_relu_prime_at_zero_is_the_convention_not_heaviside(c: Expr) -> None:
    """SymPy's Heaviside(0) is 1/2; the registry must use the chosen convention instead."""
    assert Heaviside(0) == Rational(1, 2)
    prime = ReLUPrime(z)
    assert isinstance(prime, KinkFunction)
    assert ReLUPrime(S.Zero).func is ReLUPrime  # stays unevaluated at the kink
    assert ReLUPrime(S.Zero).at_kink(c) == c
    assert prime.elementary(c).subs(z, 0) == c


def test_leaky_relu_fdiff_is_the_derivative_on_each_side_of_the_kink() -> None:
    function = LeakyReLU(z, SLOPE)
    derived = diff(function.elementary(S.Zero), z)
    stated = function.fdiff()
    assert isinstance(stated, LeakyReLUPrime)
    for side, value in [(positive, 1), (negative, SLOPE)]:
        assert stated.subs(z, side) == value
        assert derived.subs(z, side) == value
        assert elementary(stated).subs(z, side) == value


@pytest.mark.parametrize("c", CONVENTIONS)
def test_leaky_relu_prime_at_zero_interpolates_with_the_convention(c: Expr) -> None:
    assert LeakyReLUPrime(S.Zero, SLOPE).at_kink(c) == SLOPE + c * (1 - SLOPE)
    assert LeakyReLUPrime(z, SLOPE).elementary(c).subs(z, 0) == SLOPE + c * (1 - SLOPE)


def test_leaky_relu_slope_is_a_constant_not_a_variable() -> None:
    with pytest.raises(ValueError, match="constant"):
        LeakyReLU(z, Symbol("alpha")).fdiff(2)


@pytest.mark.parametrize(
    "function, below",
    [(ReLU, S.Zero), (lambda v: LeakyReLU(v, SLOPE), -2 * SLOPE)],
    ids=["relu", "leaky_relu"],
)
def test_kinked_functions_evaluate_on_each_side(function, below: Expr) -> None:
    assert function(positive) == positive
    assert function(Rational(-2)) == below
    assert function(z).func in (ReLU, LeakyReLU)  # unknown sign: stays symbolic


def test_every_named_function_is_proved_here() -> None:
    """A new Function in NAMED_FUNCTIONS needs a test above."""
    proved = {ReLU, ReLUPrime, LeakyReLU, LeakyReLUPrime, Sigmoid, Softplus}
    assert set(NAMED_FUNCTIONS) == proved


# --- softmax: the Jacobian in outputs ---------------------------------------------------------


def test_softmax_jacobian_in_outputs_is_yhat_j_times_delta_jk_minus_yhat_k() -> None:
    zs = symbols("z1:4", real=True)
    outs = symbols("yhat1:4")
    entry = ACTIVATIONS["softmax"]
    applied = entry.apply(list(zs), {})
    assert simplify(sum(applied) - 1) == 0
    for j in range(3):
        for k in range(3):
            rewritten = entry.in_outputs(diff(applied[j], zs[k]), zs, outs, {})
            expected = outs[j] * ((1 if j == k else 0) - outs[k])
            assert factor(rewritten - expected) == 0, (j, k, rewritten)


def test_softmax_is_output_only() -> None:
    assert ACTIVATIONS["softmax"].output_only
    assert not any(a.output_only for name, a in ACTIVATIONS.items() if name != "softmax")


# --- local derivatives in the derivation: textbook forms in the layer's outputs -------------


def _two_layer(hidden: str) -> str:
    return f"""
[network]
layers = [1, 1, 1]
activations = [{hidden}, "identity"]
loss = "squared_error"
[parameters]
W1 = [[0.5]]
b1 = [0.25]
W2 = [[1.5]]
b2 = [0]
[data]
x = [0.5]
y = [1]
"""


@pytest.mark.parametrize(
    "hidden, form",
    [
        ('"sigmoid"', lambda a, z: a * (1 - a)),
        ('"tanh"', lambda a, z: 1 - a**2),
        ('"relu"', lambda a, z: ReLUPrime(z)),
        ('{ name = "leaky_relu", slope = 0.2 }', lambda a, z: LeakyReLUPrime(z, Rational(1, 5))),
        ('"softplus"', lambda a, z: Sigmoid(z)),
        ('"identity"', lambda a, z: S.One),
        ('"linear"', lambda a, z: S.One),
    ],
)
def test_local_derivative_is_shown_in_its_textbook_form(hidden: str, form) -> None:
    d = derive(parse_spec(_two_layer(hidden)))
    layer = d.network.layers[0]
    a, pre = layer.activation[0, 0], layer.pre_activation[0, 0]
    assert d.gradients.local_derivatives[0][0, 0] == form(a, pre)


# --- the registry itself ----------------------------------------------------------------------


def test_registry_names_aliases_and_options() -> None:
    assert set(ACTIVATIONS) == {
        "identity",
        "relu",
        "leaky_relu",
        "sigmoid",
        "tanh",
        "softplus",
        "softmax",
    }
    assert canonical_name("linear") == "identity"
    assert canonical_name("tanh") == "tanh"
    assert ACTIVATIONS["leaky_relu"].options == {"slope": Rational(1, 100)}
    assert {n for n, a in ACTIVATIONS.items() if a.has_kink} == {"relu", "leaky_relu"}
    assert all(a.description for a in ACTIVATIONS.values())


@pytest.mark.parametrize("name", sorted(set(ACTIVATIONS) - {"softmax"}))
def test_elementary_definition_matches_the_reference_table(name: str) -> None:
    """The lambdified definition and the hand-written NumPy table give the same numbers.

    At |z| = 40 neither side overflows. (The plain definition log(1 + exp(z)) of softplus does
    lose the relative precision of its tiny value at z = -40, where the reference's logaddexp
    keeps it: hence the absolute tolerance.)
    """
    options = {"slope": Rational(1, 10)} if name == "leaky_relu" else {}
    (applied,) = ACTIVATIONS[name].apply([z], options)
    f = lambdify(z, elementary(applied), "numpy")
    points = np.array([-40.0, -3.5, -0.25, 0.0, 0.25, 3.5, 40.0])
    spec = name if not options else (name, {"slope": 0.1})
    ours = np.array([float(f(p)) for p in points])
    _, acts = reference.forward([[[1.0]]], None, points.reshape(1, -1), [spec])
    np.testing.assert_allclose(ours, acts[-1].ravel(), rtol=1e-12, atol=1e-15)


def test_softmax_matches_the_reference_even_when_saturated() -> None:
    zs = ImmutableMatrix([[Rational(-30)], [Rational(0)], [Rational(30)]])
    exact = [float(v) for v in ACTIVATIONS["softmax"].apply(list(zs), {})]
    _, acts = reference.forward([np.eye(3)], None, np.array(zs.tolist(), float), ["softmax"])
    np.testing.assert_allclose(acts[-1].ravel(), exact, rtol=1e-12, atol=1e-300)
    assert Eq(sum(ACTIVATIONS["softmax"].apply(list(zs), {})).simplify(), 1)
