"""compile_expressions gives what lambdify gives, on arguments that are no identifiers."""

from __future__ import annotations

import math

import mpmath
import pytest
from sympy import Dummy, ImmutableMatrix, Max, Rational, Symbol, exp, lambdify, log
from sympy.printing.numpy import NumPyPrinter

from symbackprop.checking.compiled import Exact, compile_matrix
from symbackprop.codegen import compile_expressions
from symbackprop.numeric import mpmath_printer


def test_named_arguments_and_shared_subexpressions() -> None:
    w, a, peak = Symbol("W^(1)_1,2"), Symbol("a_1"), Dummy("max")
    total = exp(w - peak) + exp(a - peak)
    exprs = [exp(w - peak) / total, exp(a - peak) / total, Max(w, a) * log(a)]
    values = [0.25, 1.5, 1.5]
    for shared in (False, True):
        f = compile_expressions([w, a, peak], exprs, NumPyPrinter(), "numpy", shared=shared)
        expected = [
            math.exp(0.25 - 1.5) / (math.exp(0.25 - 1.5) + 1.0),
            1.0 / (math.exp(0.25 - 1.5) + 1.0),
            1.5 * math.log(1.5),
        ]
        assert [float(v) for v in f(values)] == pytest.approx(expected, rel=1e-15)


def test_mpmath_code_matches_lambdify() -> None:
    x, y = Symbol("x^(0)"), Symbol("y")
    exprs = [x * y + Rational(1, 3), exp(x) / (1 + exp(y))]
    f = compile_expressions([x, y], exprs, mpmath_printer(), "mpmath")
    u, v = Symbol("u"), Symbol("v")
    g = lambdify([u, v], [e.xreplace({x: u, y: v}) for e in exprs], "mpmath")
    with mpmath.workdps(50):
        assert f([mpmath.mpf(2), mpmath.mpf("0.5")]) == g(mpmath.mpf(2), mpmath.mpf("0.5"))


def test_exact_rationals_stay_exact() -> None:
    x, y = Symbol("x_1"), Symbol("x_2")
    symbols, f = compile_matrix(ImmutableMatrix([[x * y - Rational(1, 6)]]), Rational(0))
    assert symbols == [x, y]
    (value,) = f([Exact(1) / 2, Exact(1) / 3])
    assert isinstance(value, Exact) and value.q == 0
