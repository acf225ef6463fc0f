"""The check's memos give what they stand for: cancel and factor up to renaming, an exact value rounded
once per precision, an exact stage reused at another precision."""

from __future__ import annotations

import doctest
from fractions import Fraction

import mpmath
import pytest
from sympy import Rational, cancel, diff, factor, symbols

from symbackprop import activations, derive, patterns
from symbackprop.checking.compiled import Exact
from symbackprop.checking.exact_tables import exact_numbers, indices
from symbackprop.mistakes.program import _cancelled, _jacobian, _loss_gradient


def test_cancel_by_pattern_is_cancel() -> None:
    _cancelled.cached.cache_clear()
    jacobian = _jacobian(("softmax", ()), 4, False)
    for loss in [("binary_cross_entropy", ()), ("squared_error", (("half", True),))]:
        gradient = _loss_gradient(loss, 4)
        for k in range(4):
            for i in range(4):
                term = jacobian[k][i] * gradient[k]
                assert cancel(_cancelled(term) - cancel(term)) == 0
    assert _cancelled.cached.cache_info().currsize < 16  # (k, i) differ only by names


def test_softmax_jacobian_by_pattern_is_factor(monkeypatch: pytest.MonkeyPatch) -> None:
    zs, outs = symbols("z0:7"), symbols("yhat0:7")
    applied = activations._softmax(zs, {})
    derivatives = [diff(applied[k], zs[i]) for k in range(7) for i in range(7)]
    by_pattern = [activations._softmax_in_outputs(d, zs, outs, {}) for d in derivatives]
    monkeypatch.setattr(activations, "_factored", factor)
    assert by_pattern == [activations._softmax_in_outputs(d, zs, outs, {}) for d in derivatives]
    assert by_pattern[0] == -outs[0] * (outs[0] - 1) and by_pattern[1] == -outs[0] * outs[1]


def test_pattern_doctest() -> None:
    result = doctest.testmod(patterns)
    assert result.attempted > 0 and result.failed == 0


def test_exact_rounds_at_each_precision() -> None:
    third = Exact(Fraction(1, 3))
    with mpmath.workdps(15):
        coarse = third * mpmath.mpf(1)
    with mpmath.workdps(50):
        fine = third * mpmath.mpf(1)
        assert abs(fine - mpmath.mpf(1) / 3) < mpmath.mpf(10) ** -49
        assert abs(coarse - mpmath.mpf(1) / 3) > mpmath.mpf(10) ** -30


def test_exact_tables_unchanged_by_the_reused_stages() -> None:
    derivation = derive("seed")
    network, gradients = derivation.network, derivation.gradients
    table = exact_numbers(network, gradients, Rational(0))
    values = derivation.values
    for key, matrix in values.gradients.items():
        for ((i, j), _), exact in zip(indices(matrix.shape), matrix, strict=True):
            assert abs(table[f"d{key}"][i][j] - exact.evalf(70)) < 1e-55
