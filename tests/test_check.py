"""The numeric check: oracles against the exact values, and the documented-values diagnosis."""

from __future__ import annotations

import json
from pathlib import Path

import mpmath
import numpy as np
import pytest
from sympy import Rational

from symbackprop import SymbackpropError, derive
from symbackprop.check import (
    DOCUMENTED,
    DOCUMENTED_POINT,
    FINITE_DIFFERENCES,
    LAMBDIFIED,
    REFERENCE,
    USER,
    check,
    exact_numbers,
)
from symbackprop.reference import notebook_backprop
from symbackprop.spec import load_spec, parse_spec

NOTEBOOK_FAILURES = {"dW2[0,1]", "dW2[0,2]", "dW2[1,1]", "dW2[1,2]", "db2[0]", "db2[1]"}
ORACLES = (LAMBDIFIED, REFERENCE, FINITE_DIFFERENCES)


def seed_with(*replacements: tuple[str, str], expected: str = "") -> str:
    text = load_spec("seed").text
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new)
    return text + (f"\n[expected]\n{expected}\n" if expected else "")


@pytest.fixture(scope="module")
def seed_report():
    return check("seed")


@pytest.fixture(scope="module")
def notebook_report():
    return check("seed-notebook")


def test_seed_passes_every_comparison(seed_report) -> None:
    assert seed_report.ok and seed_report.failures() == []
    for name in ORACLES:
        points = [c.point for c in seed_report.comparisons if c.name == name]
        assert points == [DOCUMENTED_POINT] + [f"random point {k}" for k in range(1, 9)]
    assert all(c.entries == 17 for c in seed_report.comparisons)
    assert not any(c.name in (USER, DOCUMENTED) for c in seed_report.comparisons)


def test_random_points_are_reported_separately(seed_report) -> None:
    text = seed_report.to_text()
    documented = text.index("At the documented point")
    random = text.index("At 8 random points (seed 0)")
    assert documented < random
    assert text.count("  exact vs reference backprop ") == 2
    assert "exact vs reference backprop        136 " in text  # 8 points x 17 entries
    assert text.rstrip().endswith("Result: ok (exit status 0)")


def test_notebook_flags_exactly_the_six_allclose_rejects(notebook_report) -> None:
    assert not notebook_report.ok
    failures = notebook_report.failures()
    assert {f.entry for f in failures} == NOTEBOOK_FAILURES and len(failures) == 6
    assert {f.comparison for f in failures} == {DOCUMENTED}
    documented = notebook_report.documented
    assert len(documented.entries) == 17  # the notebook's four tables: 6 + 2 + 6 + 3 entries
    assert {e.entry for e in documented.entries if not e.ok} == NOTEBOOK_FAILURES
    for c in notebook_report.comparisons:
        assert c.ok == (c.name != DOCUMENTED), c.name


def test_notebook_failures_match_numpy_allclose() -> None:
    """The exact decision agrees with the notebook's own np.allclose, entry by entry."""
    d = derive("seed-notebook")
    report = check(d, random_points=0).documented
    for key, matrix in d.spec.expected.values:
        exact = np.array(d.values.gradients[key[1:]].evalf(30).tolist(), dtype=float)
        documented = np.array(matrix.tolist(), dtype=float)
        close = np.isclose(exact, documented, atol=1e-4)
        for (i, j), ok in np.ndenumerate(close):
            name = f"{key}[{i}]" if matrix.cols == 1 else f"{key}[{i},{j}]"
            assert next(e.ok for e in report.entries if e.entry == name) == ok, name


def test_notebook_diagnosis(notebook_report) -> None:
    documented = notebook_report.documented
    entries = {e.entry: e for e in documented.entries}
    assert (entries["dW2[0,1]"].should_read, entries["dW2[0,1]"].documented) == (
        "0.2209",
        "0.2208",
    )
    assert (entries["dW2[0,1]"].digits_matched, entries["dW2[0,1]"].digits_written) == (3, 4)
    assert entries["dW2[0,1]"].exact == "0.220912549358"
    assert entries["dW2[0,2]"].should_read == "0.3314"
    assert entries["db2[0]"].should_read == "0.368" and not entries["db2[0]"].misread
    assert entries["dW1[0,1]"].should_read == "-0.0552" and entries["dW1[0,1]"].ok
    assert entries["dW2[0,0]"].should_read == "0.1105" and entries["dW2[0,0]"].ok
    # the loosest atol: |0.368187582264 - 0.368| - 1e-5 * 0.368
    assert documented.loosest_atol == pytest.approx(0.368187582264 - 0.368 - 0.368e-5, rel=1e-9)
    rounded = documented.rounded_prediction
    assert rounded is not None
    assert (rounded.places, rounded.rounded, rounded.reproduced) == (3, ("0.368", "0.632"), 17)
    lines = "\n".join(notebook_report.diagnosis)
    assert "6 of 17 documented entries are out of tolerance" in lines
    assert "would need atol >= 1.9e-4 (with rtol = 1e-5); it has atol = 1e-4" in lines
    assert "The hand values are consistent with ŷ rounded to 0.368" in lines
    assert "dW2[0,1] 0.2209 (not 0.2208)" in lines
    assert (
        "The lambdified closed forms, the reference NumPy backprop and central finite "
        "differences all agree with the exact values at the documented point and at 8 random "
        "points." in lines
    )
    assert "was right; it is the hand-computed values that are off" in lines


def test_notebook_text_report(notebook_report) -> None:
    text = notebook_report.to_text()
    assert (
        "  documented vs exact                 17      1.9e-04      5.1e-04  FAIL: 6 of 17" in text
    )
    row = "  dW2[0,1]        0.2208   0.220912549358   -1.13e-04   1.02e-04   3 of 4       0.2209  FAIL"
    assert row in text
    assert (
        "    dW2[0,1]: documented 0.2208, exact 0.220912549358, difference -1.13e-04 exceeds "
        "tolerance 1.02e-04" in text
    )
    assert text.count(" exceeds tolerance ") == 6
    assert "Result: FAIL, 6 failing entries in: documented vs exact (exit status 1)" in text


def test_json_has_the_same_content(notebook_report, seed_report) -> None:
    document = json.loads(notebook_report.to_json())
    assert document["ok"] is False
    assert {f["entry"] for f in document["failures"]} == NOTEBOOK_FAILURES
    assert len(document["documented"]["entries"]) == 17
    assert document["documented"]["rounded_prediction"]["yhat_rounded"] == ["0.368", "0.632"]
    assert document["diagnosis"] == list(notebook_report.diagnosis)
    assert json.loads(seed_report.to_json())["ok"] is True


def test_documented_values_are_decided_exactly() -> None:
    """|0.4 - 0.3| <= 0.1 holds exactly, though 0.4 - 0.3 > 0.1 in float64."""
    assert 0.4 - 0.3 > 0.1
    on_boundary = seed_with(expected="z1 = [0.4, 0.6, 0.9]\natol = 0.1\nrtol = 0")
    assert check(parse_spec(on_boundary), random_points=0).ok
    beyond = seed_with(expected="z1 = [0.4000001, 0.6, 0.9]\natol = 0.1\nrtol = 0")
    report = check(parse_spec(beyond), random_points=0)
    assert [f.entry for f in report.failures()] == ["z1[0]"]


def test_documented_forward_values_and_loss() -> None:
    text = seed_with(expected="yhat = [0.3682, 0.6318]\nloss = 0.4592\natol = 1e-4")
    report = check(parse_spec(text), random_points=0)
    assert report.ok
    entries = {e.entry: e for e in report.documented.entries}
    assert entries["yhat[0]"].exact == "0.368187582264"
    assert entries["loss[0]"].should_read == "0.4592"
    assert report.documented.rounded_prediction is None  # nothing to explain


def test_trailing_zeros_keep_their_precision() -> None:
    text = seed_with(expected="db2 = [0.3680, -0.3682]\natol = 1e-3")
    entries = check(parse_spec(text), random_points=0).documented.entries
    assert [(e.documented, e.should_read, e.digits_written) for e in entries] == [
        ("0.3680", "0.3682", 4),
        ("-0.3682", "-0.3682", 4),
    ]


def test_exact_numbers_are_the_closed_forms() -> None:
    """The 60-digit values used for comparisons agree with derive()'s closed forms."""
    tanh_text = seed_with(
        ('activations = ["relu", "softmax"]', 'activations = ["tanh", "softmax"]')
    )
    for spec in (load_spec("seed"), parse_spec(tanh_text)):
        d = derive(spec)
        table = exact_numbers(d.network, d.gradients, Rational(0))
        with mpmath.workdps(60):
            for key, matrix in d.values.gradients.items():
                for i in range(matrix.rows):
                    for j in range(matrix.cols):
                        want = mpmath.mpf(matrix[i, j].evalf(50)._mpf_)
                        got = mpmath.mpf(table[f"d{key}"][i][j].evalf(50)._mpf_)
                        assert abs(got - want) <= mpmath.mpf(10) ** -45 * max(1, abs(want))


def test_kink_at_the_documented_point() -> None:
    kink = parse_spec(seed_with(("b1 = [0.1, 0.1, 0.1]", "b1 = [0.1, -0.5, 0.1]")), "kink.toml")
    for convention in ("0", "1/2", "1"):
        report = check(kink, random_points=2, relu_prime_at_zero=convention)
        assert report.ok
        at_point = [c for c in report.comparisons if c.point == DOCUMENTED_POINT]
        assert all(c.flagged == ("dW1[1,0]", "dW1[1,1]", "db1[1]") for c in at_point)
        assert all(not c.flagged for c in report.comparisons if c.point != DOCUMENTED_POINT)
    assert "z1[1] is exactly 0" in report.notes[0]
    assert "ok (3 not judged: kink)" in report.to_text()


def test_other_activations_and_losses_pass() -> None:
    cases = [
        ('["sigmoid", "sigmoid"]', '"binary_cross_entropy"', "y = [0, 1]"),
        ('["tanh", "identity"]', '"squared_error"', "y = [0.5, -1.5]"),
        ('[{ name = "leaky_relu", slope = 0.1 }, "softmax"]', '"cross_entropy"', "y = [0, 1]"),
    ]
    for activations, loss, target in cases:
        text = seed_with(
            ('activations = ["relu", "softmax"]', f"activations = {activations}"),
            ('loss = "cross_entropy"', f"loss = {loss}"),
            ("y = [0, 1]", target),
        )
        report = check(parse_spec(text), random_points=2)
        assert report.ok, report.to_text()


def test_gradients_below_the_smallest_float() -> None:
    """softplus'(-800) = sigma(-800) ~ 1e-348 is exactly nonzero but 0.0 in float64."""
    text = seed_with(
        ('activations = ["relu", "softmax"]', 'activations = ["softplus", "softmax"]'),
        ("b1 = [0.1, 0.1, 0.1]", "b1 = [0.1, -800, 0.1]"),
    )
    report = check(parse_spec(text, "tiny.toml"), random_points=0)
    assert report.ok, report.to_text()
    lambdified = next(c for c in report.comparisons if c.name == LAMBDIFIED)
    # dW1[1,0] is 0.0 against ~4e-349: all of it is relative error, none of it absolute
    assert lambdified.max_rel_error == 1.0
    assert lambdified.max_abs_error < 1e-15


def test_a_wrong_user_backprop_is_blamed(seed_report) -> None:
    def off_by_a_little(weights, biases, x, y):
        grads_w, grads_b = notebook_backprop(weights, biases, x, y)
        return [1.001 * g for g in grads_w], grads_b

    report = check("seed", backprop=off_by_a_little, random_points=2)
    assert not report.ok
    assert {f.comparison for f in report.failures()} == {USER}
    assert {f.entry for f in report.failures() if f.point == DOCUMENTED_POINT} == {
        f"dW{l}[{i},{j}]"
        for l, (n, m) in ((1, (3, 2)), (2, (2, 3)))
        for i in range(n)
        for j in range(m)
    }
    assert "the difference is in your backprop" in "\n".join(report.diagnosis)
    assert check("seed", backprop=notebook_backprop, random_points=2).ok


def test_backprop_given_as_a_target(tmp_path: Path) -> None:
    (tmp_path / "mine.py").write_text(
        "from symbackprop.reference import notebook_backprop as backprop\n"
    )
    report = check("seed", backprop=f"{tmp_path / 'mine.py'}:backprop", random_points=1)
    assert report.ok and report.settings["backprop"].endswith("notebook_backprop")


def test_accepts_a_derivation_and_a_path(tmp_path: Path) -> None:
    assert check(derive("seed"), random_points=1).ok
    path = tmp_path / "net.toml"
    path.write_text(load_spec("seed-notebook").text)
    assert {f.entry for f in check(path, random_points=0).failures()} == NOTEBOOK_FAILURES


def test_rejects_bad_arguments() -> None:
    with pytest.raises(SymbackpropError, match=r"^random_points must be >= 0; got -1"):
        check("seed", random_points=-1)
    with pytest.raises(SymbackpropError, match=r"^relu_prime_at_zero must be one of 0, 1/2, 1"):
        check("seed", relu_prime_at_zero=Rational(1, 3))


def test_check_gives_the_updated_parameters_of_a_training_step() -> None:
    """Mazur's published w5+ = 0.35891648 (learning rate 0.5, biases not updated)."""
    import json
    from pathlib import Path

    from symbackprop.check import check

    spec = Path(__file__).parent.parent / "examples" / "mazur-step-by-step.toml"
    report = check(spec, random_points=0)
    updated = {entry: value for entry, _, value in report.updated}
    assert round(float(updated["W2[0,0]"]), 8) == 0.35891648
    assert updated["b1[0]"] == "0.350000000000"  # biases left alone
    assert "After one gradient-descent step (learning rate 1/2, biases not updated)" in (
        report.to_text()
    )
    assert json.loads(report.to_json())["updated"]["W2[0,0]"]["value"] == updated["W2[0,0]"]
    assert json.loads(check("seed", random_points=0).to_json())["updated"] is None


def bce_seed(b1: str, b2: str) -> str:
    return seed_with(
        ('activations = ["relu", "softmax"]', 'activations = ["sigmoid", "sigmoid"]'),
        ('loss = "cross_entropy"', 'loss = "binary_cross_entropy"'),
        ("b1 = [0.1, 0.1, 0.1]", f"b1 = {b1}"),
        ("b2 = [0.2, 0.2]", f"b2 = {b2}"),
    )


def mp_bce_loss(spec) -> mpmath.mpf:
    """The binary cross-entropy of a sigmoid network, straight from the spec in mpmath."""
    rows = [[mpmath.mpf(int(v.p)) / int(v.q) for v in m] for m in (spec.x, spec.y)]
    a, y = rows
    for w, b in zip(spec.weights, spec.biases, strict=True):
        z = [
            sum(mpmath.mpf(int(w[i, j].p)) / int(w[i, j].q) * a[j] for j in range(w.cols))
            + mpmath.mpf(int(b[i].p)) / int(b[i].q)
            for i in range(w.rows)
        ]
        a = [1 / (1 + mpmath.exp(-v)) for v in z]
    return -sum(t * mpmath.log(p) + (1 - t) * mpmath.log(1 - p) for p, t in zip(a, y, strict=True))


@pytest.mark.parametrize(
    "text",
    [
        "[network]\nlayers = [1, 1]\nactivations = ['sigmoid']\nloss = 'binary_cross_entropy'\n"
        "[parameters]\nW1 = [[0]]\nb1 = [200]\n[data]\nx = [0]\ny = [0]\n",
        bce_seed("[800, -800, 800]", "[800, -800]"),
    ],
    ids=["1-1 b=200", "seed b=+-800"],
)
def test_saturated_sigmoid_under_binary_cross_entropy(text: str) -> None:
    """log(1 - sigma(200)) cancels to log(0) at 60 digits; the precision grows until it settles."""
    spec = parse_spec(text, "bce.toml")
    assert check(spec, random_points=1).ok
    d = derive(spec)
    loss = exact_numbers(d.network, d.gradients, Rational(0))["loss"][0][0]
    with mpmath.workdps(1000):
        want = mp_bce_loss(spec)  # one sample: the batch mean is the sum over outputs
        got = mpmath.mpf(loss.evalf(70)._mpf_)
        assert abs(got - want) <= mpmath.mpf(10) ** -58 * abs(want)


HUGE = (
    "[network]\nlayers = [1, 1]\nactivations = ['identity']\nloss = 'squared_error'\n"
    "[parameters]\nW1 = [[1e200]]\nb1 = [0]\n[data]\nx = [1e200]\ny = [0]\n"
)


def test_values_beyond_float64_are_reported_exactly() -> None:
    """Exact values of 1e400 and more: every difference, tolerance and diagnosis is exact."""
    report = check(parse_spec(HUGE + "[expected]\nloss = 1\ndW1 = [[2e300]]\n"), random_points=0)
    entries = {e.entry: e for e in report.documented.entries}
    assert (entries["loss[0]"].exact, entries["loss[0]"].should_read) == ("5.00000000000e799",) * 2
    assert (entries["dW1[0]"].documented, entries["dW1[0]"].should_read) == (
        "2e300",
        "1.00000000000e600",
    )
    text = report.to_text()
    assert "loss[0]: documented 1, exact 5.00000000000e799, difference -5.00e+799" in text
    assert "would need atol >= 5e799 (with rtol = 1e-5)" in text
    # float64 overflows to inf: that is an error of inf, not within a tolerance of inf
    lambdified = next(c for c in report.comparisons if c.name == LAMBDIFIED)
    assert [f.entry for f in lambdified.failures] == ["dW1[0]", "db1[0]"]
    assert (
        "computed inf, exact 1.00000000000e600, difference +inf exceeds tolerance 1.00e+593"
        in (text)
    )
    document = json.loads(report.to_json())
    assert document["documented"]["loosest_atol"] == "5.00e+799"


def test_tolerance_text_at_any_magnitude() -> None:
    from symbackprop.checking.precision import rational_text, round_up

    assert rational_text(Rational(10) ** 5000) == "1e5000"
    assert rational_text(Rational(1, 10**400) * 25) == "2.5e-399"
    assert [rational_text(Rational(v)) for v in ("1/10000", "1/100", "100000")] == [
        "1e-4",
        "0.01",
        "100000",
    ]
    with mpmath.workdps(60):
        assert round_up(mpmath.mpf(10) ** 400 * mpmath.mpf("1.839")) == "1.9e400"
        assert round_up(mpmath.mpf("1.839e-4")) == "1.9e-4"


def test_text_of_numbers_with_huge_exponents() -> None:
    """mpmath.nstr writes the exponent through str(int), limited to 4300 digits."""
    from symbackprop.checking.precision import number_text

    with mpmath.workdps(60):
        tiny = mpmath.exp(-(mpmath.mpf(10) ** 5000))
        assert number_text(tiny) == "exp(-1.00000000000e5000)"
        assert number_text(-1 / tiny) == "-exp(1.00000000000e5000)"
        assert number_text(mpmath.mpf(10) ** 4400) == "1.00000000000e4400"
    assert number_text(Rational(7, 10**400)) == "7.00000000000e-400"


def test_no_numpy_warnings_from_the_oracles() -> None:
    """Overflow in the float64 oracles shows in the report, not as RuntimeWarnings."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = check(parse_spec(HUGE, "huge.toml"), random_points=1)
    assert {c.name for c in report.comparisons if not c.ok} == {LAMBDIFIED, REFERENCE}
    # finite differences of inf are not judged: float64 cannot resolve them
    fd = [c for c in report.comparisons if c.name == FINITE_DIFFERENCES]
    assert fd[0].point == DOCUMENTED_POINT and fd[0].unresolved == ("dW1[0]", "db1[0]")
