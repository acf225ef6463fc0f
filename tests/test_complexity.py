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


# ----------------------------------------------------------------------------- shared values


def _positive_net(layers: tuple[int, ...], seed: int = 0) -> Any:
    """A relu/softmax network with two-decimal positive numbers (no unit is dead, so every
    gradient entry depends on every softmax output)."""
    import random

    from sympy import ImmutableMatrix, Rational

    from symbackprop.spec import ActivationSpec, LossSpec, NetworkSpec

    rng = random.Random(seed)

    def matrix(rows: int, cols: int) -> ImmutableMatrix:
        return ImmutableMatrix(rows, cols, lambda i, j: Rational(rng.randint(1, 100), 100))

    depth = len(layers) - 1
    return NetworkSpec(
        "-".join(map(str, layers)),
        layers,
        (ActivationSpec("relu"),) * (depth - 1) + (ActivationSpec("softmax"),),
        LossSpec("cross_entropy"),
        tuple(matrix(layers[l + 1], layers[l]) for l in range(depth)),
        tuple(matrix(layers[l + 1], 1) for l in range(depth)),
        matrix(layers[0], 1),
        ImmutableMatrix(layers[-1], 1, lambda i, j: int(i == 0)),
    )


def _exact_characters(layers: tuple[int, ...]) -> tuple[int, int, int]:
    """(parameters, characters of every exact gradient as printed, with the shared list;
    characters of the same values inlined)."""
    d = derive(_positive_net(layers))
    values = [v for m in d.values.gradients.values() for v in m]
    named = sum(len(sympy_code(d.shared_form(v))) for v in values)
    named += sum(len(sympy_code(s.definition)) for s in d.shared.definitions)
    return len(values), named, sum(len(code(v)) for v in values)


def test_exact_forms_grow_linearly_in_the_parameters() -> None:
    """n-2n-2n-10 at n = 2 and 4: the printed exact gradients grow with the parameters (the
    slack covers the numerators, whose digits grow like the log of the width); each entry is
    a sum over the 10 named outputs, not over 10 inlined softmax outputs of 10 exponentials."""
    small, large = _exact_characters((2, 4, 4, 10)), _exact_characters((4, 8, 8, 10))
    assert large[1] / small[1] <= 1.5 * large[0] / small[0]
    for parameters, named, inlined in (small, large):
        assert named <= 25 * 10 * parameters < inlined


def test_exact_forms_grow_linearly_in_the_output_width() -> None:
    """4-8-K at K = 3 and 9: per parameter, the exact forms grow like K (each entry names the
    K outputs), where inlined they grow like K^2 (each output repeats K exponentials)."""
    narrow, wide = _exact_characters((4, 8, 3)), _exact_characters((4, 8, 9))
    per_parameter = [named / parameters for parameters, named, _ in (narrow, wide)]
    assert per_parameter[1] / per_parameter[0] <= 3
    inlined = [inlined / parameters for parameters, _, inlined in (narrow, wide)]
    assert inlined[1] / inlined[0] > 3  # the inlined forms would fail the bound above
