"""A spec written back as TOML: a random point as a file to re-run and debug.

Every number of a dense spec is a terminating decimal (it was read from one, or drawn as one),
so the written file reads back as exactly the same point. A stack's random point is float64:
its numbers are written as their shortest ``repr``, which reads back as the same float64 (so
your backprop gets the same inputs; the exact values are those of the decimals written).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sympy import ImmutableMatrix, Rational

from .errors import SymbackpropError
from .files import write_atomic
from .spec import NetworkSpec, _decimal_text
from .spec_dict import toml_text
from .stack_spec import StackSpec


@dataclass(frozen=True)
class StackPointSpec:
    """A stack's point: the spec, with these float64 parameters and inputs (sample axis first)."""

    spec: StackSpec
    parameters: Mapping[str, np.ndarray]
    x: np.ndarray


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, Rational) and not value.is_integer:
        return _decimal_text(value)
    if isinstance(value, Rational):
        return str(int(value))
    return str(value)


def _rows(matrix: ImmutableMatrix) -> str:
    rows = [", ".join(_value(v) for v in matrix.row(i)) for i in range(matrix.rows)]
    return "[" + ", ".join(f"[{row}]" for row in rows) + "]"


def _flat(matrix: ImmutableMatrix) -> str:
    return "[" + ", ".join(_value(v) for v in matrix) + "]"


def _samples(matrix: ImmutableMatrix, batched: bool) -> str:
    """One sample as a flat list, a batch as a list of samples (the columns)."""
    return _rows(matrix.T) if batched else _flat(matrix)


def _inline(name: str, options: tuple[tuple[str, Any], ...], **more: Any) -> str:
    pairs = [*more.items(), *options]
    if not pairs:
        return f'"{name}"'
    return "{ " + ", ".join([f'name = "{name}"'] + [f"{k} = {_value(v)}" for k, v in pairs]) + " }"


def spec_toml(spec: NetworkSpec, comment: str = "") -> str:
    """The TOML text of ``spec`` without its ``[expected]`` table (values of another point)."""
    activations = ", ".join(_inline(a.name, a.options) for a in spec.activations)
    loss = _inline(spec.loss.name, spec.loss.options, reduction=spec.loss.reduction)
    lines = [f"# {line}" for line in comment.splitlines()]
    lines += ["[network]", f"layers = {list(spec.layers)}", f"activations = [{activations}]"]
    lines += [f"loss = {loss}", f"biases = {_value(spec.biases is not None)}"]
    if spec.l2:
        lines.append(f"l2 = {_value(spec.l2)}")
    lines += ["", "[parameters]"]
    for l, w in enumerate(spec.weights):
        lines.append(f"W{l + 1} = {_rows(w)}")
        if spec.biases is not None:
            lines.append(f"b{l + 1} = {_flat(spec.biases[l])}")
    batched = spec.batched or spec.samples > 1
    lines += ["", "[data]", f"x = {_samples(spec.x, batched)}", f"y = {_samples(spec.y, batched)}"]
    if spec.training is not None:
        lines += ["", "[training]", f"learning_rate = {_value(spec.training.learning_rate)}"]
        lines.append(f"update_biases = {_value(spec.training.update_biases)}")
    return "\n".join(lines) + "\n"


def stack_toml(point: StackPointSpec, comment: str = "") -> str:
    """The TOML text of a stack's spec at ``point``, without its ``[expected]`` table."""
    spec = point.spec
    data = tomllib.loads(spec.text)
    data.pop("expected", None)
    data["parameters"] = {k: np.asarray(v, dtype=np.float64) for k, v in point.parameters.items()}
    same = np.array_equal(np.asarray(spec.x, dtype=np.float64), point.x)  # word indices stay
    if not same:
        data["data"] = {**data["data"], "x": point.x if spec.batched else point.x[0]}
    lines = [f"# {line}" for line in comment.splitlines()]
    return "\n".join([*lines, toml_text(data, spec.source)])


def save_points(
    folder: str | Path, named: list[tuple[str, NetworkSpec | StackPointSpec, str]]
) -> list[Path]:
    """Write each (file stem, spec, comment) into ``folder`` (created if missing)."""
    target = Path(folder)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise SymbackpropError(
            f"--save-failing {folder}: cannot create the folder: {reason}"
        ) from None
    paths = []
    for stem, spec, comment in named:
        path = target / f"{stem}.toml"
        text = (
            spec_toml(spec, comment)
            if isinstance(spec, NetworkSpec)
            else stack_toml(spec, comment)
        )
        write_atomic(path, text)
        paths.append(path)
    return paths
