"""The generic chain rule (chain.py), and dense networks derived on it (gradients.py).

Dense networks and stacks share :func:`symbackprop.chain.reverse`; the dense derivation renames
its adjoints dJ/dz^(l) to delta^(l). The truths compared against here are independent: the
expanded loss differentiated by ``sympy.diff`` (exactly), and the hand-written NumPy backprop
with finite differences.
"""

from __future__ import annotations

import subprocess
import sys

from oracles import approximate, assert_three_oracles_agree
from sympy import Expr, Float, Symbol, diff, symbols

from symbackprop import chain, derive, gradients, notation, parse_spec
from symbackprop.activations import Sigmoid
from symbackprop.gradients import gradients_of
from symbackprop.network import build_network
from symbackprop.spec import example_text

#: Three hidden layers (tanh, sigmoid, tanh), a batch of 3 and an L2 term.
DEEP = """
[network]
layers = [3, 4, 4, 4, 3]
activations = ["tanh", "sigmoid", "tanh", "softmax"]
loss = "cross_entropy"
l2 = 0.01

[parameters]
W1 = [[-0.66, 0.45, 0.95], [-0.84, -0.35, -0.7], [0.26, 0.94, 0.15], [0.2, 0.66, -0.03]]
b1 = [-0.95, 0.06, 0.42, 0.64]
W2 = [[-0.47, -0.76, 0.24, -0.93], [-0.01, 0.1, 0.55, 0.95], [0.96, -1, 0.78, 0.14],
      [-0.32, 0.84, -0.42, 0.51]]
b2 = [-0.75, -0.53, 0.61, 0.85]
W3 = [[-0.74, -0.19, -0.93, -0.95], [-0.94, 0.66, 0.38, -0.98], [-0.03, 0.75, -0.45, 0.08],
      [0.85, -0.93, 0.35, -0.44]]
b3 = [-0.25, -0.7, 0.9, -0.15]
W4 = [[0.95, 0.12, 0.26, 0.41], [-0.41, -0.12, -0.41, 0.73], [-0.44, 0.94, 0.17, -0.26]]
b4 = [0.84, 0.82, 0.28]

[data]
x = [[0.08, -0.52, 0.5], [0.29, -0.23, 0.27], [0.71, -0.28, 0.29]]
y = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
"""


def test_partials_lives_in_chain_and_gradients_reexports_it() -> None:
    assert gradients.partials is chain.partials


def test_the_dependency_points_one_way() -> None:
    """chain.py imports nothing of gradients.py (gradients.py builds on chain.py)."""
    code = "import sys, symbackprop.chain; print('symbackprop.gradients' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_local_derivatives_are_recorded_after_the_rewrite() -> None:
    w, x, z, a, J = symbols("w x z a J")
    adjoints = chain.reverse(
        {z: w * x, a: Sigmoid(z), J: a**2},
        J,
        [w],
        {a: lambda local: local.xreplace({Sigmoid(z): a})},
    )
    assert adjoints.local(a, z) == a * (1 - a)
    assert adjoints.local(J, a) == 2 * a
    assert adjoints.local(J, z) == 0  # J does not use z directly
    assert adjoints.parameters[w] == adjoints.symbols[z] * x


def test_each_definition_is_differentiated_once_per_symbol_it_uses() -> None:
    """The uses the chain rule records are exactly the (consumer, symbol) pairs of the
    definitions: in the seed network, z^(1) 3*5, a^(1) 3*1, z^(2) 2*7, yhat 2*2 and J 4."""
    net = build_network(parse_spec(example_text("seed")))
    params = [p for _, matrix in net.parameters() for p in matrix]
    definitions = net.definitions()
    adjoints = chain.reverse(definitions, notation.LOSS, params)
    expected = sum(len(expr.free_symbols) for expr in definitions.values())
    assert sum(len(uses) for uses in adjoints.uses.values()) == expected == 15 + 3 + 14 + 4 + 4


def _one_level(expr: Expr, allowed: set[Symbol]) -> bool:
    return all(not s.name.startswith("dJ/d") for s in expr.free_symbols) and all(
        s in allowed or not s.name.startswith("delta") for s in expr.free_symbols
    )


def test_dense_deltas_are_one_level_in_the_next_layers_deltas() -> None:
    grads = gradients_of(build_network(parse_spec(DEEP)))
    last = len(grads.deltas) - 1
    for l, definitions in enumerate(grads.delta_definitions):
        allowed = set(grads.deltas[l + 1]) if l < last else set()
        assert all(_one_level(d, allowed) for d in definitions), l
    for l, weights in enumerate(grads.weights):
        assert all(_one_level(g, set(grads.deltas[l])) for g in weights), l


def test_seed_gradients_equal_diff_of_the_expanded_loss() -> None:
    """Independent truth: the whole loss expanded in x, W, b and y, differentiated by diff."""
    d = derive("seed")
    net, spec = d.network, d.spec
    expansions: dict[Symbol, Expr] = {}
    for symbol, definition in net.definitions().items():
        expansions[symbol] = definition.xreplace(expansions)
    loss = expansions[notation.LOSS]
    point: dict[Symbol, Expr] = dict(zip(net.x, spec.x, strict=True))
    point.update(zip(net.y, spec.y, strict=True))
    for layer, w, b in zip(net.layers, spec.weights, spec.biases or (), strict=True):
        point.update(zip(layer.weights, w, strict=True))
        point.update(zip(layer.biases, b, strict=True))
    memo: dict[Expr, Float] = {}
    for key, matrix in net.parameters():
        for p, value in zip(matrix, d.values.gradients[key], strict=True):
            truth = diff(loss, p).xreplace(point)
            difference = approximate(truth, memo) - approximate(value, memo)
            assert abs(difference) < 1e-25, (key, p)


def test_deep_batched_l2_network_agrees_with_reference_and_finite_differences() -> None:
    d = assert_three_oracles_agree(parse_spec(DEEP))
    assert d.gradients.matrix_form_verified
    reasons = [step.reason for step in d.gradients.output_errors[0].steps]
    assert reasons == [
        "chain rule through the output activation",
        "expand and cancel",
        "one-hot target",
        "batch reduction",
    ]
