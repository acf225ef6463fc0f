"""The ``[expected]`` gradients of a stack against its exact values at the documented point.

The entries are judged as :mod:`.documented` judges an MLP's table (the same tolerance rule,
digits matched, what each should read); the diagnoses that re-run the MLP's chain rule (a
rounded ŷ, the update order) are not tried for stacks; the mistake catalogue is
(:mod:`symbackprop.mistakes.stack`).
"""

from __future__ import annotations

import tomllib
from decimal import Decimal
from fractions import Fraction
from typing import Any

import mpmath
import numpy as np
from sympy import Float, Rational

from .. import notation
from ..stack_spec import StackSpec
from .documented import Documented, _entry
from .precision import PRECISION, mp


def stack_documented(spec: StackSpec, exact: dict[str, np.ndarray]) -> Documented | None:
    """``spec.expected`` against ``exact`` (arrays of mpf by ``dW1``, ...); None without it."""
    expected = spec.expected
    if expected is None:
        return None
    written = _written(spec.text)
    entries = []
    excess = []
    for key, array in expected.values:
        literals = written.get(key)
        for index in np.ndindex(array.shape):
            value = array[index]
            literal = _literal(literals, index, value)
            number = Float(exact[key][index], PRECISION)
            name = notation.entry_name(key, index)
            entries.append(
                _entry(
                    name, value, literal, number, expected.atol, expected.rtol, expected.printed
                )
            )
            with mpmath.workdps(PRECISION):
                excess.append(abs(mp(value) - mp(number)) - mp(expected.rtol) * abs(mp(value)))
    needed = max([mpmath.mpf(0), *excess])
    return Documented(
        expected.atol, expected.rtol, tuple(entries), needed, None, printed=expected.printed
    )


def documented_literals(spec: StackSpec) -> dict[str, Any]:
    """The ``[expected]`` gradients as written (nested lists of Decimal, by ``dW1``)."""
    return _written(spec.text)


def _written(text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text, parse_float=Decimal).get("expected", {})
    except tomllib.TOMLDecodeError:
        return {}


def _literal(nested: Any, index: tuple[int, ...], value: Rational) -> Decimal:
    """The number as written at ``index`` of ``nested``, or the shortest decimal of ``value``."""
    try:
        for i in index:
            nested = nested[i]
        literal = Decimal(nested)
        if Fraction(literal) == Fraction(int(value.p), int(value.q)):
            return literal
    except (TypeError, IndexError, KeyError, ValueError, ArithmeticError):
        pass
    return Decimal(int(value.p)) / Decimal(int(value.q))
