"""A string printer that remembers what it printed.

A network's compact and expanded forms repeat the same subexpressions (hidden sums, softmax
denominators) across entries, so printing each distinct subexpression once saves most of the
printing time. The printed text does not change.
"""

from __future__ import annotations

from typing import ClassVar

from sympy import Basic
from sympy.printing.str import StrPrinter


class RememberingStrPrinter(StrPrinter):
    """SymPy's ``str()`` printer with a memory of printed subexpressions, cleared past
    :attr:`MEMO_LIMIT` entries. Keep one instance per settings to share the memory."""

    MEMO_LIMIT: ClassVar[int] = 200000

    def __init__(self, settings: dict[str, object] | None = None) -> None:
        super().__init__(settings)
        self._memo: dict[Basic, str] = {}

    def _print(self, expr: object, **kwargs: object) -> str:
        if kwargs or not isinstance(expr, Basic):
            return str(super()._print(expr, **kwargs))
        text = self._memo.get(expr)
        if text is None:
            if len(self._memo) > self.MEMO_LIMIT:
                self._memo.clear()
            text = self._memo[expr] = str(super()._print(expr))
        return text
