"""The blocks a derivation is made of (headings, paragraphs, equations) and helpers building them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sympy import (
    Expr,
    MatrixSymbol,
    Symbol,
)

from .latex_printer import latex
from .layout import (
    Row,
    aligned_environment,
    aligned_lines,
    line_height,
)

if TYPE_CHECKING:
    pass


EXPANDED_TEXT = ", then expanded in x, W, b and y where that is short enough to show"

#: An expanded form is typeset only if it fits in this many lines.
EXPANDED_LINES = 12
#: Taller groups of rows (in text lines) are split into several equations, so that a page can
#: break between them.
EQUATION_HEIGHT = 26.0


@dataclass(frozen=True)
class Heading:
    """A section (``level`` 1) or subsection (``level`` 2) heading."""

    text: str
    level: int


@dataclass(frozen=True)
class Paragraph:
    """Running text: ``("text", "...")`` and ``("math", "inline LaTeX")`` parts."""

    parts: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Equation:
    """Display math (an ``aligned`` environment, possibly holding ``bmatrix``); ``label`` names
    it in error messages, e.g. ``dJ/dW2[0,1]``.
    """

    latex: str
    label: str


Block = Heading | Paragraph | Equation


def paragraph(*parts: str | Expr | tuple[str, str]) -> Paragraph:
    """A paragraph from strings (text), SymPy objects (printed as inline math) and
    ``("math", latex)`` pairs."""
    result: list[tuple[str, str]] = []
    for part in parts:
        if isinstance(part, tuple):
            result.append(part)
        elif isinstance(part, str):
            if part:
                result.append(("text", part))
        else:
            result.append(("math", latex(part, fold_derivatives=True)))
    return Paragraph(tuple(result))


def inline_math(tex: str) -> tuple[str, str]:
    return ("math", tex)


def whole(stem: str, layer: int) -> Symbol:
    """The symbol of a whole layer vector or matrix: ``whole("W", 0)`` is W^(1)."""
    return Symbol(f"{stem}^({layer + 1})")


def matrix_symbol(stem: str, layer: int | None, rows: int, cols: int) -> MatrixSymbol:
    name = stem if layer is None else f"{stem}^({layer + 1})"
    return MatrixSymbol(name, rows, cols)


def span(numbers: tuple[int, int]) -> str:
    """``3\\ldots 7``, or ``3`` for a single index."""
    first, last = numbers
    return str(first) if first == last else rf"{first}\ldots {last}"


def equation_chunks(rows: Sequence[Row], label: str) -> list[Equation]:
    """``aligned`` equations for ``rows``, split so that each fits on a page.

    Splits fall between rows where possible, else between the lines of a long row. Every chunk
    lines up like the others; a chunk that would start with a continuation row (``&= ...``)
    repeats the left-hand side it continues.
    """
    rows = list(rows)
    all_lines = aligned_lines(rows)
    chunks: list[list[str]] = [[]]
    height = 0.0
    lhs = ""
    for row, lines in zip(rows, all_lines, strict=True):
        row_height = sum(line_height(line) for line in lines)
        if chunks[-1] and height + row_height > EQUATION_HEIGHT:
            chunks.append([])
            height = 0.0
            if not row.lhs:
                lines = aligned_lines([Row(lhs, row.segments), *rows])[0]
        lhs = row.lhs or lhs
        for line in lines:
            if chunks[-1] and height + line_height(line) > EQUATION_HEIGHT:
                chunks.append([])
                height = 0.0
            chunks[-1].append(line)
            height += line_height(line)
    if len(chunks) == 1:
        return [Equation(aligned_environment(chunks[0]), label)]
    return [
        Equation(aligned_environment(chunk), f"{label} (part {n})")
        for n, chunk in enumerate(chunks, start=1)
    ]
