"""Assertions for your own test suite: check a hand-written backprop against the exact gradients.

>>> from symbackprop.reference import notebook_backprop
>>> report = assert_backprop_matches(notebook_backprop, "seed", random_points=2)
>>> report.ok
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .check import DOCUMENTED_POINT, USER, CheckReport, check
from .derivation import Derivation
from .errors import UserBackpropError
from .spec import NetworkSpec
from .stack_spec import StackSpec
from .userbackprop import Backprop

if TYPE_CHECKING:
    from .layercheck import LayerReport


def assert_backprop_matches(
    backprop: Backprop,
    spec: NetworkSpec | StackSpec | Derivation | Mapping[str, Any] | str | Path = "seed",
    **kwargs: Any,
) -> CheckReport:
    """Assert that ``backprop`` gives the exact gradients of ``spec`` at the documented point and
    at random points.

    Only your backprop is judged: a wrong ``[expected]`` table in the spec does not fail this
    assertion.

    Args:
        backprop: ``backprop(params, x, y) -> grads`` with dicts keyed like the spec (any
            network), or the notebook's ``backprop(weights, biases, x, y) -> (grads_W,
            grads_b)`` (MLPs); see :mod:`symbackprop.userbackprop`.
        spec: a spec, a derivation, a TOML path, a built-in example name or a dict of the
            TOML tables.
        **kwargs: passed to :func:`symbackprop.check.check` (``random_points``, ``seed``,
            ``relu_prime_at_zero``, ``rtol``, ``atol``).

    Returns:
        The check report, when every entry of your backprop matches.

    Raises:
        AssertionError: some entry is out of tolerance (the message is the per-entry table), or
            your backprop raised, returned the wrong shapes or list lengths, NaN or inf.

    Example:
        >>> def forgot_relu_prime(weights, biases, x, y): ...
        >>> assert_backprop_matches(forgot_relu_prime)  # doctest: +SKIP
        AssertionError: your backprop does not match the exact gradients of seed ...
    """
    __tracebackhide__ = True  # pytest shows the per-entry table, not this function
    try:
        report = check(spec, backprop=backprop, **kwargs)
    except UserBackpropError as exc:
        raise AssertionError(f"your backprop failed: {exc}") from None
    mine = [c for c in report.comparisons if c.name == USER]
    if all(c.ok for c in mine):
        return report
    failing = [c.point for c in mine if not c.ok]
    hint = ""
    if DOCUMENTED_POINT not in failing:
        hint = (
            f"It matches at the documented point but not at {len(failing)} of {len(mine) - 1} "
            "random points: one point can hide a bug (e.g. when every ReLU is active there).\n"
        )
    likely = report.likely_text("backprop")
    raise AssertionError(
        f"your backprop does not match the exact gradients of {report.title}\n{hint}"
        + report.failure_table([USER])
        + (f"\n{likely}" if likely else "")
    )


def assert_layer_matches(
    kind: str,
    forward: Callable[..., Any],
    backward: Callable[..., Any] | None = None,
    **options: Any,
) -> LayerReport:
    """Assert that a CS231n-style layer pair gives the exact forward and gradients.

    Args:
        kind: ``affine``, ``relu``, ``conv``, ``max_pool``, ``softmax_loss``, ``svm_loss``, ...
        forward: ``out, cache = forward(...)``, or ``loss, dx = forward(x, y)`` for a loss.
        backward: ``dx, ... = backward(dout, cache)``; None for a loss.
        **options: passed to :func:`symbackprop.layercheck.check_layer` (``shape``,
            ``random_points``, ``seed``, ``rtol``, ``atol``).

    Returns:
        The report, when every entry matches.

    Raises:
        AssertionError: an entry is out of tolerance (the message is the per-entry table and
            the likely mistake), or a function raised or returned the wrong thing.

    Example:
        >>> assert_layer_matches("relu", relu_forward, relu_backward)  # doctest: +SKIP
    """
    __tracebackhide__ = True
    from .layercheck import check_layer
    from .layercheck.user import LayerFunctionError

    try:
        report = check_layer(kind, forward, backward, **options)
    except LayerFunctionError as exc:
        raise AssertionError(f"{exc}\n{exc.traceback}".rstrip()) from None
    if report.ok:
        return report
    likely = report.likely_text()
    raise AssertionError(
        f"{report.title} does not match the exact values\n"
        + report.failure_table()
        + (f"\n{likely}" if likely else "")
    )
