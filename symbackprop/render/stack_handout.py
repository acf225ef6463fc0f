"""The handout of a ``[[layers]]`` stack (convolution, pooling, recurrent, ...), in every
block format.

The picture; the notation and the layers (forward definitions and textbook backward passes,
proven); the forward pass, each tensor at the documented point as matrices (a tensor of three
or more axes by its last two); the loss and the output error step by step; one entry per layer
kind worked out (the chain rule's sum with the numbers substituted); and every parameter's
gradient as matrices (a kernel per filter and channel). Stacks have no ``[training]`` step, so
no update. Numbers follow the handout's rule (:func:`.handout.handout_number`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from math import prod
from typing import TYPE_CHECKING

import numpy as np
from sympy import Derivative, Expr, ImmutableMatrix, Integer, Symbol, evaluate

from .. import notation
from ..exact import decimal
from ..layers import LAYERS
from .block_parts import Block, Heading, Paragraph, equation_chunks, paragraph
from .common import exact_decimal
from .figure import Figure, figure
from .forward_blocks import matrix_rows
from .handout import handout_number
from .latex_printer import DecimalNumber, latex
from .layout import LINE_WIDTH, Row, Segment
from .stack import notes
from .stack_blocks import layers_section
from .widths import estimate_width

if TYPE_CHECKING:
    from ..stack_derivation import StackDerivation

#: Rows of the output error shown one by one per tensor (a larger tensor follows as values).
ERROR_ROWS = 3
_INDEX = re.compile(r"^(.*)_(\d+(?:,\d+)*)$")


def stack_handout_blocks(d: StackDerivation) -> list[Block | Figure]:
    """The blocks of the handout of the stack ``d``."""
    out: list[Block | Figure] = [figure(d)]
    out += [Paragraph((("text", f"Note: {note}."),)) for note in notes(d)]
    out += _notation(d)
    out += _forward(d)
    out += _output_error(d)
    out += _worked(d)
    out += _gradients(d)
    return out


# -- numbers and tensors


def _shown(d: StackDerivation, value: Expr) -> DecimalNumber:
    return handout_number(value, decimal, d.options.digits)


def _tensor(symbols: Iterable[Symbol]) -> tuple[Symbol, np.ndarray, tuple[int, ...]]:
    """Symbols named ``base_i,j,...`` (1-based) as one array in their index order, with the
    0-based index of its first entry (a time step's tensor starts at its step); the first
    symbol stands for the tensor's name. Symbols that fill no box are one row."""
    symbols = list(symbols)
    found = [_INDEX.match(s.name) for s in symbols]
    if any(m is None for m in found):
        return symbols[0], np.array(symbols, dtype=object), (0,)
    indices = [tuple(int(i) - 1 for i in m.group(2).split(",")) for m in found if m]
    low = tuple(min(i[k] for i in indices) for k in range(len(indices[0])))
    shape = tuple(max(i[k] for i in indices) + 1 - low[k] for k in range(len(low)))
    if prod(shape) != len(symbols):
        return symbols[0], np.array(symbols, dtype=object), (0,)
    array = np.empty(shape, dtype=object)
    for index, symbol in zip(indices, symbols, strict=True):
        array[tuple(i - o for i, o in zip(index, low, strict=True))] = symbol
    return symbols[0], array, low


def _base(symbol: Symbol) -> str:
    """The LaTeX of a tensor's name: ``z^{(1)}`` for ``z^(1)_1,1,1``."""
    text = latex(symbol)
    found = _INDEX.match(symbol.name)
    if found is None:
        return text
    head, _, tail = text.rpartition(f"_{{{found.group(2)}}}")
    return head + tail if head else text


def _tensor_rows(
    d: StackDerivation,
    name: Callable[[str], str],
    values: np.ndarray,
    offset: tuple[int, ...] = (),
) -> list[Row]:
    """``name = [values]``: a scalar, a row vector (transposed), a matrix, or the matrices of
    the last two axes, one per leading index (1-based)."""
    shown = np.vectorize(lambda v: _shown(d, v), otypes=[object])(values)
    exact = all(
        str(s) == exact_decimal(v) for s, v in zip(shown.ravel(), values.ravel(), strict=True)
    )
    relation = "=" if exact else r"\approx"
    if values.ndim == 0:
        return [Row(name(""), (Segment(relation, shown[()]),))]
    if values.ndim == 1:
        return matrix_rows(
            rf"\left({name('')}\right)^{{\top}}", relation, ImmutableMatrix([list(shown)])
        )
    rows: list[Row] = []
    for lead in np.ndindex(*values.shape[:-2]):
        start = offset or (0,) * values.ndim
        where = ",".join(str(i + o + 1) for i, o in zip(lead, start, strict=False))
        lhs = name(f"{where},\\cdot,\\cdot" if lead else "")
        slice_rows = matrix_rows(lhs, relation, ImmutableMatrix(shown[lead].tolist()))
        if len(slice_rows) == 1 and rows and _fits(rows[-1], slice_rows[0]):
            rows[-1] = _beside(rows[-1], slice_rows[0])
        else:
            rows += slice_rows
    return rows


def _row_latex(row: Row) -> str:
    return " ".join(f"{s.relation} {s.rhs}" for s in row.segments)


def _fits(left: Row, right: Row) -> bool:
    """Whether ``right`` (one printed matrix) fits beside ``left`` on one line."""
    if not all(isinstance(s.rhs, str) for s in (*left.segments, *right.segments)):
        return False
    text = f"{left.lhs} {_row_latex(left)},\\qquad {right.lhs} {_row_latex(right)}"
    return estimate_width(text) <= LINE_WIDTH - 1


def _beside(left: Row, right: Row) -> Row:
    """One row: ``left``'s matrices, then ``right``'s name and matrix."""
    last = left.segments[-1]
    rhs = f"{last.rhs},\\qquad {right.lhs} {_row_latex(right)}"
    return Row(left.lhs, (*left.segments[:-1], Segment(last.relation, rhs)))


def _indexed(base: str) -> Callable[[str], str]:
    return lambda where: f"{base}_{{{where}}}" if where else base


def _gradient_name(base: str) -> Callable[[str], str]:
    def name(where: str) -> str:
        return rf"\frac{{\partial J}}{{\partial {_indexed(base)(where)}}}"

    return name


def _substituted(d: StackDerivation, expr: Expr) -> Expr:
    """``expr`` with every symbol's shown value put in, unevaluated."""
    mapping = {s: _shown(d, d.values[s]) for s in expr.free_symbols if s in d.values}
    with evaluate(False):
        return expr.xreplace(mapping)


def _derivatives(d: StackDerivation, expr: Expr) -> Expr:
    """The adjoint symbols of ``expr`` as the derivatives they stand for, for printing."""
    names: dict[Symbol, Expr] = {
        a: Derivative(notation.LOSS, s, evaluate=False) for s, a in d.adjoints.symbols.items()
    }
    names[d.adjoints.symbols[notation.LOSS]] = Integer(1)  # dJ/dJ
    return expr.xreplace(names)


def _value(d: StackDerivation, value: Expr) -> Segment:
    shown = _shown(d, value)
    return Segment("=" if str(shown) == exact_decimal(value) else r"\approx", shown)


def _stages(d: StackDerivation, position: int | None) -> list[tuple[Symbol, ...]]:
    return [s for s in d.graph.stages if d.graph.positions.get(s[0]) == position]


# -- sections


def _notation(d: StackDerivation) -> list[Block]:
    out: list[Block] = [Heading("Notation", 1)]
    out.append(
        paragraph(
            "Indices count from 1; an image is indexed by (channel, row, column). ",
            ("math", "x"),
            " is the input, ",
            ("math", "z^{(l)}"),
            " the output of layer l before its activation and ",
            ("math", "a^{(l)}"),
            " after it, ",
            ("math", r"\hat{y}"),
            " the prediction and ",
            ("math", "J"),
            f" the loss ({d.spec.loss.name.replace('_', ' ')}). At a kink, ",
            ("math", rf"\mathrm{{ReLU}}'(0) = {d.options.relu_prime_at_zero}"),
            ", and a max-pool window passes its gradient to its first maximum in row-major order.",
        )
    )
    return out + layers_section(d, compact=True)


def _forward(d: StackDerivation) -> list[Block]:
    out: list[Block] = [Heading("Forward pass", 1)]
    out.append(paragraph("Each tensor at the documented point, layer by layer:"))
    out += equation_chunks(_input_rows(d), "handout/x")
    for layer in d.spec.layers:
        kind = LAYERS[layer.kind].describe(layer.options)
        out.append(paragraph(f"Layer {layer.position}, {kind}:"))
        rows: list[Row] = []
        for stage in _stages(d, layer.position):
            first, array, offset = _tensor(stage)
            values = np.vectorize(lambda s: d.values[s], otypes=[object])(array)
            rows += _tensor_rows(d, _indexed(_base(first)), values, offset)
        out += equation_chunks(rows, f"handout/forward {layer.position}")
    return out


def _input_rows(d: StackDerivation) -> list[Row]:
    """The input: its symbols' values, or the given numbers where the input is not symbolic
    (an embedding's indices)."""
    inputs = d.graph.inputs[0].ravel()
    if all(isinstance(s, Symbol) and s in d.values for s in inputs):
        first, array, offset = _tensor(inputs)
        values = np.vectorize(lambda s: d.values[s], otypes=[object])(array)
        return _tensor_rows(d, _indexed(_base(first)), values, offset)
    given = np.array(np.asarray(d.spec.x).tolist(), dtype=object)
    values = np.vectorize(lambda v: v if isinstance(v, Expr) else Integer(v), otypes=[object])(
        given
    )
    return _tensor_rows(d, _indexed("x"), values)


def _output_error(d: StackDerivation) -> list[Block]:
    """The loss, then dJ/d(each tensor of the last layer), from the output inwards."""
    out: list[Block] = [Heading("Loss and output error", 1)]
    loss = Symbol("J")
    rows = [Row("J", (Segment("=", d.graph.definitions[loss]), _value(d, d.values[loss])))]
    out += equation_chunks(rows, "handout/loss")
    out.append(paragraph("By the chain rule, from the loss back to the last layer:"))
    last = d.spec.layers[-1].position
    for stage in reversed(_stages(d, None)[:-1] + _stages(d, last)):
        rows = []
        for s in stage[:ERROR_ROWS]:
            adjoint = d.adjoints.symbols[s]
            definition = _derivatives(d, d.adjoints.definitions[adjoint])
            segments = (Segment("=", definition), _value(d, d.values[adjoint]))
            rows.append(Row(latex(Derivative(notation.LOSS, s, evaluate=False)), segments))
        # the whole tensor when some entries were not shown (and not the samples' losses J_n)
        if len(stage) > ERROR_ROWS and d.graph.positions.get(stage[0]) is not None:
            first, array, offset = _tensor(stage)
            adjoints = np.vectorize(lambda s: d.adjoint_value(s), otypes=[object])(array)
            rows += _tensor_rows(d, _gradient_name(_base(first)), adjoints, offset)
        out += equation_chunks(rows, f"handout/error {stage[0]}")
    return out


def _worked(d: StackDerivation) -> list[Block]:
    """For the first layer of each kind: one entry of its gradient, the chain rule's sum with
    the numbers substituted (a parameter's entry; for a layer without parameters, the first
    entry of its input's gradient that is not 0)."""
    out: list[Block] = [Heading("One entry per layer kind, worked out", 1)]
    seen: set[str] = set()
    for layer in d.spec.layers:
        if layer.kind in seen:
            continue
        seen.add(layer.kind)
        entry = _worked_entry(d, layer.position, list(layer.parameter_keys.values()))
        if entry is None:
            continue
        symbol, definition, value = entry
        out.append(
            paragraph(f"Layer {layer.position}, {LAYERS[layer.kind].describe(layer.options)}:")
        )
        segments = (
            Segment("=", _derivatives(d, definition)),
            Segment("=", _substituted(d, definition)),
            _value(d, value),
        )
        rows = [Row(latex(Derivative(notation.LOSS, symbol, evaluate=False)), segments)]
        out += equation_chunks(rows, f"handout/worked {layer.position}")
    return out


def _worked_entry(
    d: StackDerivation, position: int, keys: list[str]
) -> tuple[Symbol, Expr, Expr] | None:
    """(symbol, its gradient's chain-rule form, its value) of the entry to work out."""
    for key in keys:
        if key in d.graph.parameters:
            index = (0,) * d.graph.parameters[key].ndim
            return d.graph.parameters[key][index], d.compact[key][index], d.gradients[key][index]
    positions = d.graph.positions
    before = [s for s in d.graph.stages if positions.get(s[0], position) < position]
    for s in before[-1] if before else ():
        adjoint = d.adjoints.symbols.get(s)
        if adjoint is not None and d.values[adjoint] != 0:
            return s, d.adjoints.definitions[adjoint], d.values[adjoint]
    return None


def _gradients(d: StackDerivation) -> list[Block]:
    out: list[Block] = [Heading("Gradients", 1)]
    out.append(
        paragraph(
            "Every parameter's gradient at the documented point (a kernel's by filter and "
            "input channel):"
        )
    )
    for key, values in d.gradients.items():
        first = d.graph.parameters[key].ravel()[0]
        rows = _tensor_rows(d, _gradient_name(_base(first)), values)
        out += equation_chunks(rows, f"handout/d{key}")
    return out
