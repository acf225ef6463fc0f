"""The exact values after the spec's gradient-descent step, for ``[expected]``.

``W1_updated``, ``b1_updated``, ... are theta - learning_rate * dJ/dtheta from the exact
gradients; ``loss_updated`` is the loss of the same sample with the updated parameters,
computed by the same one-level definitions as every other exact value.
"""

from __future__ import annotations

from dataclasses import replace

from sympy import ImmutableMatrix

from ..derivation import Derivation
from ..spec import NetworkSpec
from .exact_tables import Table, exact_numbers
from .precision import Number


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
