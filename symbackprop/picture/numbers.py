"""The numbers on a picture: exact values rounded to short decimals, as label lines.

>>> from sympy import Rational
>>> number(None, Rational(3, 10), name="x|x").plain
'x = 0.3'
"""

from __future__ import annotations

from typing import Any

from sympy import Expr, Rational

from ..exact import decimal
from .diagram import Text

#: Significant digits of the numbers on a picture.
DIGITS = 4


def short(derivation: Any, value: Expr) -> str:
    """``value`` to :data:`DIGITS` significant digits, trailing zeros dropped when exact."""
    text = (
        derivation.decimal(value, DIGITS)
        if hasattr(derivation, "network")
        else decimal(value, DIGITS)
    )
    if "." in text and "e" not in text and value.is_Rational and Rational(text) == value:
        text = text.rstrip("0").rstrip(".")
    return text


def number(derivation: Any, value: Expr, role: str = "value", name: str = "") -> Text:
    """A label line ``name = value`` (``name`` as (plain, tex) parts joined by ``|``)."""
    text = short(derivation, value)
    plain = text.replace("-", "−")
    if not name:
        return Text(plain, f"${text}$", role)
    plain_name, tex_name = name.split("|")
    return Text(f"{plain_name} = {plain}", f"${tex_name} = {text}$", role)
