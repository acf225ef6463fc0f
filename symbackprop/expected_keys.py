"""The keys and tolerances of an ``[expected]`` table, shared by MLP specs and stacks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from sympy import Integer, Rational

from . import notation

#: The tolerance keys of ``[expected]``.
TOLERANCE_KEYS = ("atol", "rtol", "tolerance")


class _Validator(Protocol):
    def fail(self, key: str, message: str) -> Exception: ...
    def number(self, key: str, value: Any) -> Rational: ...
    def describe(self, value: Any) -> str: ...


def tolerances(v: _Validator, table: Mapping[str, Any]) -> tuple[dict[str, Rational], bool]:
    """``atol``/``rtol`` as given (>= 0), and whether ``tolerance = "printed"`` is set (then
    atol and rtol default to 0)."""
    given = {k: v.number(f"[expected] {k}", table[k]) for k in ("atol", "rtol") if k in table}
    for k, value in given.items():
        if value < 0:
            raise v.fail(f"[expected] {k}", f"expected a number >= 0, got {v.describe(table[k])}")
    if "tolerance" not in table:
        return given, False
    if table["tolerance"] != "printed":
        raise v.fail(
            "[expected] tolerance", f'expected "printed", got {v.describe(table["tolerance"])}'
        )
    return {"atol": Integer(0), "rtol": Integer(0)} | given, True


def entry_of(key: str, shapes: Mapping[str, tuple[int, int]]) -> bool:
    """Whether ``key`` names one entry of a documented matrix: ``dW2[0,1]``, ``db1[0]``."""
    base, index = notation.split_entry(key)
    if index is None or base not in shapes:
        return False
    rows, cols = shapes[base]
    full = (index[0], 0) if len(index) == 1 and cols == 1 else index
    return len(full) == 2 and full[0] < rows and full[1] < cols


def updated_shapes(shapes: Mapping[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
    """``W1_updated``, ``b1_updated``, ... and ``loss_updated``: the values after the step."""
    keys = [k for k in shapes if k.startswith(("dW", "db"))]
    return {f"{k[1:]}_updated": shapes[k] for k in keys} | {"loss_updated": (1, 1)}
