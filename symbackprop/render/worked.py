"""The numbers a worked gradient entry substitutes, shared by the derivation and the handout.

A gradient entry is worked out in the errors (``delta``) and the forward pass's named
quantities: every symbol at the documented point as shown, and each output error by its
definition with those numbers substituted, so that the worked line reads in shown values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sympy import Expr, Symbol

if TYPE_CHECKING:
    from .forward_blocks import ForwardWriter


def worked_numbers(writer: ForwardWriter) -> dict[Symbol, Expr]:
    """Every symbol's shown value, and each output error ``delta^(L)`` as its definition in
    those values (:meth:`ForwardWriter.numbers`)."""
    point = writer.point()
    numbers = dict(point)
    gradients = writer.d.gradients
    for symbol, definition in zip(
        gradients.deltas[-1], gradients.delta_definitions[-1], strict=True
    ):
        numbers[symbol] = writer.numbers(definition, point)
    return numbers
