"""A dense network's spec written back as TOML: a random point as a file to re-run and debug.

Every number of a spec is a terminating decimal (it was read from one, or drawn as one), so the
written file reads back as exactly the same point.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sympy import ImmutableMatrix, Rational

from .errors import SymbackpropError
from .files import write_atomic
from .spec import NetworkSpec, _decimal_text


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


def save_points(folder: str | Path, named: list[tuple[str, NetworkSpec, str]]) -> list[Path]:
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
        write_atomic(path, spec_toml(spec, comment))
        paths.append(path)
    return paths
