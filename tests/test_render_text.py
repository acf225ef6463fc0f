"""The text printer remembers printed subexpressions; what it prints must not change."""

from __future__ import annotations

from sympy import Float, Integer, Rational, Symbol, exp, sstr

from symbackprop.render.text import TextPrinter, show


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


def test_memory_is_bounded() -> None:
    printer = TextPrinter({"order": "none"})
    printer.MEMO_LIMIT = 5
    for k in range(40):
        expr = Symbol(f"w{k}") + k
        assert printer.doprint(expr) == sstr(expr, order="none")
    assert len(printer._memo) <= printer.MEMO_LIMIT + 3
