"""A printer mixin that prints each distinct subexpression once.

The gradients of a network share most of their subexpressions (every dJ/dW^(1)_ij of one row
holds the same back-propagated sum), so printing each entry afresh repeats the same work
thousands of times. :class:`Memoised` keeps the printed form of every compound subexpression
it has seen; the output is unchanged, since a subexpression prints the same wherever it is.
"""

from __future__ import annotations

from typing import Any

#: The memo is emptied when it holds this many forms (a long-lived process prints many
#: derivations).
MEMO_SIZE = 200_000


class Memoised:
    """Mix into a SymPy printer (before it) to memoise ``_print`` of compound expressions."""

    def _print(self, expr: Any, **kwargs: Any) -> str:
        if kwargs or not getattr(expr, "args", None):
            return super()._print(expr, **kwargs)  # type: ignore[misc]
        memo: dict[Any, str] = self.__dict__.setdefault("_memo", {})
        printed = memo.get(expr)
        if printed is None:
            printed = super()._print(expr)  # type: ignore[misc]
            if len(memo) >= MEMO_SIZE:
                memo.clear()
            memo[expr] = printed
        return printed
