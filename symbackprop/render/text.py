"""Plain text for a terminal: compact form, expanded form, exact value and decimal per entry."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sympy import Derivative, Expr
from sympy.printing.str import StrPrinter

from .. import notation
from ..formats import Omitted, register
from ..memo_printer import Memoised
from ..progress import progress
from .common import (
    entries,
    forward_keys,
    forward_symbols,
    gradient_label,
    indexing_rule,
    kink_note,
    parameter_symbols,
    shown_value,
    title,
)
from .sections import UPDATED, resolve

if TYPE_CHECKING:
    from ..derivation import Derivation


class TextPrinter(StrPrinter):
    """SymPy's str() with d/d notation for derivatives and ReLU' for the ReLU derivative."""

    def _print_Derivative(self, expr: Derivative) -> str:
        ((variable, _),) = expr.variable_count
        return f"d{self._print(expr.expr)}/d{self._print(variable)}"

    def _print_ReLUPrime(self, expr: Expr) -> str:
        return f"ReLU'({self._print(expr.args[0])})"

    def _print_PoolMax(self, expr: Expr) -> str:
        return f"max({', '.join(self._print(a) for a in expr.args)})"

    def _print_FirstMax(self, expr: Expr) -> str:
        values = ", ".join(self._print(a) for a in expr.args[1:])
        return f"[argmax({values}) = {int(expr.args[0]) + 1}]"

    def _print_LeakyReLUPrime(self, expr: Expr) -> str:
        return f"LeakyReLU'({self._print(expr.args[0])}; {self._print(expr.args[1])})"


class _MemoisedText(Memoised, TextPrinter):
    """:class:`TextPrinter` printing each distinct subexpression once."""


#: One printer for every call of :func:`show`, so that shared subexpressions print once.
_SHOW = _MemoisedText({"order": "none"})


def show(expr: object) -> str:
    """Print ``expr`` for a terminal, the terms in SymPy's canonical order (never sorted by
    numeric value, which costs an ``evalf`` per term); each distinct subexpression is printed
    once per process (see :mod:`symbackprop.memo_printer`)."""
    if isinstance(expr, Omitted):
        return str(expr)
    return _SHOW.doprint(expr)


@register("text")
def to_text(
    derivation: Derivation, *, sections: str | Sequence[str] | None = None, expanded: bool = True
) -> str:
    """Render ``derivation`` for reading in a terminal.

    Args:
        derivation: What to render.
        sections: Section names or a comma-separated string (see
            :data:`~symbackprop.render.sections.SECTIONS`); default all. Text has ``forward``,
            ``loss``, ``output-error``, ``gradients`` and ``updated``; the other names add nothing.
        expanded: Include the expanded forms of the gradients.
    """
    chosen = resolve(sections)
    lines = [
        f"symbackprop derivation of {title(derivation)}",
        f"ReLU'(0) = {derivation.options.relu_prime_at_zero}; "
        f"decimals to {derivation.options.digits} significant digits",
        indexing_rule(derivation),
        "",
    ]
    note = kink_note(derivation)
    lines += [f"note: {note}", ""] if note else []
    keys = [*forward_keys(derivation)] if "forward" in chosen else []
    keys += ["loss"] if "loss" in chosen else []
    if keys:
        lines += ["Forward pass at the documented point", *_forward(derivation, keys), ""]
    if "output-error" in chosen:
        lines += ["Output error"]
        for error in derivation.gradients.output_errors[: derivation.network.output.size]:
            for step in error.steps:
                lines.append(f"  {show(step.lhs)} = {show(step.rhs)}    [{step.reason}]")
        lines += [""]
    if "gradients" in chosen:
        lines += _shared(derivation)
        lines += ["Gradients"]
        gradients = [
            (key, index, compact)
            for key, matrix in derivation.compact.items()
            for index, compact in entries(matrix)
        ]
        for key, index, compact in progress(gradients, "printing the gradients"):
            lines += _entry(derivation, key, index, compact, expanded)
        lines += [""]
    if UPDATED in chosen:
        lines += _updated(derivation)
    return "\n".join(lines).rstrip("\n") + "\n"


def _value(derivation: Derivation, value: Expr) -> str:
    """``3/10 = 0.3`` (a short exact decimal written as itself), ``0``, or ``exact  ≈ decimal``."""
    shown = show(derivation.exact_form(value))
    relation, decimal = shown_value(derivation, value)
    if relation == "=":
        return shown if shown == decimal else f"{shown} = {decimal}"
    return f"{shown}  ≈ {decimal}"


def _shared(derivation: Derivation) -> list[str]:
    """The values that many exact gradients share, each ``name = definition  ≈ decimal``."""
    definitions = derivation.shared.definitions
    if not definitions:
        return []
    lines = ["Shared values at the documented point (the exact gradients below use these names)"]
    for shared in definitions:
        shown = show(derivation.exact_form(shared.definition))
        relation, decimal = shown_value(derivation, shared.value)
        value = shown if relation == "=" and shown == decimal else f"{shown}  {relation} {decimal}"
        lines.append(f"  {shared.symbol} = {value}")
    return [*lines, ""]


def _forward(derivation: Derivation, keys: list[str]) -> list[str]:
    """``z1[0] = z^(1)_1 = 3/10 = 0.3``: each value by both names, then its value."""
    lines, symbols = [], forward_symbols(derivation)
    for key in keys:
        for index, value in entries(derivation.values.forward[key]):
            name = "loss = J" if key == "loss" else _both(key, index, symbols[key])
            lines.append(f"  {name:<22} = {_value(derivation, value)}")
    return lines


def _both(key: str, index: tuple[int, ...], symbols: object) -> str:
    """``z1[0] = z^(1)_1``: the 0-based NumPy name and the 1-based math symbol."""
    row, col = index[0], index[1] if len(index) > 1 else 0
    return f"{notation.entry_name(key, index)} = {symbols[row, col]}"  # type: ignore[index]


def _updated(derivation: Derivation) -> list[str]:
    """The parameters after one gradient-descent step, when the spec has ``[training]``."""
    training, updated = derivation.spec.training, derivation.updated
    if training is None or updated is None:
        return []
    kept = "" if training.update_biases else "; biases not updated (update_biases = false)"
    lines = [f"One gradient-descent step: theta - {training.learning_rate} dJ/dtheta{kept}"]
    symbols = parameter_symbols(derivation)
    for key, matrix in updated.items():
        for index, value in entries(matrix):
            name = _both(key, index, symbols[key])
            lines.append(f"  {name:<22} = {_value(derivation, value)}")
    return lines


def _entry(
    derivation: Derivation, key: str, index: tuple[int, ...], compact: object, expanded: bool
) -> list[str]:
    row, col = (index[0], index[1] if len(index) > 1 else 0)
    exact = derivation.values.gradients[key][row, col]
    symbol = parameter_symbols(derivation)[key][row, col]
    lines = [f"{gradient_label(key, index)} = dJ/d{symbol}", f"  compact:  {show(compact)}"]
    if expanded:
        lines.append(f"  expanded: {show(derivation.expanded[key][row][col])}")
    lines += [
        f"  exact:    {show(derivation.shared_form(exact))}",
        f"  value:    {shown_value(derivation, exact)[1]}",
    ]
    return lines
