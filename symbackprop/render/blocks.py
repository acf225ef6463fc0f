"""The content of a derivation as format-neutral blocks: headings, paragraphs and equations.

Every document format (LaTeX, Markdown, HTML, MathML) and the Sphinx extension is made from
:func:`blocks`, so the content is the same everywhere. Formulas are printed by SymPy through
:class:`~symbackprop.render.latex_printer.DerivationPrinter`; display equations are ``aligned``
environments broken to the page width by :func:`~symbackprop.render.layout.aligned`.

>>> from symbackprop import derive
>>> content = blocks(derive("seed"), sections=("loss",))
>>> [type(block).__name__ for block in content]
['Heading', 'Paragraph', 'Equation']
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sympy import (
    Add,
    Derivative,
    Dummy,
    Eq,
    Expr,
    Function,
    HadamardProduct,
    ImmutableMatrix,
    Lambda,
    MatMul,
    MatrixSymbol,
    Mul,
    OneMatrix,
    Piecewise,
    S,
    Sum,
    Symbol,
    Transpose,
    cancel,
    evaluate,
    preorder_traversal,
)
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.sets import MatrixSet

from .. import notation
from ..activations import KinkFunction
from ..exact import tidy
from ..formats import Omitted
from ..gradients import matrix_form, partials
from .common import exact_decimal as _exact_decimal
from .common import kink_note
from .latex_printer import DecimalNumber, latex, printer
from .layout import (
    LINE_WIDTH,
    MATRIX_ROWS,
    MatrixBlock,
    Row,
    Segment,
    aligned,
    aligned_environment,
    aligned_lines,
    break_lines,
    line_height,
    matrix_blocks,
)
from .sections import SECTIONS, UPDATED, resolve
from .widths import estimate_width
from .worked import worked_numbers

if TYPE_CHECKING:
    from ..derivation import Derivation
    from ..network import Layer

__all__ = [
    "SECTIONS",
    "UPDATED",
    "Block",
    "Equation",
    "Heading",
    "Paragraph",
    "blocks",
    "resolve",
    "title",
]

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


def title(derivation: Derivation) -> str:
    """A plain-text title: ``Backpropagation, step by step: seed (2-3-2)``."""
    spec = derivation.spec
    name = spec.name.removesuffix(".toml")
    return f"Backpropagation, step by step: {name} ({'-'.join(map(str, spec.layers))})"


def blocks(
    derivation: Derivation, *, sections: Sequence[str] = SECTIONS, expanded: bool = True
) -> list[Block]:
    """The content of ``derivation``, section by section.

    Args:
        derivation: The derivation to show.
        sections: Which sections, from :data:`SECTIONS` (and :data:`UPDATED`); they always
            appear in document order. The one-step update appears when the derivation has one
            and either all of :data:`SECTIONS` or :data:`UPDATED` are asked for.
        expanded: Show the expanded forms of the gradients (where they are small enough).

    Returns:
        Headings, paragraphs and equations.

    Raises:
        SymbackpropError: An unknown section name.
    """
    chosen = resolve(sections)
    writer = _Writer(derivation, expanded)
    builders = {
        "notation": writer.notation,
        "forward": writer.forward,
        "loss": writer.loss,
        "output-error": writer.output_error,
        "backward": writer.backward,
        "gradients": writer.gradients,
    }
    result: list[Block] = []
    for name in SECTIONS:
        if name in chosen:
            result += builders[name]()
    wants_update = UPDATED in chosen or set(SECTIONS) <= set(chosen)
    if wants_update and getattr(derivation, "updated", None) is not None:
        result += writer.updated()
    return result


# ----------------------------------------------------------------------------- helpers


def _text(*parts: str | Expr | tuple[str, str]) -> Paragraph:
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


def _math(tex: str) -> tuple[str, str]:
    return ("math", tex)


def _whole(stem: str, layer: int) -> Symbol:
    """The symbol of a whole layer vector or matrix: ``_whole("W", 0)`` is W^(1)."""
    return Symbol(f"{stem}^({layer + 1})")


def _matrix(stem: str, layer: int | None, rows: int, cols: int) -> MatrixSymbol:
    name = stem if layer is None else f"{stem}^({layer + 1})"
    return MatrixSymbol(name, rows, cols)


def _span(numbers: tuple[int, int]) -> str:
    """``3\\ldots 7``, or ``3`` for a single index."""
    first, last = numbers
    return str(first) if first == last else rf"{first}\ldots {last}"


def _equation_chunks(rows: Sequence[Row], label: str) -> list[Equation]:
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


class _Writer:
    """Builds the blocks of each section of one derivation."""

    def __init__(self, derivation: Derivation, expanded: bool) -> None:
        self.d = derivation
        self.net = derivation.network
        self.spec = derivation.spec
        self.show_expanded = expanded
        self.printer = printer()
        self.ordered = printer(order="none")
        self.batched = self.spec.batched
        self.depth = len(self.net.layers)
        self.left_out = False  # an exact form was too long to show

    # -- numbers

    def shown(self, value: Expr) -> DecimalNumber:
        """A value as it is shown inside formulas: exact if a short decimal, else to N digits."""
        return DecimalNumber(_exact_decimal(value) or self.d.decimal(value))

    def value_segments(self, value: Expr) -> list[Segment]:
        """``= 0.3`` for an exact decimal; ``= exact`` and ``≈ decimal`` otherwise.

        An exact form too long to show on a line of its own is left out (and noted).
        """
        exact = _exact_decimal(value)
        if exact is not None:
            return [Segment("=", DecimalNumber(exact))]
        decimal = Segment(r"\approx", DecimalNumber(self.d.decimal(value)))
        if isinstance(self.d.exact_form(value), Omitted) or not self.fits(value):
            self.left_out = True
            return [decimal]
        return [Segment("=", value), decimal]

    def fits(self, expr: Expr, width: float = LINE_WIDTH - 8) -> bool:
        """Whether ``expr`` can be shown within ``width`` em, on at most three lines."""
        if estimate_width(latex(expr)) <= width:
            return True
        lines = break_lines(expr, width, width)
        return len(lines) <= 3 and all(estimate_width(line) <= width for line in lines)

    def left_out_note(self) -> list[Block]:
        """The note after a section where a long exact form was left out."""
        if not self.left_out:
            return []
        self.left_out = False
        return [
            _text(
                "Exact forms too long to show are left out above; the JSON output gives every one."
            )
        ]

    def shown_matrix(self, matrix: ImmutableMatrix) -> tuple[str, ImmutableMatrix]:
        """``("=" or "\\approx", the matrix of shown values)``."""
        exact = all(_exact_decimal(v) is not None for v in matrix)
        shown = ImmutableMatrix(matrix.rows, matrix.cols, [self.shown(v) for v in matrix])
        return ("=" if exact else r"\approx", shown)

    def matrix_rows(
        self, lhs: str, relation: str, matrix: ImmutableMatrix, width: float = LINE_WIDTH - 8
    ) -> list[Row]:
        """``lhs = [matrix]`` as one row, or in blocks when the matrix is too wide or too tall:
        ``(lhs)_{:, 1...4} = [...]``, ``(lhs)_{1...16} = [...]`` for a column."""
        blocks = matrix_blocks(matrix, width)
        if len(blocks) == 1:
            return [Row(lhs, (Segment(relation, blocks[0].latex),))]
        split_rows = any(block.rows != (1, matrix.rows) for block in blocks)
        split_columns = any(block.columns != (1, matrix.cols) for block in blocks)

        def index(block: MatrixBlock) -> str:
            rows = _span(block.rows) if split_rows else ":"
            columns = _span(block.columns) if split_columns else ":"
            return rows if matrix.cols == 1 else rf"{rows},\,{columns}"

        return [
            Row(rf"\left({lhs}\right)_{{{index(block)}}}", (Segment(relation, block.latex),))
            for block in blocks
        ]

    def value_rows(self, lhs: str, matrix: ImmutableMatrix) -> list[Row]:
        """``lhs = [values]`` or ``lhs ≈ [decimals]``, in column blocks when too wide."""
        relation, shown = self.shown_matrix(matrix)
        return self.matrix_rows(lhs, relation, shown)

    def numbers(self, expr: Expr, values: dict[Symbol, Expr], *, keep_order: bool = False) -> Expr:
        """``expr`` with ``values`` substituted, unevaluated, terms and factors in printed order.

        With ``keep_order``, the arguments stay in the order they have (for expressions built
        unevaluated, such as :meth:`errors_first`).
        """
        if expr in values:
            return values[expr]
        if not expr.args or isinstance(expr, DecimalNumber):
            return expr
        if keep_order:
            args = list(expr.args)
        elif expr.is_Add:
            args = list(self.printer._as_ordered_terms(expr, order=None))
        else:
            args = list(expr.args)
        with evaluate(False):
            return expr.func(*[self.numbers(arg, values, keep_order=keep_order) for arg in args])

    def errors_first(self, expr: Expr) -> Expr:
        """An unevaluated copy of ``expr`` with the error factor first in each product:
        ``delta^(2)_1 a^(1)_2`` as in ``delta (a)^T``, where SymPy would sort ``a`` first."""
        deltas = set().union(*[set(matrix) for matrix in self.d.gradients.deltas])
        if expr.is_Add:
            terms = [self.errors_first(term) for term in self.printer._as_ordered_terms(expr)]
            return Add(*terms, evaluate=False) if len(terms) > 1 else terms[0]
        if expr.is_Mul:
            factors = list(expr.args)
            factors.sort(key=lambda factor: factor not in deltas)
            return Mul(*factors, evaluate=False)
        return expr

    def point(self) -> dict[Symbol, Expr]:
        """Every symbol's value at the documented point, as shown in formulas."""
        return {symbol: self.shown(value) for symbol, value in self.d.values.symbols.items()}

    # -- names

    def entry_lhs(self, key: str, symbol: Symbol) -> str:
        return latex(Derivative(notation.LOSS, symbol))

    def activation_of(self, layer: Layer, argument: Expr) -> Expr:
        """The layer's activation applied to a whole vector ``argument`` (a symbol)."""
        if layer.function.output_only:
            return Function(layer.function.name)(argument)
        return layer.function.apply([argument], layer.options)[0]

    def derivative_of(self, layer: Layer, argument: MatrixSymbol) -> Any:
        """f'(z^(l)) as an entry-wise function of the vector, or None for the identity."""
        t = Dummy("t")
        body = layer.function.apply([t], layer.options)[0]
        if body == t:
            return None
        return ElementwiseApplyFunction(Lambda(t, Derivative(body, t)), argument)

    def loss_name(self) -> str:
        """``cross-entropy``, ``binary cross-entropy``, ``squared error``."""
        return self.spec.loss.name.replace("_", " ").replace("cross entropy", "cross-entropy")

    def samples(self) -> range:
        return range(self.spec.samples)

    def sample_text(self) -> str:
        return " (for each sample s)" if self.batched else ""

    # ------------------------------------------------------------------------- notation

    def notation(self) -> list[Block]:
        spec, net = self.spec, self.net
        out: list[Block] = [Heading("Notation", 1)]
        parts: list[Any] = [
            f"A {'-'.join(map(str, spec.layers))} network: ",
            Eq(Symbol("n_0"), spec.layers[0]),
            " inputs, ",
        ]
        for layer in net.layers[:-1]:
            parts += [
                "a hidden layer of ",
                Eq(Symbol(f"n_{layer.index + 1}"), layer.size),
                " units with activation ",
                self.activation_of(layer, Symbol("z")),
                ", ",
            ]
        parts += [
            "and ",
            Eq(Symbol(f"n_{self.depth}"), net.output.size),
            " outputs with ",
            self.activation_of(net.output, Symbol("z")),
            f". The loss is the {self.loss_name()}",
            f" ({spec.loss.reduction} over the {spec.samples} samples of the batch)."
            if self.batched
            else ".",
        ]
        out.append(_text(*parts))
        out.append(
            _text(
                "Layer by layer, with ",
                Eq(Symbol("a^(0)"), Symbol("x"), evaluate=False),
                " and ",
                Symbol("yhat"),
                " the output:",
            )
        )
        out.append(Equation(aligned(self.vector_definitions()), "notation/forward"))
        out.append(self.shapes())
        if self.batched:
            out.append(
                _text(
                    f"The batch has m = {spec.samples} samples: sample s is column s of ",
                    Symbol("x"),
                    ", ",
                    Symbol("y"),
                    ", ",
                    Symbol("z^(l)"),
                    " and ",
                    Symbol("a^(l)"),
                    ", and its entries carry s as a second index, as in ",
                    Symbol("z^(1)_i,s"),
                    ".",
                )
            )
        out.append(
            _text(
                "The error of layer ",
                Symbol("l"),
                " is ",
                Eq(Symbol("delta^(l)_i"), Derivative(notation.LOSS, Symbol("z^(l)_i"))),
                ": how the loss changes with the pre-activation of unit ",
                Symbol("i"),
                ".",
            )
        )
        out += self.kink_convention()
        return out

    def vector_definitions(self) -> list[Row]:
        rows = []
        for layer in self.net.layers:
            l = layer.index
            rows.append(Row(latex(_whole("z", l)), (Segment("=", self.affine(l)),)))
            output = layer is self.net.output
            a = Symbol("yhat") if output else _whole("a", l)
            rows.append(Row(latex(a), (Segment("=", self.activation_of(layer, _whole("z", l))),)))
        return rows

    def affine(self, layer: int | None, rows: int = 2, cols: int = 2) -> str:
        """``W^{(l)} a^{(l-1)} + b^{(l)}`` for 0-based ``layer``, or generically for ``None``."""
        if layer is None:
            names = ("W^(l+1)", "a^(l)", "b^(l+1)")
        else:
            previous = "x" if layer == 0 else f"a^({layer})"
            names = (f"W^({layer + 1})", previous, f"b^({layer + 1})")
        weights, inputs, biases = (
            MatrixSymbol(names[0], rows, cols),
            MatrixSymbol(names[1], cols, 1),
            MatrixSymbol(names[2], rows, 1),
        )
        product = MatMul(weights, inputs)
        return latex(product + biases if self.spec.biases is not None else product)

    def shapes(self) -> Paragraph:
        parts: list[Any] = ["Shapes: "]
        reals = S.Reals
        items: list[tuple[str, int | None, int, int]] = [
            ("x", None, self.spec.layers[0], self.spec.samples)
        ]
        for layer in self.net.layers:
            items.append(("W", layer.index, layer.size, self.spec.layers[layer.index]))
            if layer.biases is not None:
                items.append(("b", layer.index, layer.size, 1))
        items.append(("y", None, self.spec.layers[-1], self.spec.samples))
        for n, (stem, index, rows, cols) in enumerate(items):
            symbol = Symbol(stem) if index is None else _whole(stem, index)
            shape = MatrixSet(rows, cols, reals)
            parts += [", " if n else "", _math(f"{latex(symbol)} \\in {latex(shape)}")]
        parts.append(".")
        return _text(*parts)

    def kink_convention(self) -> list[Block]:
        out: list[Block] = []
        z = Symbol("z")
        seen: set[str] = set()
        for layer in self.net.layers[:-1]:
            if not layer.function.has_kink or layer.function.name in seen:
                continue
            seen.add(layer.function.name)
            derivative = Derivative(layer.function.apply([z], layer.options)[0], z).doit()
            if not isinstance(derivative, KinkFunction):
                continue
            convention = self.d.options.relu_prime_at_zero
            with evaluate(False):
                pieces = derivative.elementary(convention)
            cases = Piecewise(
                *[(value.doit(), cond) for value, cond in pieces.args], evaluate=False
            )
            at_zero = derivative.func(S.Zero, *derivative.args[1:])
            out.append(
                _text(
                    _math(
                        self.printer.function_name(
                            type(layer.function.apply([z], layer.options)[0])
                        )
                    ),
                    " is not differentiable at 0, so its derivative there is a convention. "
                    "This derivation uses ",
                    _math(f"{latex(at_zero)} = {latex(derivative.at_kink(convention))}"),
                    ", one of the usual choices 0, 1/2 and 1:",
                )
            )
            out.append(
                Equation(
                    aligned([Row(latex(derivative), (Segment("=", latex(cases)),))]),
                    f"notation/{layer.function.name}-derivative",
                )
            )
        note = kink_note(self.d, option=False)
        if note:
            out.append(_text(f"Note: {note}."))
        return out

    # ------------------------------------------------------------------------- forward pass

    def forward(self) -> list[Block]:
        out: list[Block] = [Heading("Forward pass", 1)]
        out.append(
            _text(
                "Each unit adds up its weighted inputs and its bias, then applies the "
                "layer's activation function" + self.sample_text() + ":"
            )
        )
        for layer in self.net.layers:
            rows = [
                Row(latex(symbol), (Segment("=", definition),))
                for symbol, definition in self.layer_definitions(layer)
            ]
            out += _equation_chunks(rows, f"forward/layer {layer.index + 1}")
        out.append(Heading("At the documented point", 2))
        out.append(_text("The input, the target and the parameters:"))
        given = self.given()
        rows = []
        for n in range(0, len(given), 2):
            pair = [(latex(Symbol(stem)), *self.shown_matrix(m)) for stem, m in given[n : n + 2]]
            texts = [f"{lhs} {relation} {latex(shown)}" for lhs, relation, shown in pair]
            if len(pair) == 2 and estimate_width(r",\qquad ".join(texts)) <= LINE_WIDTH - 2:
                lhs, relation, shown = pair[0]
                rhs = f"{latex(shown)}, \\qquad {texts[1]}"
                rows.append(Row(lhs, (Segment(relation, rhs),)))
            else:
                for lhs, relation, shown in pair:
                    rows += self.matrix_rows(lhs, relation, shown)
        out += _equation_chunks(rows, "forward/point")
        digits = self.d.options.digits
        out.append(
            _text(
                "Substituting layer by layer gives every quantity exactly and, where it is not "
                f"a short decimal, to {digits} significant digits:"
            )
        )
        point = self.point()
        for layer in self.net.layers:
            rows = []
            for symbol, definition in self.layer_definitions(layer):
                value = self.d.values.symbols[symbol]
                segments = [Segment("=", self.numbers(definition, point), numeric=True)]
                rows.append(Row(latex(symbol), (*segments, *self.value_segments(value))))
            out += _equation_chunks(rows, f"forward/values {layer.index + 1}")
        return out + self.left_out_note()

    def layer_definitions(self, layer: Layer) -> Iterator[tuple[Symbol, Expr]]:
        """(z, its definition) for every unit, then (a, its definition)."""
        yield from zip(layer.pre_activation, layer.z_definition, strict=True)
        yield from zip(layer.activation, layer.a_definition, strict=True)

    def given(self) -> list[tuple[str, ImmutableMatrix]]:
        spec = self.spec
        pairs = [("x", spec.x), ("y", spec.y)]
        for l, weights in enumerate(spec.weights):
            pairs.append((f"W^({l + 1})", weights))
            if spec.biases is not None:
                pairs.append((f"b^({l + 1})", spec.biases[l]))
        return pairs

    # ------------------------------------------------------------------------- loss

    def loss(self) -> list[Block]:
        net, loss = self.net, notation.LOSS
        out: list[Block] = [Heading("Loss", 1)]
        point = self.point()
        rows = []
        if net.sample_losses:
            out.append(
                _text(
                    f"The {self.loss_name()} loss of each sample, "
                    f"then their {self.spec.loss.reduction}:"
                )
            )
            for symbol, definition in zip(
                net.sample_losses, net.sample_loss_definitions, strict=True
            ):
                rows.append(self.loss_row(symbol, definition, point))
        else:
            out.append(_text(f"The {self.loss_name()} loss:"))
        rows.append(self.loss_row(loss, net.loss_definition, point))
        out += _equation_chunks(rows, "loss")
        return out + self.left_out_note()

    def loss_row(self, symbol: Symbol, definition: Expr, point: dict[Symbol, Expr]) -> Row:
        value = tidy(self.d.values.symbols.get(symbol, definition.xreplace(self.d.values.symbols)))
        segments = [
            Segment("=", definition),
            Segment("=", self.numbers(definition, point), numeric=True, newline=True),
            *self.value_segments(value),
        ]
        return Row(latex(symbol), tuple(segments))

    # ------------------------------------------------------------------------- output error

    def output_error(self) -> list[Block]:
        net = self.net
        out: list[Block] = [Heading("Output error", 1)]
        last = self.depth - 1
        first = self.d.gradients.output_errors[0]
        out.append(
            _text(
                "The error at the output, ",
                Symbol(f"delta^({self.depth})_k"),
                " = ",
                Derivative(notation.LOSS, Symbol(f"z^({self.depth})_k")),
                ", comes from differentiating the loss through the output activation. "
                "For the first output unit"
                + (" and the first sample" if self.batched else "")
                + ", step by step:",
            )
        )
        reasons: list[Any] = []
        for n, step in enumerate(first.steps, start=1):
            reasons += ["; " if n > 1 else "", f"({n}) {step.reason}"]
            if step.reason.startswith("one-hot") and first.assumption is not None:
                total = Sum(Symbol("y_k"), (Symbol("k"), 1, net.output.size))
                reasons += [
                    ": the target has a single 1, so ",
                    _math(f"{latex(total)} = 1"),
                    ", here ",
                    first.assumption,
                ]
        out.append(_text(*reasons, "."))
        out += _equation_chunks(self.output_steps(first), "output-error/unit 1")
        # all units
        definitions = self.d.gradients.delta_definitions[last]
        delta = latex(_whole("delta", last))
        rows = []
        symbolic = latex(definitions)
        if estimate_width(symbolic) <= LINE_WIDTH - 8:
            segments = [Segment("=", symbolic)]
            shortcut = self.vector_shortcut(definitions)
            if shortcut is not None:
                segments.append(Segment("=", shortcut))
            rows.append(Row(delta, tuple(segments)))
        point = self.point()
        numbers = ImmutableMatrix(
            definitions.rows, definitions.cols, [self.numbers(e, point) for e in definitions]
        )
        numbers_tex = printer(mul_symbol="dot", order="none").doprint(numbers)
        if estimate_width(numbers_tex) <= LINE_WIDTH - 8:
            rows.append(Row("" if rows else delta, (Segment("=", numbers_tex),)))
        value_rows = self.value_rows(delta, self.d.values.deltas[last])
        if rows and len(value_rows) == 1:
            value_rows = [Row("", value_rows[0].segments)]
        rows += value_rows
        out.append(
            _text(
                "The same steps for every output unit"
                + (" and sample" if self.batched else "")
                + " give the output error, and its value at the documented point:"
            )
        )
        out += _equation_chunks(rows, "output-error/vector")
        return out

    def output_steps(self, error: Any) -> list[Row]:
        rows: list[Row] = []
        lhs = None
        for n, step in enumerate(error.steps, start=1):
            segments = []
            if n == 1:
                segments.append(Segment("=", self.chain_rule(error, step.lhs.expr)))
            segments.append(Segment("=", step.rhs, newline=True, note=f"({n})"))
            if step.lhs != lhs:
                rows.append(Row(latex(step.lhs), tuple(segments)))
                lhs = step.lhs
            else:
                rows.append(Row("", tuple(segments)))
        return rows

    def chain_rule(self, error: Any, loss: Symbol) -> str:
        """sum_j dJ/dyhat_j dyhat_j/dz_k, or one term for an element-wise output activation."""
        out = self.net.output
        s, k = error.sample, error.unit
        z = out.pre_activation[k, s]
        through = [j for j in range(out.size) if z in partials(out.a_definition[j, s])]
        if through == [k]:
            yhat = out.activation[k, s]
            terms = [Derivative(loss, yhat), Derivative(yhat, z)]
            return " ".join(self.ordered._print(t) for t in terms)
        j = Symbol("j")
        yhat_j = Symbol("yhat_j" if not self.batched else f"yhat_j,{s + 1}")
        with evaluate(False):
            body = Derivative(loss, yhat_j) * Derivative(yhat_j, z)
        return self.ordered.doprint(Sum(body, (j, 1, out.size)))

    def vector_shortcut(self, definitions: ImmutableMatrix) -> str | None:
        """``\\hat{y} - y`` (or ``\\frac{1}{m} (\\hat{y} - y)``) when every entry has that form."""
        out = self.net.output
        errors = [
            out.activation[k, s] - self.net.y[k, s]
            for k in range(out.size)
            for s in self.samples()
        ]
        ratios = {
            cancel(d / e) if e != 0 else None for d, e in zip(definitions, errors, strict=True)
        }
        if len(ratios) != 1:
            return None
        (ratio,) = ratios
        if ratio is None or not ratio.is_Rational:
            return None
        yhat, y = Symbol("yhat"), Symbol("y")
        with evaluate(False):
            vector = (yhat - y) if ratio == 1 else ratio * (yhat - y)
        return self.ordered.doprint(vector)

    # ------------------------------------------------------------------------- backward

    def backward(self) -> list[Block]:
        out: list[Block] = [Heading("Backward recursion", 1)]
        if self.depth == 1:
            out.append(_text("The network has no hidden layer: the output error is the only one."))
            return out
        out.append(
            _text(
                "Each hidden layer's error comes from the next layer's by the chain rule, "
                "through ",
                _math(f"{latex(Symbol('z^(l+1)'))} = {self.affine(None)}"),
                " and ",
                _math(f"{latex(Symbol('a^(l)'))} = {latex(Function('f')(Symbol('z^(l)')))}"),
                ", from the last hidden layer back to the first.",
            )
        )
        for l in range(self.depth - 2, -1, -1):
            out += self.backward_layer(l)
        return out

    def backward_layer(self, l: int) -> list[Block]:
        grads = self.d.gradients
        layer, after = self.net.layers[l], self.net.layers[l + 1]
        out: list[Block] = [Heading(f"Layer {l + 1}", 2)]
        symbols, definitions = grads.deltas[l], grads.delta_definitions[l]
        rows = []
        for n, (symbol, definition) in enumerate(zip(symbols, definitions, strict=True)):
            segments = [Segment("=", definition)]
            if n == 0:
                segments.insert(0, Segment("=", self.hidden_chain(l)))
                segments[1] = Segment("=", definition, newline=True)
            rows.append(Row(latex(symbol), tuple(segments)))
        out += _equation_chunks(rows, f"backward/delta{l + 1}")
        # matrix form
        n, m = layer.size, self.spec.samples
        weights = _matrix("W", l + 1, after.size, n)
        delta_next = _matrix("delta", l + 1, after.size, m)
        back = Transpose(weights) * delta_next
        derivative = self.derivative_of(layer, _matrix("z", l, n, m))
        form = back if derivative is None else HadamardProduct(back, derivative)
        entries = matrix_form(self.net, list(grads.deltas), list(grads.local_derivatives))
        segments = [Segment("=", latex(form))]
        entry_matrix = latex(entries[f"delta{l + 1}"])
        # shown when it fits the line and the page; the element-wise rows above hold it anyway
        if n <= MATRIX_ROWS and estimate_width(entry_matrix) <= LINE_WIDTH - 8:
            segments.append(Segment("=", entry_matrix, newline=True))
        out.append(_text("In matrix form, with ", _math(r"\odot"), " the element-wise product:"))
        out += _equation_chunks(
            [Row(latex(_whole("delta", l)), tuple(segments))], f"backward/delta{l + 1} matrix form"
        )
        out.append(self.agreement(f"δ^({l + 1})"))
        out.append(_text("At the documented point:"))
        point = self.point()
        rows = []
        for symbol, definition in zip(symbols, definitions, strict=True):
            value = self.d.values.symbols[symbol]
            rows.append(
                Row(
                    latex(symbol),
                    (
                        Segment("=", self.numbers(definition, point), numeric=True),
                        *self.value_segments(value),
                    ),
                )
            )
        out += _equation_chunks(rows, f"backward/delta{l + 1} values")
        return out + self.left_out_note()

    def hidden_chain(self, l: int) -> str:
        """delta^(l)_1 = sum_k delta^(l+1)_k dz^(l+1)_k/da^(l)_1 da^(l)_1/dz^(l)_1 (first unit).

        With a single unit after layer l, the one term without the sum.
        """
        layer, after = self.net.layers[l], self.net.layers[l + 1]
        sample = "" if not self.batched else ",1"
        k = "k" if after.size > 1 else "1"
        a, z = layer.activation[0, 0], layer.pre_activation[0, 0]
        z_next = Symbol(f"z^({l + 2})_{k}{sample}")
        with evaluate(False):
            body = (
                Symbol(f"delta^({l + 2})_{k}{sample}") * Derivative(z_next, a) * Derivative(a, z)
            )
        if after.size == 1:
            return self.ordered.doprint(body)
        return self.ordered.doprint(Sum(body, (Symbol(k), 1, after.size)))

    def agreement(self, what: str) -> Paragraph:
        verified = self.d.gradients.matrix_form_verified
        if verified:
            return _text(
                "Entry by entry, the matrix form is the element-wise result above: SymPy "
                "verified symbolically that the two agree (every entry of their difference "
                "expands to 0)."
            )
        return _text(
            "Warning: SymPy could not verify that the matrix form agrees with the element-wise "
            "derivatives. This is a bug; please report it."
        )

    # ------------------------------------------------------------------------- gradients

    def gradients(self) -> list[Block]:
        out: list[Block] = [Heading("Gradients", 1)]
        digits = self.d.options.digits
        out.append(
            _text(
                "For every weight and bias: the closed form in the errors, then in the named "
                "quantities of the forward pass"
                + (EXPANDED_TEXT if self.show_expanded else "")
                + f"; then the documented values substituted, exactly and to {digits} "
                "significant digits."
            )
        )
        by_key = self.d.gradients.by_key()
        numbers = worked_numbers(self)
        for layer in self.net.layers:
            l = layer.index
            out.append(Heading(f"Layer {l + 1}", 2))
            out += self.gradient_matrix_form(layer)
            skipped: list[tuple[str, Symbol, str]] = []
            for key, params in self.parameter_pairs(layer):
                matrix = by_key[key]
                for i in range(matrix.rows):
                    for j in range(matrix.cols):
                        index = (i, j) if matrix.cols > 1 else (i,)
                        label = f"dJ/d{notation.entry_name(key, index)}"
                        rows, reason = self.gradient_entry(key, params[i, j], (i, j), numbers)
                        out += _equation_chunks(rows, label)
                        if reason:
                            skipped.append((key, params[i, j], reason))
            out += self.skipped_expansions(skipped)
            rows = []
            for key, _ in self.parameter_pairs(layer):
                lhs = latex(Derivative(notation.LOSS, _whole(key[0], l)))
                rows += self.value_rows(lhs, self.d.values.gradients[key])
            out.append(_text("As matrices:"))
            out += _equation_chunks(rows, f"gradients/layer {l + 1} matrices")
        return out + self.left_out_note()

    def gradient_entry(
        self, key: str, symbol: Symbol, at: tuple[int, int], numbers: dict[Symbol, Expr]
    ) -> tuple[list[Row], str]:
        """The rows for one gradient entry, and why its expanded form is missing (or "").

        The rows: the closed form in the errors and in named quantities; the expanded form;
        the documented values substituted, the exact value and the decimal.
        """
        i, j = at
        in_errors = self.errors_first(self.d.gradients.by_key()[key][i, j])
        compact = self.d.compact[key][i, j]
        symbolic = [Segment("=", in_errors, ordered=True)]
        if compact != self.d.gradients.by_key()[key][i, j]:
            symbolic.append(Segment("=", compact))
        rows = [Row(latex(Derivative(notation.LOSS, symbol)), tuple(symbolic))]
        reason = ""
        if self.show_expanded:
            shown = self.expanded_segment(key, i, j)
            if isinstance(shown, Segment):
                rows.append(Row("", (shown,)))
            else:
                reason = shown
        worked = self.numbers(in_errors, numbers, keep_order=True)
        values = self.value_segments(self.d.values.gradients[key][i, j])
        if not isinstance(worked, DecimalNumber):
            values.insert(0, Segment("=", worked, numeric=True))
        rows.append(Row("", tuple(values)))
        return rows, reason

    def parameter_pairs(self, layer: Layer) -> list[tuple[str, ImmutableMatrix]]:
        pairs = [(notation.parameter_key("W", layer.index), layer.weights)]
        if layer.biases is not None:
            pairs.append((notation.parameter_key("b", layer.index), layer.biases))
        return pairs

    def gradient_matrix_form(self, layer: Layer) -> list[Block]:
        l, m = layer.index, self.spec.samples
        n, n_prev = layer.size, self.spec.layers[l]
        delta = _matrix("delta", l, n, m)
        previous = _matrix("x", None, n_prev, m) if l == 0 else _matrix("a", l - 1, n_prev, m)
        weights_form = delta * Transpose(previous)
        if self.spec.l2:
            weights_form = weights_form + 2 * self.spec.l2 * _matrix("W", l, n, n_prev)
        rows = [
            Row(
                latex(Derivative(notation.LOSS, _whole("W", l))),
                (Segment("=", latex(weights_form)),),
            )
        ]
        if layer.biases is not None:
            bias_form = delta * OneMatrix(m, 1) if self.batched else delta
            lhs = latex(Derivative(notation.LOSS, _whole("b", l)))
            rows.append(Row(lhs, (Segment("=", latex(bias_form)),)))
        verified = (
            " (SymPy verified symbolically that it agrees with every entry below)"
            if self.d.gradients.matrix_form_verified
            else ""
        )
        text = _text(
            "In matrix form"
            + (", where the ones vector sums over the samples" if self.batched else "")
            + verified
            + ", then entry by entry:"
        )
        return [text, Equation(aligned(rows), f"gradients/layer {l + 1} matrix form")]

    def expanded_segment(self, key: str, i: int, j: int) -> Segment | str:
        """The expanded form as a segment, or why it is not shown."""
        entry = self.d.expanded[key][i][j]
        if isinstance(entry, Omitted):
            return (
                f"they were not built, being larger than the limit of {entry.limit} "
                "expression nodes"
            )
        available = LINE_WIDTH - 8
        nodes = preorder_traversal(entry)
        too_big = any(n > EXPANDED_LINES * 30 for n, _ in enumerate(nodes))  # ~17 per line
        if too_big or len(break_lines(entry, available, available)) > EXPANDED_LINES:
            return (
                f"each would take more than {EXPANDED_LINES} lines (the JSON output includes them)"
            )
        return Segment("=", entry, newline=True)

    def skipped_expansions(self, skipped: list[tuple[str, Symbol, str]]) -> list[Block]:
        """One paragraph per reason, naming the entries whose expanded form is not shown
        (a whole matrix when none of its entries is shown)."""
        groups: dict[str, list[tuple[str, Symbol]]] = {}
        for key, symbol, reason in skipped:
            groups.setdefault(reason, []).append((key, symbol))
        out: list[Block] = []
        for reason, entries in groups.items():
            parts: list[Any] = ["The expanded forms of "]
            keys = list(dict.fromkeys(key for key, _ in entries))
            for n, key in enumerate(keys):
                symbols = [symbol for k, symbol in entries if k == key]
                parts.append("" if n == 0 else " and " if n == len(keys) - 1 else ", ")
                if len(symbols) == len(self.d.gradients.by_key()[key]) and len(symbols) > 1:
                    parts += [
                        "the entries of ",
                        Derivative(notation.LOSS, _whole(key[0], int(key[1:]) - 1)),
                    ]
                else:
                    for m, symbol in enumerate(symbols):
                        parts += [", " if m else "", Derivative(notation.LOSS, symbol)]
            parts.append(f" are not shown: {reason}.")
            out.append(_text(*parts))
        return out

    # ------------------------------------------------------------------------- update

    def updated(self) -> list[Block]:
        updated: dict[str, ImmutableMatrix] = getattr(self.d, "updated", None) or {}
        training = getattr(self.spec, "training", None)
        rate = getattr(training, "learning_rate", None)
        eta = Symbol("eta")
        out: list[Block] = [Heading("One gradient-descent step", 1)]
        parts: list[Any] = ["Each parameter moves against its gradient"]
        if rate is not None:
            parts += [", with learning rate ", _math(f"{latex(eta)} = {latex(self.shown(rate))}")]
        if training is not None and not getattr(training, "update_biases", True):
            parts.append("; the biases are left as they are")
        parts.append(":")
        out.append(_text(*parts))
        current = dict(self.given())
        point = self.point()
        if rate is not None:
            point[eta] = self.shown(rate)
        for key, matrix in updated.items():
            stem, layer = key[0], int(key[1:]) - 1
            old = current[f"{stem}^({layer + 1})"]
            if matrix == old:
                continue
            params = dict(self.parameter_pairs(self.net.layers[layer]))[key]
            gradient = self.d.values.gradients[key]
            rows = []
            for n, symbol in enumerate(params):
                i, j = divmod(n, matrix.cols)
                with evaluate(False):
                    step = symbol - eta * Derivative(notation.LOSS, symbol)
                values = {
                    **point,
                    symbol: self.shown(old[i, j]),
                    Derivative(notation.LOSS, symbol): self.shown(gradient[i, j]),
                }
                segments = [
                    Segment("=", self.numbers(step, values, keep_order=True), numeric=True),
                    *self.value_segments(tidy(matrix[i, j])),
                ]
                rows.append(Row(self.ordered.doprint(step), tuple(segments)))
            whole = _whole(stem, layer)
            with evaluate(False):
                step = whole - eta * Derivative(notation.LOSS, whole)
            rows += self.value_rows(self.ordered.doprint(step), matrix.applyfunc(tidy))
            out += _equation_chunks(rows, f"updated/{key}")
        return out + self.left_out_note()
