"""The typeset content of a stack's derivation, as blocks for LaTeX, Markdown, MathML and HTML.

The same sections as for an MLP where they apply: ``notation`` (the layers, each with its
forward definition and its textbook backward pass, proven), ``forward``, ``backward`` (the
chain rule over the named intermediates) and ``gradients``. Each tensor of intermediates is
summarised by its first :data:`~symbackprop.render.stack.SHOWN` entries; gradients show up
to :data:`~symbackprop.render.stack.SHOWN_GRADIENT` entries per parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from sympy import Derivative, Expr, Symbol

from .. import notation
from ..formats import Omitted
from ..layers import LAYERS
from .block_parts import Block, Equation, Heading, Paragraph
from .common import exact_decimal
from .latex_printer import DecimalNumber, latex
from .layout import Row, Segment, aligned
from .stack import SHOWN, SHOWN_GRADIENT, notes

if TYPE_CHECKING:
    from ..stack_derivation import StackDerivation


def stack_title(d: StackDerivation) -> str:
    """``Backpropagation, step by step: cnn (1x6x6 input, 4 layers)``."""
    shape = "x".join(map(str, d.spec.input_shape))
    return (
        f"Backpropagation, step by step: {d.spec.name.removesuffix('.toml')} "
        f"({shape} input, {len(d.spec.layers)} layers)"
    )


def _derivatives(d: StackDerivation) -> dict[Symbol, Expr]:
    """Each adjoint symbol dJ/ds as the derivative it stands for, for printing."""
    return {a: Derivative(notation.LOSS, s, evaluate=False) for s, a in d.adjoints.symbols.items()}


def _values(d: StackDerivation, value: Expr) -> list[Segment]:
    """``= 0.3`` for an exact decimal; ``= exact`` and ``≈ decimal`` otherwise."""
    exact = exact_decimal(value)
    if exact is not None:
        return [Segment("=", DecimalNumber(exact))]
    decimal = Segment(r"\approx", DecimalNumber(d.decimal(value)))
    if isinstance(d.exact_form(value), Omitted):
        return [decimal]
    return [Segment("=", value), decimal]


def _row(d: StackDerivation, lhs: Expr, definition: Expr, value: Expr) -> Row:
    shown = definition.xreplace(_derivatives(d))
    return Row(latex(lhs), (Segment("=", shown), *_values(d, value)))


def _equation(rows: Sequence[Row], label: str) -> Equation:
    return Equation(aligned(rows), label)


def _more(count: int, what: str) -> list[Block]:
    if count <= 0:
        return []
    return [Paragraph((("text", f"... and {count} more entries of {what} (JSON has all)."),))]


def _proof_phrase(d: StackDerivation, position: int) -> str:
    """``proven equal to the element-wise chain rule``, with :meth:`StackDerivation.proven`'s
    representative size when the proof ran at one."""
    if not d.proofs[position]:
        return "NOT equal to the element-wise chain rule"
    size = f" ({d.proven(position)})" if d.proof_sizes.get(position) else ""
    return f"proven equal to the element-wise chain rule{size}"


def layers_section(d: StackDerivation, *, compact: bool = False) -> list[Block]:
    """The layers: each with its forward definition and its textbook backward pass, proven;
    ``compact`` (the handout) puts each layer's words in one lead-in, without a heading."""
    out: list[Block] = [Heading("The layers", 1)]
    for layer in d.spec.layers:
        kind = LAYERS[layer.kind]
        act = f", then {layer.activation}" if layer.activation is not None else ""
        name = f"Layer {layer.position}: {kind.describe(layer.options)}{act}"
        shapes = f"{layer.input_shape} to {layer.output_shape}"
        proven = _proof_phrase(d, layer.position)
        forward = Equation(kind.formula_latex, layer.label)
        backward = Equation(kind.backward_latex, f"{layer.label} backward")
        if compact:
            lead = (
                f"{name}, from shape {shapes}. Forward, and the textbook backward pass ({proven}):"
            )
            out += [Paragraph((("text", lead),)), forward, backward]
            continue
        out += [
            Heading(name, 2),
            Paragraph((("text", f"From shape {shapes}. Forward:"),)),
            forward,
            Paragraph((("text", f"Textbook backward pass, {proven}:"),)),
            backward,
        ]
    return out


def _forward(d: StackDerivation) -> list[Block]:
    out: list[Block] = [Heading("Forward pass at the documented point", 1)]
    for stage in d.graph.stages:
        rows = [_row(d, s, d.graph.definitions[s], d.values[s]) for s in stage[:SHOWN]]
        out.append(_equation(rows, f"forward {stage[0]}"))
        out += _more(len(stage) - SHOWN, "this stage")
    return out


def _backward(d: StackDerivation) -> list[Block]:
    out: list[Block] = [
        Heading("Backward pass", 1),
        Paragraph(
            (
                ("text", "By the chain rule over the named intermediates, "),
                (
                    "math",
                    r"\frac{\partial J}{\partial s} = \sum_{c} "
                    r"\frac{\partial J}{\partial c} \frac{\partial c}{\partial s}",
                ),
                ("text", " over the consumers c of s."),
            )
        ),
    ]
    for stage in reversed(d.graph.stages):
        rows = [
            _row(
                d,
                Derivative(notation.LOSS, s, evaluate=False),
                d.adjoints.definitions[d.adjoints.symbols[s]],
                d.adjoint_value(s),
            )
            for s in stage[:SHOWN]
        ]
        out.append(_equation(rows, f"backward {stage[0]}"))
        out += _more(len(stage) - SHOWN, "this stage")
    return out


def _gradients(d: StackDerivation) -> list[Block]:
    out: list[Block] = [Heading("Gradients", 1)]
    arrays = [(d.compact, d.gradients, d.graph.parameters, "")]
    arrays += [(d.data_compact, d.data_gradients, d.graph.data, " (data)")]
    for compacts, exacts, named, what in arrays:
        for key, compact in compacts.items():
            out.append(Heading(f"d{key}{what}, shape {compact.shape}", 2))
            indices = list(np.ndindex(*compact.shape))
            for index in indices[:SHOWN_GRADIENT]:
                lhs = Derivative(notation.LOSS, named[key][index], evaluate=False)
                row = _row(d, lhs, compact[index], exacts[key][index])
                out.append(_equation([row], notation.entry_name(f"d{key}", index)))
            out += _more(len(indices) - SHOWN_GRADIENT, f"d{key}")
    return out


_SECTIONS = {
    "notation": layers_section,
    "forward": _forward,
    "backward": _backward,
    "gradients": _gradients,
}


def stack_blocks(d: StackDerivation, sections: Sequence[str]) -> list[Block]:
    """The content of a stack's derivation, for the ``sections`` that apply to stacks."""
    out: list[Block] = [Paragraph((("text", note),)) for note in notes(d)]
    for name, section in _SECTIONS.items():
        if name in sections:
            out += section(d)
    return out
