"""The exact values after the spec's gradient-descent step, for ``[expected]``.

``W1_updated``, ``b1_updated``, ... are theta - learning_rate * dJ/dtheta from the exact
gradients; ``loss_updated`` is the loss of the same sample with the updated parameters,
computed by the same one-level definitions as every other exact value.
"""

from __future__ import annotations

from dataclasses import replace

from sympy import ImmutableMatrix

from ..derivation import Derivation
from .exact_tables import Table, exact_numbers


def updated_numbers(derivation: Derivation, exact: Table) -> Table:
    """``{"W1_updated": rows, ..., "loss_updated": [[loss]]}``; empty without ``[training]``."""
    spec = derivation.spec
    training = spec.training
    if training is None:
        return {}
    parameters = [(f"W{l + 1}", w) for l, w in enumerate(spec.weights)]
    parameters += [(f"b{l + 1}", b) for l, b in enumerate(spec.biases or ())]
    table: Table = {}
    for key, current in parameters:
        keep = key.startswith("b") and not training.update_biases
        gradient = exact[f"d{key}"]
        table[f"{key}_updated"] = [
            [
                current[i, j] if keep else current[i, j] - training.learning_rate * gradient[i][j]
                for j in range(current.cols)
            ]
            for i in range(current.rows)
        ]
    weights = tuple(ImmutableMatrix(table[f"W{l + 1}_updated"]) for l in range(spec.depth))
    biases = None
    if spec.biases is not None:
        biases = tuple(ImmutableMatrix(table[f"b{l + 1}_updated"]) for l in range(spec.depth))
    stepped = replace(spec, weights=weights, biases=biases, expected=None, training=None)
    network = replace(derivation.network, spec=stepped)
    after = exact_numbers(network, derivation.gradients, derivation.options.relu_prime_at_zero)
    table["loss_updated"] = after["loss"]
    return table
