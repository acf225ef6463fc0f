"""The blocks of a derivation's later sections: output error, backward pass, gradients, update."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sympy import (
    Derivative,
    Expr,
    Function,
    HadamardProduct,
    ImmutableMatrix,
    OneMatrix,
    Sum,
    Symbol,
    Transpose,
    cancel,
    evaluate,
    preorder_traversal,
)

from .. import notation
from ..exact import tidy
from ..formats import Omitted
from ..gradients import matrix_form, partials
from .block_parts import (
    EXPANDED_LINES,
    EXPANDED_TEXT,
    Block,
    Equation,
    Heading,
    Paragraph,
    equation_chunks,
    inline_math,
    matrix_symbol,
    paragraph,
    whole,
)
from .forward_blocks import ForwardWriter
from .latex_printer import DecimalNumber, latex, printer
from .layout import (
    LINE_WIDTH,
    MATRIX_ROWS,
    Row,
    Segment,
    aligned,
    break_lines,
)
from .widths import estimate_width
from .worked import worked_numbers

if TYPE_CHECKING:
    from ..network import Layer


class Writer(ForwardWriter):
    """Builds the blocks of each section of one derivation."""

    # ------------------------------------------------------------------------- output error

    def output_error(self) -> list[Block]:
        net = self.net
        out: list[Block] = [Heading("Output error", 1)]
        last = self.depth - 1
        first = self.d.gradients.output_errors[0]
        out.append(
            paragraph(
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
                    inline_math(f"{latex(total)} = 1"),
                    ", here ",
                    first.assumption,
                ]
        out.append(paragraph(*reasons, "."))
        out += equation_chunks(self.output_steps(first), "output-error/unit 1")
        # all units
        definitions = self.d.gradients.delta_definitions[last]
        delta = latex(whole("delta", last))
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
            paragraph(
                "The same steps for every output unit"
                + (" and sample" if self.batched else "")
                + " give the output error, and its value at the documented point:"
            )
        )
        out += equation_chunks(rows, "output-error/vector")
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
            out.append(
                paragraph("The network has no hidden layer: the output error is the only one.")
            )
            return out
        out.append(
            paragraph(
                "Each hidden layer's error comes from the next layer's by the chain rule, "
                "through ",
                inline_math(f"{latex(Symbol('z^(l+1)'))} = {self.affine(None)}"),
                " and ",
                inline_math(f"{latex(Symbol('a^(l)'))} = {latex(Function('f')(Symbol('z^(l)')))}"),
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
        out += equation_chunks(rows, f"backward/delta{l + 1}")
        # matrix form
        n, m = layer.size, self.spec.samples
        weights = matrix_symbol("W", l + 1, after.size, n)
        delta_next = matrix_symbol("delta", l + 1, after.size, m)
        back = Transpose(weights) * delta_next
        derivative = self.derivative_of(layer, matrix_symbol("z", l, n, m))
        form = back if derivative is None else HadamardProduct(back, derivative)
        entries = matrix_form(self.net, list(grads.deltas), list(grads.local_derivatives))
        segments = [Segment("=", latex(form))]
        entry_matrix = latex(entries[f"delta{l + 1}"])
        # shown when it fits the line and the page; the element-wise rows above hold it anyway
        if n <= MATRIX_ROWS and estimate_width(entry_matrix) <= LINE_WIDTH - 8:
            segments.append(Segment("=", entry_matrix, newline=True))
        out.append(
            paragraph("In matrix form, with ", inline_math(r"\odot"), " the element-wise product:")
        )
        out += equation_chunks(
            [Row(latex(whole("delta", l)), tuple(segments))], f"backward/delta{l + 1} matrix form"
        )
        out.append(self.agreement(f"δ^({l + 1})"))
        out.append(paragraph("At the documented point:"))
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
        out += equation_chunks(rows, f"backward/delta{l + 1} values")
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
            return paragraph(
                "Entry by entry, the matrix form is the element-wise result above: SymPy "
                "verified symbolically that the two agree (every entry of their difference "
                "expands to 0)."
            )
        return paragraph(
            "Warning: SymPy could not verify that the matrix form agrees with the element-wise "
            "derivatives. This is a bug; please report it."
        )

    # ------------------------------------------------------------------------- gradients

    def gradients(self) -> list[Block]:
        out: list[Block] = [Heading("Gradients", 1)]
        digits = self.d.options.digits
        out.append(
            paragraph(
                "For every weight and bias: the closed form in the errors, then in the named "
                "quantities of the forward pass"
                + (EXPANDED_TEXT if self.show_expanded else "")
                + f"; then the documented values substituted, exactly and to {digits} "
                "significant digits."
            )
        )
        by_key = self.d.gradients.by_key()
        numbers = worked_numbers(self)
        out += self.shared_values()
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
                        rows, reason = self.gradient_entry(
                            key, params[i, j], (i, j), numbers, named=True
                        )
                        out += equation_chunks(rows, label)
                        if reason:
                            skipped.append((key, params[i, j], reason))
            out += self.skipped_expansions(skipped)
            rows = []
            for key, _ in self.parameter_pairs(layer):
                lhs = latex(Derivative(notation.LOSS, whole(key[0], l)))
                rows += self.value_rows(lhs, self.d.values.gradients[key])
            out.append(paragraph("As matrices:"))
            out += equation_chunks(rows, f"gradients/layer {l + 1} matrices")
        return out + self.left_out_note()

    def gradient_entry(
        self,
        key: str,
        symbol: Symbol,
        at: tuple[int, int],
        numbers: dict[Symbol, Expr],
        named: bool = False,
    ) -> tuple[list[Row], str]:
        """The rows for one gradient entry, and why its expanded form is missing (or "").

        The rows: the closed form in the errors and in named quantities; the expanded form;
        the documented values substituted, the exact value (``named``: in the names of the
        shared values) and the decimal.
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
        value = self.d.values.gradients[key][i, j]
        if named:
            values = self.form_segments(value, self.d.shared_form(value))
        else:
            values = self.value_segments(value)
        if not isinstance(worked, DecimalNumber):
            values.insert(0, Segment("=", worked, numeric=True))
        rows.append(Row("", tuple(values)))
        return rows, reason

    def shared_values(self) -> list[Block]:
        """The values that many exact gradients share, each defined once (none for the seed)."""
        definitions = self.d.shared.definitions
        if not definitions:
            return []
        rows = [
            Row(latex(shared.symbol), tuple(self.form_segments(shared.value, shared.definition)))
            for shared in definitions
        ]
        lead = paragraph(
            "The exact values below share these values at the documented point, each named once:"
        )
        return [lead, *equation_chunks(rows, "gradients/shared values"), *self.left_out_note()]

    def parameter_pairs(self, layer: Layer) -> list[tuple[str, ImmutableMatrix]]:
        pairs = [(notation.parameter_key("W", layer.index), layer.weights)]
        if layer.biases is not None:
            pairs.append((notation.parameter_key("b", layer.index), layer.biases))
        return pairs

    def gradient_matrix_form(self, layer: Layer) -> list[Block]:
        l, m = layer.index, self.spec.samples
        n, n_prev = layer.size, self.spec.layers[l]
        delta = matrix_symbol("delta", l, n, m)
        previous = (
            matrix_symbol("x", None, n_prev, m) if l == 0 else matrix_symbol("a", l - 1, n_prev, m)
        )
        weights_form = delta * Transpose(previous)
        if self.spec.l2:
            weights_form = weights_form + 2 * self.spec.l2 * matrix_symbol("W", l, n, n_prev)
        rows = [
            Row(
                latex(Derivative(notation.LOSS, whole("W", l))),
                (Segment("=", latex(weights_form)),),
            )
        ]
        if layer.biases is not None:
            bias_form = delta * OneMatrix(m, 1) if self.batched else delta
            lhs = latex(Derivative(notation.LOSS, whole("b", l)))
            rows.append(Row(lhs, (Segment("=", latex(bias_form)),)))
        verified = (
            " (SymPy verified symbolically that it agrees with every entry below)"
            if self.d.gradients.matrix_form_verified
            else ""
        )
        text = paragraph(
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
                        Derivative(notation.LOSS, whole(key[0], int(key[1:]) - 1)),
                    ]
                else:
                    for m, symbol in enumerate(symbols):
                        parts += [", " if m else "", Derivative(notation.LOSS, symbol)]
            parts.append(f" are not shown: {reason}.")
            out.append(paragraph(*parts))
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
            parts += [
                ", with learning rate ",
                inline_math(f"{latex(eta)} = {latex(self.shown(rate))}"),
            ]
        if training is not None and not getattr(training, "update_biases", True):
            parts.append("; the biases are left as they are")
        parts.append(":")
        out.append(paragraph(*parts))
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
            parameter = whole(stem, layer)
            with evaluate(False):
                step = parameter - eta * Derivative(notation.LOSS, parameter)
            rows += self.value_rows(self.ordered.doprint(step), matrix.applyfunc(tidy))
            out += equation_chunks(rows, f"updated/{key}")
        return out + self.left_out_note()
