"""The working precision of the check, and how its reports write exact numbers.

Exact values are rationals, kept exact, or Floats of :data:`PRECISION` significant digits
(:data:`Number`); a difference or tolerance is a float where float64 holds it, else an mpmath
number (:data:`Real`). Nothing here goes through a huge integer or a float that would overflow.
"""

from __future__ import annotations

import math
from decimal import MAX_EMAX, MIN_EMIN, ROUND_CEILING, ROUND_HALF_EVEN, Context, Decimal
from fractions import Fraction
from typing import TypeAlias

import mpmath
from mpmath.libmp import finf, fnan, fninf
from sympy import Float, Rational

#: Significant digits of the exact values shown in reports.
DIGITS = 12
#: Working precision (decimal digits) of exact comparisons.
PRECISION = 60
#: Extra digits exact values are first computed with, and the most digits they are carried to.
GUARD, MAX_PRECISION = 20, 5120

#: A difference or tolerance: a float, or an mpmath number where float64 would overflow.
Real: TypeAlias = float | mpmath.mpf
#: An exact value: a rational, or a Float of :data:`PRECISION` digits.
Number: TypeAlias = Rational | Float


def mp(value: Number) -> mpmath.mpf:
    """A settled number as an mpmath number (call inside ``mpmath.workdps(PRECISION)``)."""
    if isinstance(value, Rational):
        return mpmath.mpf(int(value.p)) / int(value.q)
    return mpmath.mpf(value._mpf_)


def real(value: Real | Rational) -> Real:
    """A float where float64 holds ``value`` (to a relative 1e-16), else a PRECISION-digit mpf."""
    number = float(value)
    if _float_holds(value, number):
        return number
    with mpmath.workdps(PRECISION):
        return mp(value) if isinstance(value, Rational) else +value


def _float_holds(value: Real | Rational, number: float) -> bool:
    """Whether ``number = float(value)`` stands for ``value``: not an overflow or underflow."""
    return (math.isfinite(number) and (number != 0 or value == 0)) or math.isnan(number)


def _decimal(value: Number | mpmath.mpf, digits: int) -> Decimal | None:
    """``value`` to ``digits`` significant digits, never through a huge integer or a float.

    None for inf and NaN, and beyond Decimal's exponent range (|exponent| > 10^17).
    """
    context = Context(prec=digits, rounding=ROUND_HALF_EVEN, Emax=MAX_EMAX, Emin=MIN_EMIN)
    number: Decimal | None = None
    if isinstance(value, Rational):
        number = context.divide(Decimal(int(value.p)), Decimal(int(value.q)))
    else:
        number = _binary_decimal(value._mpf_, digits)
    if number is None or number == 0:
        return number
    return context.quantize(number, Decimal(1).scaleb(number.adjusted() - digits + 1))


def _binary_decimal(raw: tuple, digits: int) -> Decimal | None:
    """An mpmath raw number to ``digits`` significant digits (None: inf, NaN, out of range)."""
    context = Context(prec=digits, rounding=ROUND_HALF_EVEN, Emax=MAX_EMAX, Emin=MIN_EMIN)
    if raw in (finf, fninf, fnan):
        return None
    sign, mantissa, exponent, _ = raw
    if abs(exponent) > 10**17:
        return None
    wide = Context(prec=digits + 20, Emax=MAX_EMAX, Emin=MIN_EMIN)
    number = wide.multiply(Decimal(int(mantissa)), wide.power(Decimal(2), int(exponent)))
    return context.plus(-number if sign else number)


def plain(number: Decimal) -> str:
    """Fixed notation for moderate magnitudes (as mpmath.nstr does), scientific otherwise."""
    if number == 0 or -5 < number.adjusted() < 15:
        return f"{number:f}"
    return f"{number:e}".replace("e+", "e")


def number_text(value: Number | mpmath.mpf) -> str:
    """``value`` to :data:`DIGITS` significant digits, like ``derive``'s decimals."""
    if value == 0:
        return "0"
    number = _decimal(value, DIGITS)
    if number is not None:
        return plain(number)
    with mpmath.workdps(PRECISION):  # beyond 10^(10^17): show its logarithm
        magnitude = mp(value) if isinstance(value, Rational | Float) else value
        if not mpmath.isfinite(magnitude):
            return mpmath.nstr(magnitude)
        sign = "-" if magnitude < 0 else ""
        return f"{sign}exp({number_text(mpmath.log(abs(magnitude)))})"


def sci(value: Real, sign: str = "+") -> str:
    """``value`` as ``format(value, "+.2e")`` would give it, also beyond float64's range."""
    number = float(value)
    if _float_holds(value, number):
        return f"{number:{sign}.2e}"
    decimal = _decimal(value, 3)
    if decimal is None:
        return f"{number:{sign}.2e}" if math.isinf(number) else number_text(value)
    return f"{decimal:{sign}.2e}"


def round_up(value: mpmath.mpf) -> str:
    """``value`` rounded up to 2 significant digits: 1.839e-4 -> '1.9e-4'."""
    number = _decimal(value, 20) if value > 0 else None
    if number is None:
        return "0" if value <= 0 else number_text(value)
    exponent = number.adjusted() - 1
    scaled = (number.scaleb(-exponent) - Decimal("1e-9")).to_integral_value(ROUND_CEILING)
    return rational_text(scaled.scaleb(exponent))


def rational_text(value: Rational | Decimal) -> str:
    """A tolerance as a person writes it: 1e-4, 2.5e-6, 0.01 (exactly, at any magnitude)."""
    if not isinstance(value, Decimal):
        value = _decimal(Rational(value), 20) or Decimal(0)
    if value != 0 and not Decimal("1e-3") <= abs(value) < Decimal("1e6"):
        rounded = _decimal(Rational(Fraction(value)), 3) or value
        return f"{_g(rounded.scaleb(-rounded.adjusted()))}e{rounded.adjusted()}"
    return _g(_decimal(Rational(Fraction(value)), 6) if value else value)


def _g(value: Decimal | None) -> str:
    """A Decimal without trailing zeros, in fixed notation: 2.50 -> '2.5', 1.0E+5 -> '100000'."""
    return f"{(value or Decimal(0)).normalize():f}"
