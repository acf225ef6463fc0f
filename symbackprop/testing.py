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
from .isolation import TIMEOUT, Isolated, importable
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
            ``relu_prime_at_zero``, ``rtol``, ``atol``, ``timeout``).

    A module-level function is imported again and called in a child process with a time limit
    (:mod:`symbackprop.isolation`), so that an ``os._exit``, a crash or an endless loop fails
    the assertion instead of ending or hanging the test run; a lambda or a closure runs in this
    process.

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
    found = importable(backprop)
    target = backprop if found is None else f"{found[0]}:{found[1]}"
    try:
        report = check(spec, backprop=target, **kwargs)
    except UserBackpropError as exc:
        raise AssertionError(f"your backprop failed: {exc}\n{exc.traceback}".rstrip()) from None
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
            ``random_points``, ``seed``, ``rtol``, ``atol``), and ``timeout``: module-level
            functions of one module run in a child process, as in
            :func:`assert_backprop_matches`.

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

    timeout = options.pop("timeout", TIMEOUT)
    try:
        report = _isolated_layer(kind, forward, backward, timeout, options)
        if report is None:
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


def _isolated_layer(
    kind: str,
    forward: Callable[..., Any],
    backward: Callable[..., Any] | None,
    timeout: float,
    options: dict[str, Any],
) -> LayerReport | None:
    """:func:`check_layer` in a child process, if both functions are importable from one
    module; None otherwise."""
    from .layercheck.check import RANDOM_POINTS, Functions, check_functions
    from .layercheck.kinds import lookup

    found = [importable(f) for f in (forward, backward) if f is not None]
    modules = {f[0] for f in found if f is not None}
    if None in found or len(modules) != 1 or (backward is None) != lookup(kind).loss:
        return None  # in-process (check_layer also raises the TypeErrors of bad arguments)
    if not set(options) <= {"shape", "random_points", "seed", "rtol", "atol"}:
        return None
    names = [f[1] for f in found if f is not None]
    backward_name = names[1] if backward is not None else None
    functions = Functions(
        None, None, names[0], backward_name, "", Isolated(modules.pop(), timeout)
    )
    return check_functions(
        kind,
        functions,
        options.get("shape"),
        options.get("random_points", RANDOM_POINTS),
        options.get("seed", 0),
        **{k: options[k] for k in ("rtol", "atol") if options.get(k) is not None},
    )
