"""The check's memos give what they stand for: cancel up to renaming, an exact value rounded
once per precision, an exact stage reused at another precision."""

from __future__ import annotations

from fractions import Fraction

import mpmath
from sympy import Rational, cancel

from symbackprop import derive
from symbackprop.checking.compiled import Exact
from symbackprop.checking.exact_tables import exact_numbers, indices
from symbackprop.mistakes.program import _cancel_pattern, _cancelled, _jacobian, _loss_gradient


def test_cancel_by_pattern_is_cancel() -> None:
    _cancel_pattern.cache_clear()
    jacobian = _jacobian(("softmax", ()), 4, False)
    for loss in [("binary_cross_entropy", ()), ("squared_error", (("half", True),))]:
        gradient = _loss_gradient(loss, 4)
        for k in range(4):
            for i in range(4):
                term = jacobian[k][i] * gradient[k]
                assert cancel(_cancelled(term) - cancel(term)) == 0
    assert _cancel_pattern.cache_info().currsize < 16  # (k, i) differ only by names


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
