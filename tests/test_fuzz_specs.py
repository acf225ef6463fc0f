"""Fuzzing the spec reader (issue 16): mutated valid specs give a spec or one short SpecError.

Hypothesis takes a valid spec (the seed MLP or the CNN example), replaces, deletes or adds one
value anywhere in its tables (wrong types, shapes, huge magnitudes, deep nesting, strings with
control characters) and writes it back as TOML. :func:`parse_spec` must then either return a
spec or raise :class:`SymbackpropError` with a one-line, bounded, escape-free message.
"""

from __future__ import annotations

import json
import math
import tomllib
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symbackprop.builtin import example_text
from symbackprop.errors import SymbackpropError
from symbackprop.spec import parse_spec

BASES = {name: tomllib.loads(example_text(name)) for name in ("seed", "cnn")}
MESSAGE_LIMIT = 2048

_HOSTILE = ["relu\nsymbackprop: error: forged", "\x1b[31mtanh\x1b[0m", "x" * 5000, "", "\r\t\x00"]
_text = st.sampled_from(_HOSTILE) | st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30
)
_scalars = (
    st.integers(min_value=-(10**30), max_value=10**30)
    | st.sampled_from([0, 1, -1, 10**400, 2**63])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([Decimal("1e-400"), Decimal("1e400"), Decimal("0.1")])
    | st.booleans()
    | _text
)
_tree = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=12,
)
_deep = st.sampled_from([8, 33, 400]).map(lambda depth: "[" * depth + "1" + "]" * depth)
_values = st.one_of(_tree, _tree, _tree, _tree, _deep)  # raw TOML nesting one time in five


def _toml_value(value: Any) -> str:
    """``value`` as a TOML value (a raw string starting with ``[`` is inserted as written)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return value if value.startswith("[") and value.endswith("]") else _string(value)
    if isinstance(value, float):
        return (
            "nan"
            if math.isnan(value)
            else ("inf" if value > 0 else "-inf")
            if math.isinf(value)
            else repr(value)
        )
    if isinstance(value, Decimal):
        return str(value).replace("E", "e")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(map(_toml_value, value)) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_string(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)  # pragma: no cover


def _string(text: str) -> str:
    """``text`` as a TOML basic string: quotes, backslashes and control characters escaped."""
    escaped = (
        f"\\u{ord(ch):04x}" if ch in '"\\' or ord(ch) < 0x20 or ord(ch) == 0x7F else ch
        for ch in text
    )
    return '"' + "".join(escaped) + '"'


def _toml(data: dict[str, Any]) -> str:
    """``data`` (top level: tables, or arrays of tables) as a TOML document."""
    lines = []
    for name, table in data.items():
        if isinstance(table, list) and all(isinstance(t, dict) for t in table) and table:
            for item in table:
                lines.append(f"[[{_string(name)}]]")
                lines += [f"{_string(k)} = {_toml_value(v)}" for k, v in item.items()]
        elif isinstance(table, dict):
            lines.append(f"[{_string(name)}]")
            lines += [f"{_string(k)} = {_toml_value(v)}" for k, v in table.items()]
        else:
            lines.insert(0, f"{_string(name)} = {_toml_value(table)}")
    return "\n".join(lines) + "\n"


def _places(value: Any, path: tuple = ()) -> list[tuple]:
    """Every path into the nested tables and lists of ``value``."""
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _places(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _places(item, (*path, i))
    return found


@st.composite
def mutated_specs(draw: st.DrawFn) -> str:
    data = json.loads(json.dumps(BASES[draw(st.sampled_from(sorted(BASES)))], default=str))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from([p for p in _places(data) if len(p) > 1]))
        parent = data
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(_text)] = draw(_values)
        else:
            parent[path[-1]] = draw(_values)
    return _toml(data)


@settings(
    max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
@given(mutated_specs())
def test_mutated_specs_parse_or_fail_in_one_short_line(text: str) -> None:
    try:
        parse_spec(text, "fuzz.toml")
    except SymbackpropError as error:
        message = str(error)
        assert message.startswith("fuzz.toml: ")
        assert message.isprintable() and len(message) < MESSAGE_LIMIT, message[:300]
