"""The exact values after the spec's gradient-descent step, for ``[expected]``.

``W1_updated``, ``b1_updated``, ... are theta - learning_rate * dJ/dtheta from the exact
gradients; ``loss_updated`` is the loss of the same sample with the updated parameters,
computed by the same one-level definitions as every other exact value.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from fractions import Fraction

import mpmath
from sympy import ImmutableMatrix, Rational

from .. import notation
from ..derivation import Derivation
from ..spec import NetworkSpec
from .exact_tables import Table, exact_numbers
from .precision import PRECISION, Number, mp


def updated_numbers(derivation: Derivation, exact: Table, late: bool = False) -> Table:
    """``{"W1_updated": rows, ..., "loss_updated": [[loss]]}``; empty without ``[training]``.

    ``late = True`` gives the update-order slip instead: every layer's delta computed with the
    already-updated weights of the layers after it.
    """
    spec = derivation.spec
    if spec.training is None:
        return {}
    table = _stepped(spec, exact)
    if late:
        override = {
            symbol: value
            for layer in derivation.network.layers[1:]
            for symbol, value in zip(
                layer.weights, _flat(table[f"W{layer.index + 1}_updated"]), strict=True
            )
        }
        network, convention = derivation.network, derivation.options.relu_prime_at_zero
        table = _stepped(spec, exact_numbers(network, derivation.gradients, convention, override))
    return table | {"loss_updated": _loss_after(derivation, table)}


def _flat(rows: list[list[Number]]) -> list[Number]:
    return [v for row in rows for v in row]


def _stepped(spec: NetworkSpec, exact: Table) -> Table:
    """theta - learning_rate * dJ/dtheta for every parameter, from the gradients in ``exact``."""
    assert spec.training is not None
    rate, update_biases = spec.training.learning_rate, spec.training.update_biases
    parameters = [(f"W{l + 1}", w) for l, w in enumerate(spec.weights)]
    parameters += [(f"b{l + 1}", b) for l, b in enumerate(spec.biases or ())]
    table: Table = {}
    for key, current in parameters:
        keep = key.startswith("b") and not update_biases
        gradient = exact[f"d{key}"]
        table[f"{key}_updated"] = [
            [
                current[i, j] if keep else current[i, j] - rate * gradient[i][j]
                for j in range(current.cols)
            ]
            for i in range(current.rows)
        ]
    return table


def _loss_after(derivation: Derivation, table: Table) -> list[list[Number]]:
    """The loss at the same sample with the parameters of ``table``."""
    spec = derivation.spec
    weights = tuple(ImmutableMatrix(table[f"W{l + 1}_updated"]) for l in range(spec.depth))
    biases = None
    if spec.biases is not None:
        biases = tuple(ImmutableMatrix(table[f"b{l + 1}_updated"]) for l in range(spec.depth))
    stepped = replace(spec, weights=weights, biases=biases, expected=None, training=None)
    network = replace(derivation.network, spec=stepped)
    after = exact_numbers(network, derivation.gradients, derivation.options.relu_prime_at_zero)
    return after["loss"]


def learning_rate_reproducing(
    derivation: Derivation, exact: Table, written: dict[str, Decimal]
) -> Fraction | None:
    """A learning rate (1 to 3 decimals) under which every ``written`` updated parameter entry
    (``{"W2_updated[0,1]": Decimal("0.0713")}``) is theta - rate * dJ/dtheta as written."""
    spec = derivation.spec
    if spec.training is None or not written:
        return None
    cells = []
    for name, literal in written.items():
        key, index = notation.split_entry(name)
        if index is None or not key.endswith("_updated"):
            return None
        parameter = key.removesuffix("_updated")
        i, j = (index[0], 0) if len(index) == 1 else index
        current = _current(spec, parameter)[i, j]
        gradient = _fraction(exact[f"d{parameter}"][i][j])
        cells.append((Fraction(int(current.p), int(current.q)), gradient, literal))
    current, gradient, literal = max(cells, key=lambda c: abs(c[1]))
    if gradient == 0:
        return None
    rate = (current - Fraction(literal)) / gradient
    for places in (1, 2, 3):
        candidate = Fraction(round(rate * 10**places), 10**places)
        if (
            candidate > 0
            and candidate != spec.training.learning_rate
            and all(_as_written(c - candidate * g, w) for c, g, w in cells)
        ):
            return candidate
    return None


def _current(spec: NetworkSpec, parameter: str) -> ImmutableMatrix:
    layer = int(parameter[1:]) - 1
    if parameter.startswith("W"):
        return spec.weights[layer]
    assert spec.biases is not None
    return spec.biases[layer]


def _fraction(value: Number) -> Fraction:
    if isinstance(value, Rational):
        return Fraction(int(value.p), int(value.q))
    with mpmath.workdps(PRECISION):
        return Fraction(mpmath.nstr(mp(value), PRECISION, strip_zeros=False))


def _as_written(value: Fraction, literal: Decimal) -> bool:
    unit = Fraction(10) ** int(literal.as_tuple().exponent)
    return round(value / unit) * unit == Fraction(literal)
