"""The handout: a short document a lecturer would print, in every block format.

The picture, the notation, the forward pass as matrices, the loss, the output error step by
step, the backward pass as matrices, one worked gradient entry per layer, every gradient as a
matrix and the update if there is one. A rational with more than :data:`HANDOUT_DIGITS`
digits is shown as its decimal (its exact form stays in JSON and the full derivation).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sympy import Derivative, Expr, HadamardProduct, ImmutableMatrix, Rational, Transpose

from .. import notation
from ..formats import Omitted
from .backward_blocks import Writer
from .block_parts import Block, Equation, Heading, equation_chunks, matrix_symbol, paragraph, whole
from .common import exact_decimal
from .figure import Figure, figure
from .latex_printer import DecimalNumber, latex
from .layout import LINE_WIDTH, Row, Segment
from .widths import estimate_width
from .worked import worked_numbers

if TYPE_CHECKING:
    from ..derivation import Derivation

#: A rational with more digits than this (numerator and denominator together) is shown as
#: its decimal.
HANDOUT_DIGITS = 12
#: Significant digits of the handout's decimals (fewer if the derivation asks for fewer).
HANDOUT_DECIMALS = 6


def long_rational(value: Expr) -> bool:
    """Whether ``value`` holds a rational of more than :data:`HANDOUT_DIGITS` digits.

    >>> long_rational(Rational(1, 3)), long_rational(Rational(10**13 + 1, 7))
    (False, True)
    """
    atoms = value.atoms(Rational) if isinstance(value, Expr) else set()
    return any(len(str(abs(r.p))) + len(str(r.q)) - 1 > HANDOUT_DIGITS for r in atoms)


def handout_number(value: Expr, decimal: Callable[[Expr, int], str], digits: int) -> DecimalNumber:
    """``value`` as the handout shows it: its exact decimal when that is short, else
    ``decimal(value, n)`` with n the smaller of ``digits`` and :data:`HANDOUT_DECIMALS`.

    >>> from symbackprop.exact import decimal
    >>> str(handout_number(Rational(1, 4), decimal, 12)), str(handout_number(Rational(1, 3), decimal, 12))
    ('0.25', '0.333333')
    """
    exact = exact_decimal(value)
    if exact is not None and len(exact.lstrip("-0.").replace(".", "")) <= HANDOUT_DIGITS:
        return DecimalNumber(exact)
    return DecimalNumber(decimal(value, min(digits, HANDOUT_DECIMALS)))


class _HandoutWriter(Writer):
    """The derivation's writer, with long rationals shown as decimals."""

    def shown(self, value: Expr) -> DecimalNumber:
        return handout_number(value, self.d.decimal, self.d.options.digits)

    def value_segments(self, value: Expr) -> list[Segment]:
        """``= 0.3``; or ``= exact ≈ decimal``, the exact form only when short."""
        exact = exact_decimal(value)
        shown = self.shown(value)
        if exact is not None and str(shown) == exact:
            return [Segment("=", shown)]
        approx = Segment(r"\approx", shown)
        if long_rational(value) or isinstance(self.d.exact_form(value), Omitted):
            return [approx]
        if not self.fits(value):
            return [approx]
        return [Segment("=", value), approx]

    def shown_matrix(self, matrix: ImmutableMatrix) -> tuple[str, ImmutableMatrix]:
        _, shown = super().shown_matrix(matrix)
        exact = all(str(s) == exact_decimal(v) for s, v in zip(shown, matrix, strict=True))
        return ("=" if exact else r"\approx", shown)

    # -- the handout's own sections

    def forward_matrices(self) -> list[Block]:
        out: list[Block] = [Heading("Forward pass", 1)]
        out.append(paragraph("Layer by layer, as matrices at the documented point:"))
        for layer in self.net.layers:
            l = layer.index
            previous = self.spec.x if l == 0 else self.d.values.forward[f"a{l}"]
            output = layer is self.net.output
            z = whole("z", l)
            segments = [Segment("=", self.affine(l))]
            product = self.product_line(l, previous)
            if product is not None:
                segments.append(Segment("=", product))
            segments.append(self.matrix_segment(self.d.values.forward[f"z{l + 1}"]))
            rows = [Row(latex(z), tuple(segments))]
            a = r"\hat{y}" if output else latex(whole("a", l))
            value = self.d.values.forward["yhat" if output else f"a{l + 1}"]
            activation = Segment("=", self.activation_of(layer, z))
            rows.append(Row(a, (activation, self.matrix_segment(value))))
            out += equation_chunks(rows, f"handout/forward {l + 1}")
        return out

    def matrix_segment(self, matrix: ImmutableMatrix) -> Segment:
        """``= [values]`` or ``≈ [decimals]``."""
        relation, shown = self.shown_matrix(matrix)
        return Segment(relation, latex(shown))

    def product_line(self, l: int, previous: ImmutableMatrix) -> str | None:
        """``[W][a] + [b]`` with the shown values, or None when it is too wide."""
        parts = [latex(self.shown_matrix(self.spec.weights[l])[1])]
        parts.append(latex(self.shown_matrix(previous)[1]))
        text = " ".join(parts)
        if self.spec.biases is not None:
            text += " + " + latex(self.shown_matrix(self.spec.biases[l])[1])
        fits = estimate_width(text) <= LINE_WIDTH - 8 and self.spec.weights[l].rows <= 6
        return text if fits else None

    def backward_matrices(self) -> list[Block]:
        if self.depth == 1:
            return []
        out: list[Block] = [Heading("Backward pass", 1)]
        out.append(
            paragraph(
                "Each hidden layer's error from the next layer's, with ",
                ("math", r"\odot"),
                " the element-wise product:",
            )
        )
        for l in range(self.depth - 2, -1, -1):
            layer, after = self.net.layers[l], self.net.layers[l + 1]
            n, m = layer.size, self.spec.samples
            back = Transpose(matrix_symbol("W", l + 1, after.size, n)) * matrix_symbol(
                "delta", l + 1, after.size, m
            )
            derivative = self.derivative_of(layer, matrix_symbol("z", l, n, m))
            form = back if derivative is None else HadamardProduct(back, derivative)
            rows = [Row(latex(whole("delta", l)), (Segment("=", latex(form)),))]
            rows += self.value_rows("", self.d.values.deltas[l])
            out += equation_chunks(rows, f"handout/delta{l + 1}")
        return out

    def gradient_matrices(self) -> list[Block]:
        out: list[Block] = [Heading("Gradients", 1)]
        out.append(
            paragraph(
                "For each layer: the gradient in matrix form, one entry worked out, "
                "and every gradient as a matrix."
            )
        )
        numbers = worked_numbers(self)
        for layer in self.net.layers:
            l = layer.index
            out.append(Heading(f"Layer {l + 1}", 2))
            form = self.gradient_matrix_form(layer)[1]
            assert isinstance(form, Equation)
            out.append(form)
            key, params = self.parameter_pairs(layer)[0]
            out.append(paragraph("One entry, worked out:"))
            rows, _ = self.gradient_entry(key, params[0, 0], (0, 0), numbers)
            out += equation_chunks(rows, f"handout/dJ/d{key}[0,0]")
            rows = []
            for key, _ in self.parameter_pairs(layer):
                lhs = latex(Derivative(notation.LOSS, whole(key[0], l)))
                rows += self.value_rows(lhs, self.d.values.gradients[key])
            out.append(paragraph("As matrices:"))
            out += equation_chunks(rows, f"handout/gradients {l + 1}")
        return out


def handout_blocks(derivation: Derivation | Any) -> list[Block | Figure]:
    """The blocks of the handout of ``derivation``, an MLP's (a stack's:
    :func:`.stack_handout.stack_handout_blocks`)."""
    writer = _HandoutWriter(derivation, expanded=False)
    out: list[Block | Figure] = [figure(derivation)]
    out += writer.notation()
    out += writer.forward_matrices()
    out += writer.loss()
    out += writer.output_error()
    out += writer.backward_matrices()
    out += writer.gradient_matrices()
    if getattr(derivation, "updated", None) is not None:
        out += writer.updated()
    return out
