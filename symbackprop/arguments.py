"""argparse types shared by the command line's parsers: errors say what was expected.

Every numeric type has an upper bound (the limits in :mod:`symbackprop.defaults`).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from .defaults import MAX_TOLERANCE

_INT_TEXT = 40  # longer integer literals are refused before int() reads them


def integer(minimum: int, maximum: int, expected: str) -> Callable[[str], int]:
    """An argparse type: an integer from ``minimum`` to ``maximum``, described as ``expected``."""

    def parse(text: str) -> int:
        try:
            if len(text) > _INT_TEXT:
                raise ValueError
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {_cut(text)}") from None
        if not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {value}")
        return value

    return parse


def positive(maximum: int) -> Callable[[str], int]:
    """An integer from 1 to ``maximum``."""
    return integer(1, maximum, f"an integer from 1 to {maximum}")


def non_negative(maximum: int) -> Callable[[str], int]:
    """An integer from 0 to ``maximum``."""
    return integer(0, maximum, f"an integer from 0 to {maximum}")


def tolerance(text: str) -> float:
    """An argparse type: a finite number from 0 to ``MAX_TOLERANCE``."""
    try:
        value = float(text) if len(text) <= _INT_TEXT else math.nan
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 <= value <= MAX_TOLERANCE):
        raise argparse.ArgumentTypeError(
            f"expected a number from 0 to {MAX_TOLERANCE:g}, got {_cut(text)}"
        )
    return value


def _cut(text: str) -> str:
    """``text`` quoted with escapes and cut, for an error message."""
    from .quoting import quoted

    return quoted(text)
