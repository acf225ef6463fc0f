"""Complexity, not time: printing a derivation prints each distinct subexpression once."""

from __future__ import annotations

from typing import Any

from sympy import preorder_traversal
from sympy.printing.str import StrPrinter, sstr

from symbackprop import derive
from symbackprop.memo_printer import Memoised
from symbackprop.render import text
from symbackprop.render.common import code
from symbackprop.sympy_code import CodePrinter, sympy_code


def _forms() -> list[Any]:
    d = derive("seed")
    forms = [m[i] for m in d.compact.values() for i in range(len(m))]
    forms += [m[i] for m in d.values.gradients.values() for i in range(len(m))]
    return forms


class _Counting(Memoised, StrPrinter):
    """Counts the compound subexpressions that are printed for real (memo misses)."""

    misses = 0

    def _print_Add(self, expr: Any, order: Any = None) -> str:
        self.misses += 1
        return super()._print_Add(expr, order)

    def _print_Mul(self, expr: Any) -> str:
        self.misses += 1
        return super()._print_Mul(expr)


def test_memoised_printers_print_as_sympy_does() -> None:
    for form in _forms():
        assert code(form) == sstr(form, order="none")
        assert sympy_code(form) == CodePrinter({"order": "none"}).doprint(form)
        assert text.show(form) == text.TextPrinter({"order": "none"}).doprint(form)


def test_each_distinct_sum_and_product_is_printed_once() -> None:
    forms = _forms() * 3
    printer = _Counting({"order": "none"})
    for form in forms:
        printer.doprint(form)
    distinct = {
        node for form in forms for node in preorder_traversal(form) if node.is_Add or node.is_Mul
    }
    assert 0 < printer.misses <= len(distinct)
