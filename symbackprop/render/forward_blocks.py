"""The blocks of a derivation's first sections: notation, forward pass and loss."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sympy import (
    Add,
    Derivative,
    Dummy,
    Eq,
    Expr,
    Function,
    ImmutableMatrix,
    Lambda,
    MatMul,
    MatrixSymbol,
    Mul,
    Piecewise,
    S,
    Symbol,
    evaluate,
)
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.sets import MatrixSet

from .. import notation
from ..activations import KinkFunction
from ..exact import tidy
from ..formats import Omitted
from .block_parts import (
    Block,
    Equation,
    Heading,
    Paragraph,
    equation_chunks,
    inline_math,
    paragraph,
    span,
    whole,
)
from .common import exact_decimal, kink_note
from .latex_printer import DecimalNumber, latex, printer
from .layout import (
    LINE_WIDTH,
    MatrixBlock,
    Row,
    Segment,
    aligned,
    break_lines,
    matrix_blocks,
)
from .widths import estimate_width

if TYPE_CHECKING:
    from ..derivation import Derivation
    from ..network import Layer


def matrix_rows(
    lhs: str, relation: str, matrix: ImmutableMatrix, width: float = LINE_WIDTH - 8
) -> list[Row]:
    """``lhs = [matrix]`` as one row, or in blocks when the matrix is too wide or too tall:
    ``(lhs)_{:, 1...4} = [...]``, ``(lhs)_{1...16} = [...]`` for a column."""
    blocks = matrix_blocks(matrix, width)
    if len(blocks) == 1:
        return [Row(lhs, (Segment(relation, blocks[0].latex),))]
    split_rows = any(block.rows != (1, matrix.rows) for block in blocks)
    split_columns = any(block.columns != (1, matrix.cols) for block in blocks)

    def index(block: MatrixBlock) -> str:
        rows = span(block.rows) if split_rows else ":"
        columns = span(block.columns) if split_columns else ":"
        return rows if matrix.cols == 1 else rf"{rows},\,{columns}"

    return [
        Row(rf"\left({lhs}\right)_{{{index(block)}}}", (Segment(relation, block.latex),))
        for block in blocks
    ]


class ForwardWriter:
    """The sections up to the loss (notation, forward pass, loss) and the helpers they share."""

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
        return DecimalNumber(exact_decimal(value) or self.d.decimal(value))

    def value_segments(self, value: Expr) -> list[Segment]:
        """``= 0.3`` for an exact decimal; ``= exact`` and ``≈ decimal`` otherwise.

        An exact form too long to show on a line of its own is left out (and noted).
        """
        return self.form_segments(value, value)

    def form_segments(self, value: Expr, form: Expr | Omitted) -> list[Segment]:
        """:meth:`value_segments` with ``form`` shown as the exact form of ``value`` (one
        written in shared names, or :class:`Omitted`)."""
        exact = exact_decimal(value)
        if exact is not None:
            return [Segment("=", DecimalNumber(exact))]
        decimal = Segment(r"\approx", DecimalNumber(self.d.decimal(value)))
        if isinstance(form, Omitted) or isinstance(self.d.exact_form(form), Omitted):
            self.left_out = True
            return [decimal]
        if not self.fits(form):
            self.left_out = True
            return [decimal]
        return [Segment("=", form), decimal]

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
            paragraph(
                "Exact forms too long to show are left out above; the JSON output gives every one."
            )
        ]

    def shown_matrix(self, matrix: ImmutableMatrix) -> tuple[str, ImmutableMatrix]:
        """``("=" or "\\approx", the matrix of shown values)``."""
        exact = all(exact_decimal(v) is not None for v in matrix)
        shown = ImmutableMatrix(matrix.rows, matrix.cols, [self.shown(v) for v in matrix])
        return ("=" if exact else r"\approx", shown)

    def matrix_rows(
        self, lhs: str, relation: str, matrix: ImmutableMatrix, width: float = LINE_WIDTH - 8
    ) -> list[Row]:
        """:func:`matrix_rows`."""
        return matrix_rows(lhs, relation, matrix, width)

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
        out.append(paragraph(*parts))
        out.append(
            paragraph(
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
                paragraph(
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
            paragraph(
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
            rows.append(Row(latex(whole("z", l)), (Segment("=", self.affine(l)),)))
            output = layer is self.net.output
            a = Symbol("yhat") if output else whole("a", l)
            rows.append(Row(latex(a), (Segment("=", self.activation_of(layer, whole("z", l))),)))
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
            symbol = Symbol(stem) if index is None else whole(stem, index)
            shape = MatrixSet(rows, cols, reals)
            parts += [", " if n else "", inline_math(f"{latex(symbol)} \\in {latex(shape)}")]
        parts.append(".")
        return paragraph(*parts)

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
                paragraph(
                    inline_math(
                        self.printer.function_name(
                            type(layer.function.apply([z], layer.options)[0])
                        )
                    ),
                    " is not differentiable at 0, so its derivative there is a convention. "
                    "This derivation uses ",
                    inline_math(f"{latex(at_zero)} = {latex(derivative.at_kink(convention))}"),
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
            out.append(paragraph(f"Note: {note}."))
        return out

    # ------------------------------------------------------------------------- forward pass

    def forward(self) -> list[Block]:
        out: list[Block] = [Heading("Forward pass", 1)]
        out.append(
            paragraph(
                "Each unit adds up its weighted inputs and its bias, then applies the "
                "layer's activation function" + self.sample_text() + ":"
            )
        )
        for layer in self.net.layers:
            rows = [
                Row(latex(symbol), (Segment("=", definition),))
                for symbol, definition in self.layer_definitions(layer)
            ]
            out += equation_chunks(rows, f"forward/layer {layer.index + 1}")
        out.append(Heading("At the documented point", 2))
        out.append(paragraph("The input, the target and the parameters:"))
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
        out += equation_chunks(rows, "forward/point")
        digits = self.d.options.digits
        out.append(
            paragraph(
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
            out += equation_chunks(rows, f"forward/values {layer.index + 1}")
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
                paragraph(
                    f"The {self.loss_name()} loss of each sample, "
                    f"then their {self.spec.loss.reduction}:"
                )
            )
            for symbol, definition in zip(
                net.sample_losses, net.sample_loss_definitions, strict=True
            ):
                rows.append(self.loss_row(symbol, definition, point))
        else:
            out.append(paragraph(f"The {self.loss_name()} loss:"))
        rows.append(self.loss_row(loss, net.loss_definition, point))
        out += equation_chunks(rows, "loss")
        return out + self.left_out_note()

    def loss_row(self, symbol: Symbol, definition: Expr, point: dict[Symbol, Expr]) -> Row:
        value = tidy(self.d.values.symbols.get(symbol, definition.xreplace(self.d.values.symbols)))
        segments = [
            Segment("=", definition),
            Segment("=", self.numbers(definition, point), numeric=True, newline=True),
            *self.value_segments(value),
        ]
        return Row(latex(symbol), tuple(segments))
