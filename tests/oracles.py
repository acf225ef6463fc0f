"""Three independent gradient oracles compared at one point (a helper for the tests).

1. the exact symbolic gradients of ``derive`` (``derivation.values.gradients``), as floats;
2. the hand-written NumPy backprop of ``symbackprop.reference``;
3. central finite differences of the reference loss, skipping entries that straddle a kink.

The spec is turned into plain floats and names here, so the reference side sees only what a
user of the notebook's calling convention would pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sympy import Expr, Float, ImmutableMatrix

from symbackprop import Derivation, NetworkSpec, derive, reference
from symbackprop.finite_differences import central_differences, kink_mask

Array = np.ndarray


def approximate(expr: Expr, memo: dict[Expr, Float], digits: int = 30) -> Float:
    """``expr`` evaluated with ``digits``-digit floats, each shared subexpression once.

    The exact values are large trees that share subtrees (every gradient contains the forward
    pass); ``evalf`` walks each tree in full and can take seconds per entry, where this takes
    milliseconds. Thirty digits leave ample room above the float64 comparisons made here.
    """
    if expr in memo:
        return memo[expr]
    if not expr.args:
        value = Float(expr, digits)
    else:
        value = expr.func(*[approximate(arg, memo, digits) for arg in expr.args])
        if not isinstance(value, Float):
            value = value.evalf(digits)
    memo[expr] = value
    return value


def floats(matrix: ImmutableMatrix, memo: dict[Expr, Float] | None = None) -> Array:
    """An exact matrix as float64 (through :func:`approximate`)."""
    memo = {} if memo is None else memo
    return np.array(
        [
            [float(approximate(matrix[i, j], memo)) for j in range(matrix.cols)]
            for i in range(matrix.rows)
        ]
    )


@dataclass(frozen=True)
class ReferenceProblem:
    """The spec in the reference backprop's terms."""

    weights: list[Array]
    biases: list[Array] | None
    x: Array
    y: Array
    options: dict[str, Any]

    @classmethod
    def of(cls, spec: NetworkSpec) -> ReferenceProblem:
        activations = [
            a.name if not a.options else (a.name, {k: float(v) for k, v in a.options})
            for a in spec.activations
        ]
        loss_options = dict(spec.loss.options)
        return cls(
            [floats(w) for w in spec.weights],
            None if spec.biases is None else [floats(b) for b in spec.biases],
            floats(spec.x),
            floats(spec.y),
            {
                "activations": activations,
                "loss": spec.loss.name,
                "half": bool(loss_options.get("half", True)),
                "reduction": spec.loss.reduction,
                "l2": float(spec.l2),
            },
        )

    def backprop(self) -> tuple[list[Array], list[Array] | None]:
        return reference.backprop(self.weights, self.biases, self.x, self.y, **self.options)

    def loss(self, weights: list[Array], biases: list[Array] | None) -> float:
        return reference.loss(weights, biases, self.x, self.y, **self.options)

    def finite_differences(self) -> tuple[list[Array], list[Array] | None]:
        return central_differences(self.loss, self.weights, self.biases)

    def kinks(self) -> tuple[list[Array], list[Array] | None]:
        def kink_inputs(weights: list[Array], biases: list[Array] | None) -> list[Array]:
            return reference.kink_pre_activations(
                weights, biases, self.x, self.options["activations"]
            )

        return kink_mask(kink_inputs, self.weights, self.biases)


def by_key(spec: NetworkSpec, grads: tuple[list[Array], list[Array] | None]) -> dict[str, Array]:
    """``{"W1": ..., "b1": ..., ...}`` from the reference's ``(grads_W, grads_b)`` lists."""
    grads_w, grads_b = grads
    result = {}
    for l in range(spec.depth):
        result[f"W{l + 1}"] = grads_w[l]
        if grads_b is not None:
            result[f"b{l + 1}"] = grads_b[l]
    return result


def assert_three_oracles_agree(
    spec: NetworkSpec,
    *,
    rtol: float = 1e-9,
    atol: float = 1e-12,
    fd_rtol: float = 1e-5,
    fd_atol: float = 1e-6,
) -> Derivation:
    """Exact symbolic gradients = reference backprop = finite differences (off the kinks).

    Returns:
        The derivation, for further checks.
    """
    derivation = derive(spec)
    memo: dict[Expr, Float] = {}
    exact = {key: floats(m, memo) for key, m in derivation.values.gradients.items()}
    problem = ReferenceProblem.of(spec)
    ours = by_key(spec, problem.backprop())
    numeric = by_key(spec, problem.finite_differences())
    straddles = by_key(spec, problem.kinks())
    assert set(exact) == set(ours) == set(numeric)
    for key in exact:
        assert np.all(np.isfinite(ours[key])), f"reference {key} is not finite: {ours[key]}"
        np.testing.assert_allclose(ours[key], exact[key], rtol=rtol, atol=atol, err_msg=key)
        usable = ~straddles[key]
        np.testing.assert_allclose(
            numeric[key][usable],
            exact[key][usable],
            rtol=fd_rtol,
            atol=fd_atol,
            err_msg=f"finite differences {key}",
        )
    return derivation
