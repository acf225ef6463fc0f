"""Exact values at the documented point, and decimals with every printed digit correct.

Values are found the way a person would by hand: substitute the documented numbers into each
one-level definition in turn (forward, then the deltas backwards), so no whole-network expression
is ever built. A kink derivative (ReLU' at exactly 0) takes the value of the chosen convention,
and every such place is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

from sympy import (
    Expr,
    ImmutableMatrix,
    Rational,
    Symbol,
    count_ops,
    expand,
    preorder_traversal,
    together,
)

from . import notation
from .activations import KinkFunction
from .gradients import Gradients
from .network import SymbolicNetwork

#: Only expressions up to this many operations are tidied (tidying big sums costs more than it saves).
TIDY_LIMIT = 60


@dataclass(frozen=True)
class ExactValues:
    """Exact forward values and gradients, keyed in the notebook's naming.

    ``forward`` holds ``z1, a1, ..., zL, yhat`` as (n, m) matrices and ``loss`` as a 1x1 matrix;
    ``gradients`` holds ``W1, b1, ...``. ``kinks`` names the pre-activations that were exactly 0
    where the activation has a kink, e.g. ``("z1[2]",)``.
    """

    forward: dict[str, ImmutableMatrix]
    deltas: tuple[ImmutableMatrix, ...]
    gradients: dict[str, ImmutableMatrix]
    kinks: tuple[str, ...]
    convention: Rational
    symbols: dict[Symbol, Expr]


def tidy(value: Expr) -> Expr:
    """The shortest of a few equivalent forms: ``value``, ``together(value)`` and 1/expand(1/value).

    exp(17/10)/(exp(17/10) + exp(56/25)) becomes 1/(1 + exp(27/50)).
    """
    if value.is_Rational or not _smaller_than(value, TIDY_LIMIT):
        return value
    candidates = [value, together(value)]
    if value != 0:
        candidates.append(1 / expand(1 / value))
    return min(candidates, key=count_ops)


def _smaller_than(expr: Expr, limit: int) -> bool:
    """Whether ``expr`` has fewer than ``limit`` nodes (stops counting early)."""
    return all(count < limit for count, _ in enumerate(preorder_traversal(expr)))


def evaluate(
    net: SymbolicNetwork, grads: Gradients, convention: Rational = Rational(0)
) -> ExactValues:
    """Substitute the documented point of ``net.spec`` into every definition.

    Args:
        net: the symbolic network.
        grads: its gradients.
        convention: the value of ReLU'(0) (and the matching leaky-ReLU value) at an exact kink.

    Returns:
        Every forward quantity and gradient, exactly.
    """
    spec = net.spec
    values: dict[Symbol, Expr] = {}
    for symbols, numbers in [(net.x, spec.x), (net.y, spec.y), *_parameters(net)]:
        values.update(zip(symbols, numbers, strict=True))
    forward: dict[str, ImmutableMatrix] = {}
    kinks: list[str] = []
    for layer in net.layers:
        z = _substitute(layer.z_definition, values)
        values.update(zip(layer.pre_activation, z, strict=True))
        a = _substitute(layer.a_definition, values).applyfunc(tidy)
        values.update(zip(layer.activation, a, strict=True))
        output = layer is net.output
        forward[f"z{layer.index + 1}"] = z
        forward["yhat" if output else f"a{layer.index + 1}"] = a
        if layer.function.has_kink and not output:
            kinks += [
                notation.entry_name(f"z{layer.index + 1}", _index(i, z))
                for i, v in enumerate(z)
                if v == 0
            ]
    for symbol, definition in zip(net.sample_losses, net.sample_loss_definitions, strict=True):
        values[symbol] = definition.xreplace(values)
    forward["loss"] = ImmutableMatrix([[tidy(net.loss_definition.xreplace(values))]])
    deltas: list[ImmutableMatrix] = []
    for symbols, definitions in zip(
        reversed(grads.deltas), reversed(grads.delta_definitions), strict=True
    ):
        delta = _substitute(definitions, values, convention).applyfunc(tidy)
        values.update(zip(symbols, delta, strict=True))
        deltas.insert(0, delta)
    gradients = {key: _substitute(m, values, convention) for key, m in grads.by_key().items()}
    return ExactValues(forward, tuple(deltas), gradients, tuple(kinks), convention, values)


def _index(flat: int, matrix: ImmutableMatrix) -> tuple[int, ...]:
    row, col = divmod(flat, matrix.cols)
    return (row,) if matrix.cols == 1 else (row, col)


def _parameters(net: SymbolicNetwork) -> list[tuple[ImmutableMatrix, ImmutableMatrix]]:
    pairs = [(layer.weights, w) for layer, w in zip(net.layers, net.spec.weights, strict=True)]
    if net.spec.biases is not None:
        pairs += [
            (layer.biases, b)
            for layer, b in zip(net.layers, net.spec.biases, strict=True)
            if layer.biases is not None
        ]
    return pairs


def _substitute(
    matrix: ImmutableMatrix, values: dict[Symbol, Expr], convention: Rational | None = None
) -> ImmutableMatrix:
    """Substitute ``values``; then give any kink derivative left at exactly 0 its convention value."""
    result = matrix.xreplace(values)
    if convention is not None:
        result = result.replace(
            lambda e: isinstance(e, KinkFunction), lambda e: e.at_kink(convention)
        )
    return ImmutableMatrix(result)
