"""SymPy rewrites computed once per pattern of symbols, not once per expression.

The entries of a wide layer differ only in the names of their few symbols: the terms
J_ki dJ/dyhat_k of a softmax with its loss, the softmax Jacobian's d yhat_k / d z_i. A rewrite
that commutes with renaming (``cancel``, ``factor``) is computed on the expression with its
symbols renamed in order, once per such pattern, and the result is named back:

>>> from sympy import Symbol, cancel
>>> a, b, c = Symbol("a"), Symbol("b"), Symbol("c")
>>> cancelled = per_pattern(cancel)
>>> cancelled((a**2 - a) / a), cancelled((b**2 - b) / b), cancelled((c**2 - c) / c)
(a - 1, b - 1, c - 1)
>>> cancelled.cached.cache_info().misses
1
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from sympy import Expr, Symbol


class PerPattern:
    """``operation`` on ``expr``, computed once per pattern (``expr`` up to renaming); ``cached``
    is the lru-cached operation on the patterns."""

    def __init__(self, operation: Callable[[Expr], Expr], maxsize: int) -> None:
        self.cached = lru_cache(maxsize=maxsize)(operation)

    def __call__(self, expr: Expr) -> Expr:
        symbols = sorted(expr.free_symbols, key=str)
        generic = [Symbol(f"_p{j:04d}") for j in range(len(symbols))]
        pattern = self.cached(expr.xreplace(dict(zip(symbols, generic, strict=True))))
        return pattern.xreplace(dict(zip(generic, symbols, strict=True)))


def per_pattern(operation: Callable[[Expr], Expr], maxsize: int = 4096) -> PerPattern:
    """``operation`` computed once per pattern of symbols; it must commute with renaming."""
    return PerPattern(operation, maxsize)
