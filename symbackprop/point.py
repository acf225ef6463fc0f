"""A spec at another point: the same network with some parameters or data replaced.

>>> from symbackprop import load_spec
>>> spec = spec_at(load_spec("seed"), {"x": [2, 0]})
>>> spec.x.T, spec.weights == load_spec("seed").weights
(Matrix([[2, 0]]), True)
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from .errors import SpecError
from .spec import NetworkSpec
from .spec_dict import spec_from_dict
from .spec_writer import spec_toml

#: The keys of a point that belong to the ``[data]`` table; the others are parameters.
DATA_KEYS = ("x", "y")


def spec_at(spec: NetworkSpec, values: Mapping[str, Any]) -> NetworkSpec:
    """``spec`` with the parameters and data in ``values`` replaced, validated like a file.

    Args:
        spec: the spec to start from.
        values: ``W1``, ``b1``, ... in the spec's shapes (a NumPy array or nested lists), and
            ``x`` or ``y`` as in ``[data]`` (a flat list for one sample, rows for a batch).

    Returns:
        The new spec; its ``[expected]`` table, which holds values of the old point, is dropped.

    Raises:
        SpecError: an unknown key, or a value of the wrong shape or kind.
    """
    # Decimal keeps each number exact: spec_from_dict reads a Decimal as itself.
    data = tomllib.loads(spec_toml(spec), parse_float=Decimal)
    allowed = [*data["parameters"], *DATA_KEYS]
    for key, value in values.items():
        if key not in allowed:
            raise SpecError(
                spec.source, key, f"unknown key of a point; expected one of: {', '.join(allowed)}"
            )
        data["data" if key in DATA_KEYS else "parameters"][key] = value
    result = spec_from_dict(data, f"{spec.source} at a new point")
    assert isinstance(result, NetworkSpec)  # a dense network stays one
    return result
