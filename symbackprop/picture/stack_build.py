"""A stack's derivation -> :class:`~.diagram.Diagram`: one box per layer.

Each box names the layer's kind, its input -> output shape and its parameter count. With
gradient labels, each box with parameters also holds dJ/d(parameter) at the documented point:
a small parameter as its matrices (a kernel per filter and channel), a large one as its norm
and its largest entry, since a lecturer checks the small ones by hand and only the size of the
large ones.

>>> from symbackprop import derive
>>> lines = stack_diagram(derive("cnn"), "both").columns[4].gradient
>>> lines[0].plain
'∂J/∂W2'
"""

from __future__ import annotations

from math import prod
from typing import Any

import numpy as np
from sympy import Expr, Max, Symbol, sqrt

from ..exact import decimal
from .diagram import Column, Diagram, Text
from .numbers import number

#: A parameter with at most this many entries is labelled with every entry of its gradient.
MATRIX_ENTRIES = 32
#: Significant digits of the gradient entries in a box (fewer than on edges: boxes hold many).
BOX_DIGITS = 3


def stack_diagram(derivation: Any, mode: str = "weights") -> Diagram:
    """One box per layer of a stack; ``mode`` other than ``"weights"`` adds the gradients."""
    spec = derivation.spec
    columns = [_box(("input", _shape(spec.input_shape)))]
    for layer in spec.layers:
        kind = layer.kind if layer.activation is None else f"{layer.kind}, {layer.activation.name}"
        lines = [kind, f"{_shape(layer.input_shape)} → {_shape(layer.output_shape)}"]
        keys = [k for k in layer.parameter_keys.values() if k in spec.parameters]
        if keys:
            count = sum(prod(spec.parameters[key].shape) for key in keys)
            lines.append(f"{count} parameters")
        gradient = () if mode == "weights" else _gradient_lines(derivation, keys)
        columns.append(_box(tuple(lines), gradient))

    loss_value = derivation.values.get(Symbol("J"))
    loss = (number(derivation, loss_value, name="J|J"),) if loss_value is not None else ()
    return Diagram(tuple(columns), tuple(() for _ in spec.layers), (), loss, _legend(mode), True)


def _legend(mode: str) -> tuple[Text, ...]:
    plain = "One box per layer: its kind, input → output shape and parameters"
    tex = "One box per layer: its kind, input $\\to$ output shape and parameters"
    if mode != "weights":
        plain += f"; in red, ∂J/∂ each parameter at the documented point ({BOX_DIGITS} digits)"
        tex += (
            f"; in red, $\\partial J/\\partial$ each parameter at the documented point "
            f"({BOX_DIGITS} digits)"
        )
    return (Text(plain + ".", tex + ".", "name"),)


def _shape(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape))


def _entry(value: Expr) -> Text:
    text = decimal(value, BOX_DIGITS)
    return Text(text.replace("-", "−"), f"${text}$", "gradient")


def _row(values: np.ndarray) -> Text:
    """One matrix row: the entries side by side."""
    entries = [_entry(v) for v in values]
    return Text(
        "\u2002".join(e.plain for e in entries),
        "\\ ".join(e.tex for e in entries),
        "gradient",
    )


def _gradient_lines(derivation: Any, keys: list[str]) -> tuple[Text, ...]:
    """dJ/d(each key): its matrices (slices over the leading axes), or its norm and max."""
    lines: list[Text] = []
    for key in keys:
        array = derivation.gradients[key]
        name = Text(f"∂J/∂{key}", f"$\\partial J/\\partial {_tex_key(key)}$", "gradient")
        if array.size > MATRIX_ENTRIES:
            lines += [name, *_summary(array)]
            continue
        if array.ndim <= 2:
            lines.append(name)
            lines += [_row(row) for row in np.atleast_2d(array)]
            continue
        for index in np.ndindex(*array.shape[:-2]):
            where = ",".join(map(str, index))
            lines.append(
                Text(
                    f"∂J/∂{key}[{where},:,:]",
                    f"$\\partial J/\\partial {_tex_key(key)}[{where},:,:]$",
                    "gradient",
                )
            )
            lines += [_row(row) for row in array[index]]
    return tuple(lines)


def _summary(array: np.ndarray) -> list[Text]:
    """The Frobenius norm and the largest absolute entry, computed from the exact values."""
    values = list(array.ravel())
    norm = decimal(sqrt(sum(v**2 for v in values)), BOX_DIGITS)
    largest = decimal(Max(*(abs(v) for v in values)), BOX_DIGITS)
    return [
        Text(f"‖·‖ = {norm}", f"$\\|\\cdot\\| = {norm}$", "gradient"),
        Text(f"max |entry| = {largest}", f"$\\max|\\cdot| = {largest}$", "gradient"),
    ]


def _tex_key(key: str) -> str:
    """``W1`` -> ``W_{1}``; ``gamma1`` -> ``\\mathrm{gamma}_{1}``."""
    stem = key.rstrip("0123456789")
    number = key[len(stem) :]
    tex_stem = stem if len(stem) == 1 else f"\\mathrm{{{stem}}}"
    return f"{tex_stem}_{{{number}}}" if number else tex_stem


def _box(lines: tuple[str, ...], gradient: tuple[Text, ...] = ()) -> Column:
    texts = tuple(
        Text(line, line.replace("_", r"\_").replace("×", r"$\times$").replace("→", r"$\to$"))
        for line in lines
    )
    return Column((), (), box=texts, gradient=gradient)
