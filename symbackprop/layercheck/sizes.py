"""``--shape``: ``NAME=VALUE`` pairs separated by commas, over a kind's defaults.

``N=8,D=2x3`` sets the batch size to 8 and the input dimensions to (2, 3); names a kind does
not have, and values that are not integers, are errors naming the valid choices. Each size is
at most :data:`~symbackprop.defaults.MAX_LAYER_SIZE`, and all of them multiply to at most
:data:`~symbackprop.defaults.MAX_LAYER_ENTRIES`, so that no ``--shape`` runs without end.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from ..defaults import MAX_LAYER_ENTRIES, MAX_LAYER_SIZE
from ..errors import SymbackpropError
from .kinds import Kind, Sizes

_MAX_DIMS = 4  # AxBxCxD


def _error(kind: Kind, message: str) -> SymbackpropError:
    names = ", ".join(s.name for s in kind.sizes)
    return SymbackpropError(f"check-layer {kind.name}: --shape: {message} (sizes: {names})")


def _value(kind: Kind, name: str, text: str) -> tuple[int, ...]:
    size = next(s for s in kind.sizes if s.name == name)
    parts = text.split("x") if size.dims else [text]
    try:
        if len(text) > 40:
            raise ValueError
        value = tuple(int(p) for p in parts)
    except ValueError:
        form = "an integer or AxB..." if size.dims else "an integer"
        raise _error(kind, f"{name}={text}: expected {form}") from None
    if any(v < size.minimum for v in value):
        raise _error(kind, f"{name}={text}: expected {name} >= {size.minimum}")
    if any(v > MAX_LAYER_SIZE for v in value) or len(value) > _MAX_DIMS:
        limit = f"{_MAX_DIMS} sizes of at most {MAX_LAYER_SIZE} each" if size.dims else None
        expected = f"at most {limit}" if limit else f"{name} <= {MAX_LAYER_SIZE}"
        raise _error(kind, f"{name}={text}: expected {expected}")
    return value


def _entries(sizes: Mapping[str, tuple[int, ...]]) -> int:
    """The product of every size (a zero, such as pad=0, counts as one)."""
    return math.prod(max(v, 1) for value in sizes.values() for v in value)


def parse_shape(kind: Kind, text: str | Mapping[str, object] | None) -> dict[str, tuple[int, ...]]:
    """The kind's sizes with ``text`` (``"N=4,D=5"`` or ``{"N": 4}``) over its defaults."""
    sizes = {s.name: s.default for s in kind.sizes}
    if text is None:
        pairs: list[tuple[str, str]] = []
    elif isinstance(text, Mapping):
        pairs = [
            (k, "x".join(map(str, v)) if isinstance(v, tuple | list) else str(v))
            for k, v in text.items()
        ]
    else:
        pairs = []
        for item in filter(None, (p.strip() for p in text.split(","))):
            name, sep, value = item.partition("=")
            if not sep:
                raise _error(kind, f"'{item}': expected NAME=VALUE")
            pairs.append((name.strip(), value.strip()))
    for name, value in pairs:
        if name not in sizes:
            raise _error(kind, f"unknown size '{name}'")
        sizes[name] = _value(kind, name, value)
    if _entries(sizes) > MAX_LAYER_ENTRIES:
        raise _error(
            kind, f"the sizes multiply to {_entries(sizes)}; the limit is {MAX_LAYER_ENTRIES}"
        )
    problem = kind.validate(sizes)
    if problem is not None:
        raise _error(kind, problem)
    return sizes


def shape_text(sizes: Sizes) -> str:
    """``N=4, D=2x3, M=3``."""
    return ", ".join(f"{k}={'x'.join(map(str, v))}" for k, v in sizes.items())
