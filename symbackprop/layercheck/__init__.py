"""``check-layer``: check one CS231n-style layer's forward and backward against exact values.

>>> import numpy as np
>>> def relu_forward(x):
...     return np.maximum(0, x), x
>>> def relu_backward(dout, x):
...     return dout * (x > 0)
>>> check_layer("relu", relu_forward, relu_backward).ok
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .check import Functions
    from .kinds import KINDS, Kind
    from .mistakes import LAYER_MISTAKES
    from .report import LayerReport

#: Each public name and the module that defines it, imported on first use (PEP 562), so that the
#: child process of :mod:`symbackprop.child` imports :mod:`.user` without SymPy.
_LAZY = {
    "Functions": "check",
    "KINDS": "kinds",
    "Kind": "kinds",
    "LAYER_MISTAKES": "mistakes",
    "LayerReport": "report",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if name in ("KINDS", "LAYER_MISTAKES"):
        import_module(".kinds", __name__).load_all()
    return getattr(import_module(f".{_LAZY[name]}", __name__), name)


def check_layer(
    kind: str,
    forward: Callable[..., Any],
    backward: Callable[..., Any] | None = None,
    *,
    shape: str | Mapping[str, object] | None = None,
    random_points: int | None = None,
    seed: int = 0,
    rtol: float | None = None,
    atol: float | None = None,
) -> LayerReport:
    """Check a forward/backward pair (or a loss function) of the kind ``kind``.

    Args:
        kind: ``affine``, ``relu``, ``conv``, ``max_pool``, ``softmax_loss``, ``svm_loss``,
            ``batchnorm``, ``layernorm``, ``dropout``, ``rnn_step``, ``lstm_step``, ... (the
            keys of ``KINDS``)
        forward: ``out, cache = forward(x, ...)``, or ``loss, dx = forward(x, y)`` for a loss;
            a kind with several outputs returns them all before the cache
            (``next_h, next_c, cache`` for ``lstm_step``).
        backward: ``dx, ... = backward(dout, cache)``, one upstream gradient per output
            (``backward(dnext_h, dnext_c, cache)``); None for a loss.
        shape: sizes over the kind's defaults, ``"N=4,D=2x3"`` or ``{"N": 4}``.
        random_points: random points after the edge point (default: ``check.RANDOM_POINTS``).
        seed: their seed.
        rtol, atol: pass when ``|value - exact| <= atol + rtol |exact|``.

    Returns:
        The report (``report.ok``, ``report.text()``, ``report.json()``).

    Raises:
        SymbackpropError: an unknown kind or size; LayerFunctionError: a function raised or
            returned the wrong thing.
    """
    from .check import RANDOM_POINTS, Functions, check_functions
    from .kinds import lookup

    entry = lookup(kind)
    if (backward is None) != entry.loss:
        need = "no backward (a loss returns (loss, dx))" if entry.loss else "a backward function"
        raise TypeError(f"check_layer({kind!r}, ...): expected {need}")
    functions = Functions(
        forward,
        backward,
        getattr(forward, "__name__", entry.forward),
        None if backward is None else getattr(backward, "__name__", entry.backward),
        "",
    )
    tolerances = {k: v for k, v in (("rtol", rtol), ("atol", atol)) if v is not None}
    count = RANDOM_POINTS if random_points is None else random_points
    return check_functions(kind, functions, shape, count, seed, **tolerances)


__all__ = ["KINDS", "LAYER_MISTAKES", "Functions", "Kind", "LayerReport", "check_layer"]
