"""Layout of LaTeX displays: width estimates, line breaking, aligned rows, matrix blocks.

A display row that is too wide for the page is broken by :func:`aligned`: the expression is cut
into pieces (terms, factors, function arguments) with break points between them, brackets that
span lines get fixed sizes (``\\bigl(`` ... ``\\bigr)``), and the breaks are chosen to use as
few lines as possible, preferring shallow break points. Widths are estimated from the LaTeX
(:func:`estimate_width`), in em of the body font; the pdflatex test checks the estimate by
compiling with no overfull boxes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sympy import (
    Add,
    Expr,
    Function,
    Mul,
    S,
    fraction,
)

from .latex_printer import DerivationPrinter, is_negative, latex, latex_text, negate, printer
from .widths import SCRIPT, bracket_height, estimate_width

#: Width available to a display, in em of the body font (11pt on A4 with 2.5 cm margins is
#: about 41 em; the rest is a safety margin for the width estimate).
LINE_WIDTH = 36.0
#: The most columns one printed matrix gets: amsmath's ``bmatrix`` takes at most MaxMatrixCols
#: (10) unless a document raises it, and a fragment cannot.
MATRIX_COLUMNS = 10
#: The most rows one printed matrix gets, so that it fits on a page (a display cannot break).
MATRIX_ROWS = 16


# ----------------------------------------------------------------------------- line breaking


@dataclass(frozen=True)
class _Piece:
    """Unbreakable LaTeX with its width; ``height`` counts the bracket levels inside it."""

    tex: str
    width: float
    height: int = 0


@dataclass(frozen=True)
class _Break:
    """A place where a line may end: ``joiner`` if it does not, ``lead`` starts the next line.

    ``depth`` counts the brackets around it; ``penalty`` makes it a worse place to break
    (between factors, rather than before a ``+``).
    """

    depth: int
    joiner: str = " "
    lead: str = "{}"
    penalty: int = 0


_Item = _Piece | _Break

_BINARY_WIDTH = 1.22  # a binary operator with its spacing, as estimate_width counts it
_OPEN_SIZES = ("", r"\bigl", r"\Bigl", r"\biggl", r"\Biggl")
_CLOSE_SIZES = ("", r"\bigr", r"\Bigr", r"\biggr", r"\Biggr")


class _Breaker:
    """Cuts an expression into pieces and break points (see :func:`aligned`)."""

    def __init__(self, printer: DerivationPrinter, atom_width: float) -> None:
        self.printer = printer
        self.atom_width = atom_width

    def items(self, expr: Expr, depth: int = 0) -> list[_Item]:
        tex = self.printer._print(expr)
        width = estimate_width(tex)
        if width <= self.atom_width or expr.is_Atom:
            return [_Piece(tex, width, bracket_height(tex))]
        if expr.is_Add:
            return self.sum(expr, depth)
        if expr.is_Mul:
            return self.product(expr, depth)
        if expr.is_Pow and expr.exp.is_Integer and expr.exp > 0:
            power = self.piece(f"^{{{self.printer._print(expr.exp)}}}", scale=SCRIPT)
            return [*self.bracketed(self.items(expr.base, depth + 1)), power]
        if isinstance(expr, Function) and not expr.is_Derivative:
            return self.function(expr, depth)
        return [_Piece(tex, width, bracket_height(tex))]

    def piece(self, tex: str, scale: float = 1.0) -> _Piece:
        return _Piece(tex, estimate_width(tex, scale), bracket_height(tex))

    def sum(self, expr: Add, depth: int) -> list[_Item]:
        printer = self.printer
        terms = list(printer._as_ordered_terms(expr, order=printer.order))
        if is_negative(terms[0]):
            positive = next((t for t in terms if not is_negative(t)), None)
            if positive is not None:
                terms.remove(positive)
                terms.insert(0, positive)
        items: list[_Item] = []
        for i, term in enumerate(terms):
            if i:
                items.append(_Break(depth))
            if is_negative(term):
                items.append(_Piece("- ", _BINARY_WIDTH) if i else self.piece("-"))
                term = negate(term)
            elif i:
                items.append(_Piece("+ ", _BINARY_WIDTH))
            term_items = self.items(term, depth + (1 if term.is_Add else 0))
            items += self.bracketed(term_items) if term.is_Add else term_items
        return items

    def product(self, expr: Mul, depth: int) -> list[_Item]:
        """Factors with break points between them; a long denominator becomes ``/ (...)``."""
        items: list[_Item] = []
        if is_negative(expr):
            items.append(self.piece("-"))
            expr = negate(expr)
            if not expr.is_Mul:
                return items + self.items(expr, depth)
        numerator, denominator = fraction(expr, exact=True)
        factors = list(numerator.args) if numerator.is_Mul else [numerator]
        long_denominator = False
        if denominator != 1:
            den_tex = self.printer._print(denominator)
            long_denominator = estimate_width(den_tex) > self.atom_width
            if not long_denominator:
                one = factors.pop(0) if factors and factors[0].is_Number else S.One
                items.append(self.piece(rf"\frac{{{self.printer._print(one)}}}{{{den_tex}}}"))
        numerator_items = self.factors(factors, depth, first=len(items) <= 1)
        if long_denominator and len(factors) > 1:
            numerator_items = self.bracketed(numerator_items)
        items += numerator_items
        if long_denominator:
            items += [_Break(depth, penalty=-2), self.piece("/ ")]
            items += self.bracketed(self.items(denominator, depth + 1))
        return items

    def factors(self, factors: list[Expr], depth: int, first: bool) -> list[_Item]:
        """Factors joined by the printer's multiplication sign, with break points between."""
        items: list[_Item] = []
        joiner = self.printer._settings["mul_symbol_latex"] or " "
        for factor in factors:
            if factor == 1 and len(factors) > 1:
                continue
            if not first and _span(items) > 3.0:  # keep a short coefficient with its factor
                items.append(_Break(depth, joiner=joiner, lead=r"{} \cdot ", penalty=2))
            elif not first:
                items.append(_Piece(joiner, estimate_width(joiner)))
            factor_items = self.items(factor, depth + 1)
            needs = self.printer._needs_mul_brackets(factor, first=first)
            items += self.bracketed(factor_items) if needs else factor_items
            first = False
        return items

    def function(self, expr: Function, depth: int) -> list[_Item]:
        name = self.printer.function_name(type(expr))
        inner: list[_Item] = []
        for i, arg in enumerate(expr.args):
            if i:
                inner += [self.piece(";"), _Break(depth + 1, lead="", penalty=1)]
            inner += self.items(arg, depth + 1)
        return [self.piece(name), *self.bracketed(inner)]

    def bracketed(self, items: list[_Item]) -> list[_Item]:
        """``items`` in brackets sized by the bracket levels inside them."""
        height = 1 + max((item.height for item in items if isinstance(item, _Piece)), default=0)
        level = min(height - 1, len(_OPEN_SIZES) - 1)
        opening = _Piece(_OPEN_SIZES[level] + "(", 0.4 + 0.05 * level, height)
        closing = _Piece(_CLOSE_SIZES[level] + ")", 0.4 + 0.05 * level, height)
        return [opening, *items, closing]


def _span(items: Sequence[_Item]) -> float:
    """The width of ``items`` since the last break point."""
    width = 0.0
    for item in reversed(items):
        if isinstance(item, _Break):
            break
        width += item.width
    return width


def _join(items: Sequence[_Item]) -> str:
    tex = ""
    for item in items:
        tex += item.tex if isinstance(item, _Piece) else item.joiner
    return tex


def break_lines(
    expr: Expr, first: float, rest: float, printer_: DerivationPrinter | None = None
) -> list[str]:
    """Print ``expr`` on as few lines as fit: ``first`` em on the first line, ``rest`` after.

    Continuation lines start with their operator (``{} + ...`` or ``{} \\cdot ...``). A piece
    wider than a whole line (a long fraction) is kept whole.

    Returns:
        The lines of LaTeX, the first without a lead.
    """
    chosen = printer_ or printer()
    tex = chosen.doprint(expr)
    if estimate_width(tex) <= first:
        return [tex]
    items = _Breaker(chosen, atom_width=min(first, rest) / 3).items(expr)
    return _best_lines(items, first, rest)


def _best_lines(items: list[_Item], first: float, rest: float) -> list[str]:
    """Choose break points by dynamic programming: few lines, shallow breaks, even fill."""
    breaks = [i for i, item in enumerate(items) if isinstance(item, _Break)]
    starts = [0, *[i + 1 for i in breaks]]
    ends = [*breaks, len(items)]
    count = len(starts)
    widths = [item.width if isinstance(item, _Piece) else 0.0 for item in items]
    prefix = [0.0]
    for i, item in enumerate(items):
        joiner = estimate_width(item.joiner) if isinstance(item, _Break) else widths[i]
        prefix.append(prefix[-1] + joiner)
    infinity = float("inf")
    best = [infinity] * (count + 1)
    choice = [0] * (count + 1)
    best[0] = 0.0
    for start in range(count):
        if best[start] == infinity:
            continue
        lead = 0.0 if start == 0 else estimate_width(_lead(items, starts[start]))
        available = first if start == 0 else rest
        for end in range(start, count):
            width = lead + prefix[ends[end]] - prefix[starts[start]]
            if width > available and end > start:
                break
            last = end == count - 1
            cost = 1000.0 + (0.0 if last else ((available - width) / available) ** 2 * 100)
            if width > available:
                cost += 100000.0
            if not last:
                cost += 60.0 * _break_depth(items, ends[end])
            if best[start] + cost < best[end + 1]:
                best[end + 1] = best[start] + cost
                choice[end + 1] = start
    lines: list[str] = []
    end = count
    while end > 0:
        start = choice[end]
        body = _join(items[starts[start] : ends[end - 1]])
        lines.append((_lead(items, starts[start]) if start else "") + body)
        end = start
    return lines[::-1]


def _lead(items: Sequence[_Item], start: int) -> str:
    previous = items[start - 1]
    return previous.lead if isinstance(previous, _Break) else ""


def _break_depth(items: Sequence[_Item], index: int) -> int:
    item = items[index]
    return item.depth + item.penalty if isinstance(item, _Break) else 0


# ----------------------------------------------------------------------------- aligned rows


@dataclass(frozen=True)
class Segment:
    """One relation of a row: ``= rhs``. ``rhs`` is an expression (broken when too long) or
    printed LaTeX (kept whole). ``numeric`` prints worked numbers (``\\cdot`` products, terms in
    the order built), ``ordered`` keeps the order of an unevaluated expression. ``newline``
    starts it on a row of its own; ``note`` is a short remark set at the right, e.g. ``(1)``.
    """

    relation: str
    rhs: Any
    numeric: bool = False
    ordered: bool = False
    newline: bool = False
    note: str = ""


@dataclass(frozen=True)
class Row:
    """``lhs`` followed by one or more segments, in an ``aligned`` block."""

    lhs: str
    segments: tuple[Segment, ...] = field(default_factory=tuple)


def aligned(rows: Iterable[Row], width: float = LINE_WIDTH) -> str:
    """An ``aligned`` environment for ``rows``, broken to fit ``width`` em.

    The relations line up. Segments share a line while they fit; a segment that does not fit
    starts a new line (``&= ...``), and an expression too long for a line of its own is broken
    across lines indented by a quad.

    Example:
        >>> from sympy import Symbol
        >>> print(aligned([Row("a", (Segment("=", Symbol("b")),))]))
        \\begin{aligned}
        a &= b
        \\end{aligned}
    """
    return aligned_environment([line for lines in aligned_lines(rows, width) for line in lines])


def aligned_lines(rows: Iterable[Row], width: float = LINE_WIDTH) -> list[list[str]]:
    """The lines of an ``aligned`` environment, grouped by row (see :func:`aligned`)."""
    rows = list(rows)
    lhs_width = max((estimate_width(row.lhs) for row in rows), default=0.0)
    notes = [s.note for row in rows for s in row.segments if s.note]
    note_width = max((estimate_width(rf"\text{{{n}}}") + 2.0 for n in notes), default=0.0)
    available = width - lhs_width - note_width
    return [_row_lines(row, available) for row in rows]


def aligned_environment(lines: Sequence[str]) -> str:
    """``\\begin{aligned}`` ... ``\\end{aligned}`` around lines made by :func:`aligned_lines`."""
    return "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"


def line_height(line: str) -> float:
    """A rough height of one display line, in text lines: fractions and matrices are taller."""
    rows = line.count("\\\\") + 1 if r"\begin{bmatrix}" in line or r"\begin{cases}" in line else 1
    return max(rows * 1.3, 2.2 if r"\frac" in line or r"\sum" in line else 1.2)


@dataclass(frozen=True)
class MatrixBlock:
    """Part of a matrix: 1-based inclusive ``rows`` and ``columns`` ranges, and its LaTeX."""

    rows: tuple[int, int]
    columns: tuple[int, int]
    latex: str


def _even_ranges(count: int, limit: int) -> list[tuple[int, int]]:
    """``range(count)`` in as few 0-based ``(start, stop)`` parts of at most ``limit`` as
    possible, of nearly equal size (20 rows by 16 are 10 + 10, not 16 + 4)."""
    parts = -(-count // limit)
    size = -(-count // parts)
    return [(start, min(start + size, count)) for start in range(0, count, size)]


def _column_ranges(matrix: Any, width: float) -> list[tuple[int, int]]:
    """0-based ``(start, stop)`` runs of whole columns, each at most ``width`` em wide and at
    most :data:`MATRIX_COLUMNS` columns."""
    columns = [
        max(estimate_width(latex(matrix[i, j])) for i in range(matrix.rows))
        for j in range(matrix.cols)
    ]
    ranges, start, used = [], 0, 1.4
    for j, column in enumerate(columns):
        if j > start and (used + column > width or j - start == MATRIX_COLUMNS):
            ranges.append((start, j))
            start, used = j, 1.4
        used += column + 1.0
    return [*ranges, (start, matrix.cols)]


def matrix_blocks(matrix: Any, width: float) -> list[MatrixBlock]:
    """A matrix as ``bmatrix`` blocks that fit the line and the page, row by row of blocks.

    Columns are split by ``width`` (em) and :data:`MATRIX_COLUMNS`, rows by
    :data:`MATRIX_ROWS`.
    """
    return [
        MatrixBlock((r0 + 1, r1), (c0 + 1, c1), latex(matrix[r0:r1, c0:c1]))
        for r0, r1 in _even_ranges(matrix.rows, MATRIX_ROWS)
        for c0, c1 in _column_ranges(matrix, width)
    ]


def _row_lines(row: Row, available: float) -> list[str]:
    symbolic, ordered = printer(), printer(order="none")
    numeric = printer(mul_symbol="dot", order="none")
    lines: list[str] = []
    current, used = f"{row.lhs} &" if row.lhs else "&", 0.0
    note = ""
    for segment in row.segments:
        chosen = numeric if segment.numeric else ordered if segment.ordered else symbolic
        relation = f"{segment.relation} "
        relation_width = estimate_width(f"{segment.relation} x") - estimate_width("x")
        rhs_tex = segment.rhs if isinstance(segment.rhs, str) else chosen.doprint(segment.rhs)
        width = relation_width + estimate_width(rhs_tex)
        fresh = used == 0.0
        if not fresh and (segment.newline or used + width > available):
            lines.append(current + _note(note))
            current, used, note = "&", 0.0, ""
            fresh = True
        if used + width <= available or isinstance(segment.rhs, str):
            current += ("" if fresh else " ") + relation + rhs_tex
            used += width
        else:
            budget = available - used - relation_width
            broken = break_lines(segment.rhs, budget, available - 1.0, chosen)
            current += ("" if fresh else " ") + relation + broken[0]
            for line in broken[1:]:
                lines.append(current + _note(note))
                current, note = rf"&\quad {line}", ""
            used = 1.0 + estimate_width(broken[-1]) if len(broken) > 1 else used + width
        note = note or segment.note
    lines.append(current + _note(note))
    return lines


def _note(note: str) -> str:
    return rf" && \text{{{latex_text(note)}}}" if note else ""
