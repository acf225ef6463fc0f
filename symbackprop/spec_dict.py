"""A spec from a Python dict: the TOML tables as nested dicts, validated like a file.

The dict is written out as TOML text and read back by :func:`~symbackprop.spec.parse_spec`, so
a dict spec and a file spec follow the same rules and give the same error messages. Numbers
are exact: an ``int``, a ``Fraction``, a ``Decimal`` or a SymPy ``Rational`` is its own value
and a Python ``float`` is read through its shortest ``repr`` (``0.1`` is 1/10, as in TOML).
NumPy arrays and scalars are read through ``tolist()``/``item()``.

>>> spec = spec_from_dict({
...     "network": {"layers": [1, 1], "activations": ["Sigmoid"], "loss": "mse"},
...     "parameters": {"W1": [[0.5]], "b1": [0]},
...     "data": {"x": [1], "y": [1]},
... })
>>> spec.weights[0][0, 0], spec.activations[0].name, spec.loss.name
(1/2, 'sigmoid', 'squared_error')
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sympy import Rational

from .errors import SpecError
from .spec import AnySpec, _decimal_text, parse_spec

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def spec_from_dict(data: Mapping[str, Any], source: str = "<dict>") -> AnySpec:
    """Validate ``data``, the tables of a TOML spec as nested dicts, into a spec.

    Args:
        data: ``{"network": {...}, "parameters": {...}, "data": {...}}`` and optionally
            ``"expected"`` and ``"training"``, or ``"layers"`` as a list of dicts for a stack;
            the keys of the TOML format (see the spec-format page).
        source: the name error messages give the spec.

    Returns:
        The validated :class:`~symbackprop.spec.NetworkSpec` (or ``StackSpec``).

    Raises:
        SpecError: ``data`` is not a valid spec, or holds a value TOML cannot write (a
            fraction without a terminating decimal, a key that is not a string).
    """
    return parse_spec(toml_text(data, source), source)


def toml_text(data: Mapping[str, Any], source: str = "<dict>") -> str:
    """``data``, the tables of a spec as nested dicts, as TOML text (one inline table a line).

    Raises:
        SpecError: as :func:`spec_from_dict`.
    """
    if not isinstance(data, Mapping):
        raise SpecError(source, "", f"expected a dict of tables, got {type(data).__name__}")
    lines = [f"{_key(source, k)} = {_value(source, k, v)}" for k, v in data.items()]
    return "\n".join(lines) + "\n"


def _key(source: str, key: Any) -> str:
    if not isinstance(key, str):
        raise SpecError(source, repr(key), f"expected a string key, got {type(key).__name__}")
    return key if _BARE_KEY.match(key) else json.dumps(key)


def _value(source: str, where: str, value: Any) -> str:
    """``value`` as a TOML inline value; ``where`` names it in errors."""
    value = _plain(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, Fraction | Decimal | Rational):
        return _exact(source, where, value)
    if isinstance(value, list | tuple):
        items = (_value(source, f"{where}[{i}]", v) for i, v in enumerate(value))
        return "[" + ", ".join(items) + "]"
    if isinstance(value, Mapping):
        pairs = (
            f"{_key(source, k)} = {_value(source, f'{where}.{k}', v)}" for k, v in value.items()
        )
        return "{" + ", ".join(pairs) + "}"
    raise SpecError(
        source, where, f"expected a number, string, list or dict, got {type(value).__name__}"
    )


def _plain(value: Any) -> Any:
    """NumPy arrays and scalars as Python lists and numbers; SymPy integers as ``int``."""
    if hasattr(value, "tolist") and not isinstance(value, str | bytes):
        return value.tolist()
    if isinstance(value, Rational) and value.is_Integer:
        return int(value)
    return value


def _float(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(value)


def _exact(source: str, where: str, value: Fraction | Decimal | Rational) -> str:
    if isinstance(value, Decimal):
        if not value.is_finite():
            return _float(float(value))
        value = Fraction(value)
    number = Rational(value.numerator, value.denominator) if isinstance(value, Fraction) else value
    text = _decimal_text(number)
    if "/" in text:
        raise SpecError(source, where, f"expected a number with a terminating decimal, got {text}")
    return text
