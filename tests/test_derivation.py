"""Exact values at the documented point, against the notebook and an independent mpmath pass."""

from __future__ import annotations

import json

import mpmath
import pytest
from sympy import E, Rational, exp, simplify

from symbackprop import Options, SymbackpropError, derive
from symbackprop.derivation import Omitted, decimal

# What the notebook printed (8 significant digits).
NOTEBOOK_YHAT = [0.36818758, 0.63181242]
NOTEBOOK_GRADIENTS = {
    "W2": [[0.11045627, 0.22091255, 0.33136882], [-0.11045627, -0.22091255, -0.33136882]],
    "b2": [[0.36818758], [-0.36818758]],
    "W1": [[-0.11045627, -0.05522814]] * 3,
    "b1": [[-0.11045627]] * 3,
}


def mpmath_seed() -> dict[str, mpmath.matrix]:
    """The notebook's forward and backward pass in 50-digit mpmath, written out by hand."""
    mpmath.mp.dps = 50
    f = mpmath.mpf
    w1 = mpmath.matrix([[f("0.1"), f("0.2")], [f("0.3"), f("0.4")], [f("0.5"), f("0.6")]])
    b1 = mpmath.matrix([f("0.1")] * 3)
    w2 = mpmath.matrix([[f("0.7"), f("0.8"), f("0.9")], [f("1.0"), f("1.1"), f("1.2")]])
    b2 = mpmath.matrix([f("0.2")] * 2)
    x, y = mpmath.matrix([f(1), f("0.5")]), mpmath.matrix([0, 1])
    z1 = w1 * x + b1
    a1 = mpmath.matrix([max(v, 0) for v in z1])
    z2 = w2 * a1 + b2
    total = sum(mpmath.exp(v) for v in z2)
    yhat = mpmath.matrix([mpmath.exp(v) / total for v in z2])
    d2 = yhat - y
    d1 = mpmath.matrix(
        [sum(w2[k, i] * d2[k] for k in range(2)) * (1 if z1[i] > 0 else 0) for i in range(3)]
    )
    return {
        "yhat": yhat,
        "loss": -mpmath.log(yhat[1]),
        "W2": d2 * a1.T,
        "b2": d2,
        "W1": d1 * x.T,
        "b1": d1,
    }


@pytest.fixture(scope="module")
def seed():
    return derive("seed")


def test_forward_values_are_exact(seed) -> None:
    assert seed.values.forward["z1"].T.tolist() == [
        [Rational(3, 10), Rational(3, 5), Rational(9, 10)]
    ]
    assert seed.values.forward["z2"].T.tolist() == [[Rational(17, 10), Rational(56, 25)]]
    assert simplify(seed.values.forward["yhat"][0] - 1 / (1 + exp(Rational(27, 50)))) == 0


def test_issue_example_closed_form(seed) -> None:
    value = seed.values.gradients["W2"][0, 1]
    assert str(value) == "3/(5*(1 + exp(27/50)))"
    assert simplify(value - Rational(3, 5) / (1 + E ** Rational(27, 50))) == 0


def test_decimals_agree_with_notebook_to_every_printed_digit(seed) -> None:
    """NumPy printed 8 decimal places; the exact value must round to each printed number."""
    for k, printed in enumerate(NOTEBOOK_YHAT):
        assert round(float(seed.values.forward["yhat"][k]), 8) == printed
    for key, rows in NOTEBOOK_GRADIENTS.items():
        for i, row in enumerate(rows):
            for j, printed in enumerate(row):
                assert round(float(seed.values.gradients[key][i, j]), 8) == printed, (key, i, j)
    assert seed.decimal(seed.values.gradients["W2"][0, 1]) == "0.220912549358"


def test_decimal_rounds_correctly_where_evalf_does_not() -> None:
    value = Rational(9, 10) / (1 + exp(Rational(27, 50)))  # 0.33136882403750851...
    assert decimal(value, 12) == "0.331368824038"
    assert decimal(Rational(1, 8), 2) == "0.12"  # a true tie rounds half to even
    assert decimal(Rational(-3, 2), 4) == "-1.500"
    assert decimal(Rational(1, 10**7), 3) == "1.00e-7"


@pytest.mark.parametrize("digits", [5, 12, 30])
def test_decimals_agree_with_independent_mpmath(seed, digits: int) -> None:
    truth = mpmath_seed()
    for key in ("W1", "b1", "W2", "b2"):
        exact = seed.values.gradients[key]
        for i in range(exact.rows):
            for j in range(exact.cols):
                expected = mpmath.nstr(truth[key][i, j], digits, strip_zeros=False)
                got = decimal(exact[i, j], digits)
                assert mpmath.mpf(got) == mpmath.mpf(expected), (key, i, j, got, expected)
    assert mpmath.mpf(decimal(seed.values.forward["loss"][0], 30)) == mpmath.mpf(
        mpmath.nstr(truth["loss"], 30)
    )


def test_expanded_form_is_in_inputs_parameters_and_targets_only(seed) -> None:
    allowed = {s for m in (seed.network.x, seed.network.y) for s in m}
    allowed |= {s for _, m in seed.network.parameters() for s in m}
    for rows in seed.expanded.values():
        for row in rows:
            for entry in row:
                assert entry.free_symbols <= allowed


def test_expanded_form_is_omitted_above_the_limit_with_its_size() -> None:
    d = derive("seed", Options(expand_limit=200))
    omitted = d.expanded["W1"][0][0]
    assert isinstance(omitted, Omitted) and omitted.limit == 200 and omitted.size > 200
    assert str(omitted).startswith(f"omitted: {omitted.size} nodes exceeds the limit of 200")
    assert not isinstance(d.expanded["b2"][0][0], Omitted)


def test_bad_options_are_errors() -> None:
    with pytest.raises(SymbackpropError, match=r"^relu_prime_at_zero must be one of 0, 1/2, 1"):
        Options(relu_prime_at_zero=Rational(2))
    with pytest.raises(SymbackpropError, match=r"^digits must be an integer from 1 to 1000"):
        Options(digits=0)
    with pytest.raises(SymbackpropError, match=r"^digits must be an integer from 1 to 1000"):
        Options(digits=4400)  # beyond Python's 4300-digit int-string limit: an error, no traceback


def test_json_has_gradients_keyed_like_the_notebook(seed) -> None:
    document = json.loads(seed.to_json())
    assert list(document["gradients"]) == ["W1", "W2", "b1", "b2"]  # sorted keys
    b1 = document["gradients"]["b1"]
    assert len(b1["exact"]) == 3 and all(len(row) == 1 for row in b1["exact"])
    assert document["gradients"]["W2"]["exact"][0][1] == "3/(5*(1 + exp(27/50)))"
    assert document["gradients"]["W2"]["value"][0][1] == "0.220912549358"


def test_large_network_reports_sizes_instead_of_expanding() -> None:
    """A 6-12-12-12-4 network: expanded forms of early layers are far too big and are omitted."""
    import sys

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    from test_gradients import deep_spec

    from symbackprop.spec import parse_spec

    d = derive(parse_spec(deep_spec("6-12-12-12-4")))
    first = d.expanded["W1"][0][0]
    assert isinstance(first, Omitted) and first.size > 10**6
    last = d.expanded["b4"][0][0]
    assert isinstance(last, Omitted) and first.size > last.size > d.options.expand_limit


DEEP_TANH = __import__("pathlib").Path(__file__).parent / "specs" / "deep-tanh-batch.toml"


@pytest.fixture(scope="module")
def deep_tanh():
    return derive(DEEP_TANH)


def test_exact_forms_too_large_to_print_are_omitted_with_their_size(deep_tanh) -> None:
    d = deep_tanh
    first = d.exact_form(d.values.gradients["W1"][0, 0])
    assert isinstance(first, Omitted) and first.limit == d.options.exact_limit
    assert str(first).endswith(f"exceeds the limit of {first.limit} (--exact-limit)")
    # the text prints the form in shared names, to which the limit applies as printed
    from symbackprop.render.text import show

    named = d.shared_form(d.values.gradients["W1"][0, 0])
    text = d.to_text()
    assert (
        f"  exact:    {show(named)}\n  value:    {d.decimal(d.values.gradients['W1'][0, 0])}\n"
        in text
    )
    seed = derive("seed")
    assert seed.exact_form(seed.values.gradients["W1"][0, 0]) == seed.values.gradients["W1"][0, 0]


def test_deep_transcendental_decimals_are_fast_and_agree_with_60_digit_values(deep_tanh) -> None:
    """Interval decimals over the shared DAG agree with a layer-by-layer 60-digit evaluation."""
    import time

    from symbackprop.check import exact_numbers

    d = deep_tanh
    start = time.perf_counter()
    decimals = {
        key: [[d.decimal(v) for v in row] for row in m.tolist()]
        for key, m in d.values.gradients.items()
    }
    assert time.perf_counter() - start < 5  # generous: it takes ~0.05 s; evalf took minutes
    reference = exact_numbers(d.network, d.gradients, d.options.relu_prime_at_zero)
    for key, rows in decimals.items():
        for shown_row, true_row in zip(rows, reference[f"d{key}"], strict=True):
            for shown, true in zip(shown_row, true_row, strict=True):
                true = mpmath.mpf(str(true))
                assert abs(mpmath.mpf(shown) - true) <= abs(true) * mpmath.mpf(10) ** -11, key
