"""The named functions on one number, for lambdified code: ReLU, ReLU', pooling maxima.

Lambdified programs (float64 or mpmath) call these instead of SymPy's Max and Piecewise forms,
which SymPy builds slowly for wide windows and layers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sympy import Expr, Function, Rational

from .numeric import float64_constants


def _first_max(k: Any, *values: Any) -> int:
    """1 if ``values[k]`` is the first maximum (row-major), else 0."""
    best = max(range(len(values)), key=lambda i: (values[i], -i))
    return int(best == int(k))


def scalar_functions(convention: Any) -> dict[str, Callable[..., Any]]:
    """The kinked and pooling functions on one number (a float or an mpf), ReLU'(0) given.

    Lambdified code calls these instead of Max and Piecewise forms, which SymPy builds slowly
    for wide windows and layers.
    """
    c = convention
    return {
        "ReLU": lambda z: z if z > 0 else 0 * z,
        "ReLUPrime": lambda z: 1 if z > 0 else (0 if z < 0 else c),
        "LeakyReLU": lambda z, s: z if z > 0 else s * z,
        "LeakyReLUPrime": lambda z, s: 1 if z > 0 else (s if z < 0 else s + c * (1 - s)),
        "PoolMax": lambda *values: max(values),
        "FirstMax": _first_max,
    }


def scalar_ready(expr: Expr, convention: Rational, numpy: bool) -> Expr:
    """Named functions without a scalar implementation by their elementary definitions."""
    scalar = scalar_functions(convention)

    def named(e: Any) -> bool:
        return (
            isinstance(e, Function)
            and hasattr(e, "elementary")
            and type(e).__name__ not in scalar
            and not (numpy and getattr(e, "native_numpy", False))
        )

    expr = expr.replace(named, lambda e: e.elementary(convention))
    return float64_constants(expr) if numpy else expr
