"""TOML text -> plain data, safely: numbers kept exact and unconverted, nesting bounded.

A float literal becomes a :class:`Float` (its exact :class:`~decimal.Decimal`), or an
:class:`Unusable` (nan, inf, out of range) that the validator reports with its key. Neither is a
SymPy number yet: the validator converts each one only after checking the shape around it, so a
large spec of the wrong shape fails at once. The text is at most
:data:`~symbackprop.defaults.MAX_SPEC_BYTES` long and nests at most
:data:`~symbackprop.defaults.MAX_NESTING` levels; deeper TOML, which would exhaust the recursion
of ``tomllib`` or of the validator, is a one-line :class:`SpecError`.
"""

from __future__ import annotations

import tomllib
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sympy import Rational

from .defaults import MAX_NESTING, MAX_SPEC_BYTES
from .errors import SpecError

#: The most significant digits a decimal literal may have.
MAX_DIGITS = 1000
IN_RANGE = "a number within float64's range (0, or 2.2e-308 <= |x| <= 1.8e308)"


def read_toml(text: str, source: str) -> dict[str, Any]:
    """The tables of the TOML ``text``; ``source`` names it in errors.

    Raises:
        SpecError: too large, not TOML, an integer beyond 4300 digits, or nested too deeply.
    """
    if len(text) > MAX_SPEC_BYTES:
        raise SpecError(source, "", f"spec is larger than the limit of {MAX_SPEC_BYTES} bytes")
    try:
        data = tomllib.loads(text, parse_float=_exact_float)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(source, "", f"not valid TOML: {exc}") from None
    except ValueError as exc:  # an integer literal beyond Python's 4300-digit limit
        raise SpecError(source, "", f"cannot read a number: {str(exc).split(';')[0]}") from None
    except RecursionError:
        raise SpecError(source, "", _too_deep()) from None
    if _nesting(data) > MAX_NESTING:
        raise SpecError(source, "", _too_deep())
    return data


class Unusable:
    """A TOML float the validator rejects (nan, inf, out of range), kept to name its key."""

    def __init__(self, text: str, expected: str) -> None:
        self.text, self.expected = text, expected


class Float:
    """A TOML float literal, read as a Decimal; it becomes a Rational only once its shape is
    checked (by the validator), so a spec of the wrong shape fails fast."""

    __slots__ = ("decimal",)

    def __init__(self, decimal: Decimal) -> None:
        self.decimal = decimal

    def rational(self) -> Rational:
        fraction = Fraction(self.decimal)
        return Rational(fraction.numerator, fraction.denominator)


def _exact_float(text: str) -> Float | Unusable:
    clean = text.replace("_", "")
    if clean.lstrip("+-") in ("nan", "inf"):
        return Unusable(text, "a finite number")
    number = Decimal(clean)  # cheap even for 1e1000000000, unlike the exact fraction
    if len(number.as_tuple().digits) > MAX_DIGITS:
        return Unusable(text, f"a number of at most {MAX_DIGITS} significant digits")
    if number and not -320 <= number.adjusted() <= 320:
        return Unusable(text, IN_RANGE)
    return Float(number)


def _too_deep() -> str:
    return f"arrays and tables nested too deeply; the limit is {MAX_NESTING} levels"


def _nesting(data: Any) -> int:
    """The deepest nesting of lists and tables in ``data``, found without recursion."""
    deepest, stack = 0, [(data, 0)]
    while stack:
        value, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_NESTING:
            break
        if isinstance(value, dict):
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
    return deepest
