"""The text printer remembers printed subexpressions; what it prints must not change."""

from __future__ import annotations

from sympy import Float, Integer, Rational, Symbol, exp, sstr

from symbackprop.render.text import show


def test_remembered_subexpressions_print_as_sympy_does() -> None:
    x, y = Symbol("x"), Symbol("y")
    shared = exp(x) + exp(y)
    expressions = [
        shared,
        x + Integer(2),
        x + Float(2.0),  # equal-looking twins are different keys
        Rational(1, 2) * x,
        Float(0.5) * x,
        exp(x) / shared - y / shared,
        -(exp(x) / shared) * (x - 1),
    ]
    for expr in expressions + expressions[::-1]:
        assert show(expr) == sstr(expr, order="none")
