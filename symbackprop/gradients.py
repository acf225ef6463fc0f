"""The loss -> closed-form gradients, by SymPy differentiation and the chain rule.

Reverse mode over the network's one-level definitions: every local partial derivative is
``sympy.diff`` of a definition (the loss, a softmax output, an activation, z = W a + b), and
partials are combined by the chain rule. Nothing here knows a textbook delta formula; the
matrix form delta^(l) = (W^(l+1))^T delta^(l+1) * f'(z^(l)) is built separately and *proved*
equal to the element-wise result.
"""

from __future__ import annotations

import operator
from collections import defaultdict
from dataclasses import dataclass
from functools import cache, reduce

from sympy import (
    Add,
    Derivative,
    Eq,
    Expr,
    Function,
    ImmutableMatrix,
    Mul,
    S,
    Symbol,
    cancel,
    count_ops,
    diff,
    expand,
    factor,
    hadamard_product,
)

from . import notation
from .network import Layer, SymbolicNetwork


@dataclass(frozen=True)
class Step:
    """One recorded step of a derivation: ``lhs = rhs``, because ``reason``."""

    reason: str
    lhs: Expr
    rhs: Expr


@dataclass(frozen=True)
class OutputError:
    """The derivation of dJ/dz^(L)_k for one output unit k and sample s."""

    unit: int
    sample: int
    steps: tuple[Step, ...]
    assumption: Eq | None


@dataclass(frozen=True)
class Gradients:
    """All gradients, compact, in terms of named intermediates and delta symbols.

    ``deltas[l]`` holds the symbols delta^(l)_{i,s} = dJ/dz^(l)_{i,s}; ``delta_definitions[l]`` their
    one-level definitions (in delta^(l+1) and named intermediates). ``weights[l]`` and
    ``biases[l]`` hold dJ/dW^(l) and dJ/db^(l) in terms of the deltas.
    """

    deltas: tuple[ImmutableMatrix, ...]
    delta_definitions: tuple[ImmutableMatrix, ...]
    output_errors: tuple[OutputError, ...]
    local_derivatives: tuple[ImmutableMatrix, ...]
    weights: tuple[ImmutableMatrix, ...]
    biases: tuple[ImmutableMatrix, ...] | None
    matrix_form_verified: bool

    def delta_substitutions(self) -> dict[Symbol, Expr]:
        """Each delta symbol mapped to its closed form in named intermediates only."""
        closed: dict[Symbol, Expr] = {}
        for symbols, definitions in zip(
            reversed(self.deltas), reversed(self.delta_definitions), strict=True
        ):
            for symbol, definition in zip(symbols, definitions, strict=True):
                closed[symbol] = definition.xreplace(closed)
        return closed

    def compact(self) -> dict[str, ImmutableMatrix]:
        """``{"W1": dJ/dW^(1), "b1": ...}`` in named intermediates (deltas substituted)."""
        closed = self.delta_substitutions()
        return {key: matrix.xreplace(closed) for key, matrix in self.by_key().items()}

    def by_key(self) -> dict[str, ImmutableMatrix]:
        """``{"W1": ..., "b1": ..., "W2": ...}`` in terms of delta symbols, in layer order."""
        result: dict[str, ImmutableMatrix] = {}
        for l, weights in enumerate(self.weights):
            result[notation.parameter_key("W", l)] = weights
            if self.biases is not None:
                result[notation.parameter_key("b", l)] = self.biases[l]
        return result


@cache
def partials(expr: Expr) -> dict[Symbol, Expr]:
    """d expr / d v for every free symbol v, differentiating term by term (diff is linear).

    One pass over the terms of ``expr`` instead of one ``diff`` of the whole sum per symbol, which
    matters for z = W a + b with hundreds of terms.

    >>> from sympy import symbols
    >>> w, a, b = symbols("w a b")
    >>> partials(w * a + b) == {w: a, a: w, b: 1}
    True
    """
    result: defaultdict[Symbol, list[Expr]] = defaultdict(list)
    for term in Add.make_args(expr):
        for symbol in term.free_symbols:
            result[symbol].append(_term_derivative(term, symbol))
    return {symbol: Add(*terms) for symbol, terms in result.items()}


@cache
def _term_derivative(term: Expr, symbol: Symbol) -> Expr:
    """``diff(term, symbol)``, with the two shapes that dominate a layer graph done directly.

    A product of a number and distinct symbols (``w * h``) loses its factor ``symbol``; a
    function of ``symbol`` itself (``tanh(a)``) is its ``fdiff``, which is what ``diff`` takes
    by the chain rule times d symbol/d symbol = 1. Everything else goes to ``diff``.
    """
    if term == symbol:
        return S.One
    if (
        isinstance(term, Mul)
        and term.args.count(symbol) == 1
        and all(a.is_Symbol or a.is_Number for a in term.args)
    ):
        rest = list(term.args)
        rest.remove(symbol)
        return Mul(*rest)
    if isinstance(term, Mul):
        having = [a for a in term.args if symbol in a.free_symbols]
        if len(having) == 1:  # the product rule's one term, as Mul's derivative builds it
            factors = [_term_derivative(a, symbol) if a is having[0] else a for a in term.args]
            return reduce(operator.mul, factors, S.One)
    if isinstance(term, Add):
        return Add(*(_term_derivative(a, symbol) for a in term.args if symbol in a.free_symbols))
    if (
        isinstance(term, Function)
        and term.args == (symbol,)
        and type(term)._eval_derivative is Function._eval_derivative
    ):
        return term.fdiff(1)
    return diff(term, symbol)


def gradients_of(net: SymbolicNetwork) -> Gradients:
    """Differentiate the loss of ``net`` with respect to every weight and bias.

    Returns:
        The compact gradients with every derivation step recorded.
    """
    layers = net.layers
    deltas = [
        ImmutableMatrix(
            layer.size, net.spec.samples, lambda i, s, l=layer.index: _delta_symbol(net, l, i, s)
        )
        for layer in layers
    ]
    locals_ = [_local_derivatives(layer) for layer in layers[:-1]]
    outputs = _output_errors(net)
    n = net.output.size
    definitions: list[ImmutableMatrix] = [ImmutableMatrix(0, 0, [])] * len(layers)
    definitions[-1] = ImmutableMatrix(
        n, net.spec.samples, lambda k, s: outputs[s * n + k].steps[-1].rhs
    )
    for l in range(len(layers) - 2, -1, -1):
        definitions[l] = _hidden_delta(layers[l + 1], deltas[l + 1], layers[l], locals_[l])
    weights, biases = _parameter_gradients(net, deltas)
    verified = _verify_matrix_form(net, deltas, definitions, locals_, weights, biases)
    return Gradients(
        tuple(deltas), tuple(definitions), outputs, tuple(locals_), weights, biases, verified
    )


def _delta_symbol(net: SymbolicNetwork, l: int, i: int, s: int) -> Symbol:
    return notation.delta(l, i, s if net.spec.batched else None, net.wide)


def _local_derivatives(layer: Layer) -> ImmutableMatrix:
    """da_i/dz_i for an element-wise (hidden) layer, in terms of its outputs where textbooks do."""
    entries = [
        [
            _in_outputs(layer, diff(layer.a_definition[i, s], layer.pre_activation[i, s]), s)
            for s in range(layer.pre_activation.cols)
        ]
        for i in range(layer.size)
    ]
    return ImmutableMatrix(entries)


def _in_outputs(layer: Layer, expr: Expr, s: int) -> Expr:
    return layer.function.in_outputs(
        expr, list(layer.pre_activation[:, s]), list(layer.activation[:, s]), layer.options
    )


def _output_errors(net: SymbolicNetwork) -> tuple[OutputError, ...]:
    """Derive dJ/dz^(L)_{k,s} for every output unit and sample, recording each step."""
    m = net.spec.samples
    return tuple(_output_error(net, k, s) for s in range(m) for k in range(net.output.size))


def _output_error(net: SymbolicNetwork, k: int, s: int) -> OutputError:
    out = net.output
    z, yhat, y = out.pre_activation[k, s], list(out.activation[:, s]), list(net.y[:, s])
    sample_loss = net.sample_losses[s] if net.sample_losses else notation.LOSS
    loss_def = net.sample_loss_definitions[s] if net.sample_losses else net.loss_definition
    outer = [diff(loss_def, p) for p in yhat]
    inner = [_in_outputs(out, diff(out.a_definition[j, s], z), s) for j in range(out.size)]
    lhs = Derivative(sample_loss, z)
    terms = [
        Mul(d_loss, d_out, evaluate=False)
        for d_loss, d_out in zip(outer, inner, strict=True)
        if d_out != 0 and d_loss != 0
    ]
    chain = Add(*terms, evaluate=False) if len(terms) > 1 else (terms[0] if terms else Add())
    steps = [Step("chain rule through the output activation", lhs, chain)]
    # Re-evaluate the held products. Iterate over ``terms``, not Add.make_args(chain): with no
    # terms (a one-unit softmax is constant) chain is 0, and Mul(*0.args) would be Mul() = 1.
    simplified = _simplest(cancel(Add(*[Mul(*t.args) for t in terms])))
    steps.append(Step("expand and cancel", lhs, simplified))
    assumption = None
    if net.loss_entry.assumption is not None:
        applied = net.loss_entry.assumption(simplified, yhat[k], y)
        if applied is not None:
            simplified, assumption = _simplest(applied[0]), applied[1]
            steps.append(Step("one-hot target", lhs, simplified))
    if net.sample_losses:
        scale = diff(net.loss_definition, sample_loss)
        steps.append(Step("batch reduction", Derivative(notation.LOSS, z), scale * simplified))
    return OutputError(k, s, tuple(steps), assumption)


def _simplest(expr: Expr) -> Expr:
    """The shorter of ``expr`` and its factored form."""
    factored = factor(expr)
    return factored if count_ops(factored) < count_ops(expr) else expr


def _hidden_delta(
    after: Layer, after_deltas: ImmutableMatrix, layer: Layer, local: ImmutableMatrix
) -> ImmutableMatrix:
    """delta^(l)_{i,s} = (sum_k delta^(l+1)_{k,s} dz^(l+1)_{k,s}/da^(l)_{i,s}) da^(l)_{i,s}/dz^(l)_{i,s}."""
    m = layer.pre_activation.cols
    consumers = [[partials(after.z_definition[k, s]) for s in range(m)] for k in range(after.size)]

    def entry(i: int, s: int) -> Expr:
        a = layer.activation[i, s]
        back = Add(*[after_deltas[k, s] * consumers[k][s].get(a, 0) for k in range(after.size)])
        return back * local[i, s]

    return ImmutableMatrix(layer.size, m, entry)


def _parameter_gradients(
    net: SymbolicNetwork, deltas: list[ImmutableMatrix]
) -> tuple[tuple[ImmutableMatrix, ...], tuple[ImmutableMatrix, ...] | None]:
    """dJ/dW_ij = sum_s delta_{i,s} dz_{i,s}/dW_ij + dJ/dW_ij|direct (the l2 term); same for b."""
    direct = partials(net.loss_definition)
    weights, biases = [], []
    for layer, delta in zip(net.layers, deltas, strict=True):
        local = [
            [partials(layer.z_definition[i, s]) for s in range(delta.cols)]
            for i in range(layer.size)
        ]

        def grad(
            symbol: Symbol, i: int, local: list = local, delta: ImmutableMatrix = delta
        ) -> Expr:
            chain = Add(*[delta[i, s] * local[i][s].get(symbol, 0) for s in range(delta.cols)])
            return chain + direct.get(symbol, 0)

        weights.append(
            ImmutableMatrix(
                layer.weights.rows,
                layer.weights.cols,
                lambda i, j, lw=layer.weights: grad(lw[i, j], i),
            )
        )
        if layer.biases is not None:
            biases.append(
                ImmutableMatrix(layer.size, 1, lambda i, _, lb=layer.biases: grad(lb[i], i))
            )
    return tuple(weights), (tuple(biases) if net.layers[0].biases is not None else None)


def matrix_form(
    net: SymbolicNetwork, deltas: list[ImmutableMatrix], locals_: list[ImmutableMatrix]
) -> dict[str, ImmutableMatrix]:
    """The textbook matrix form, built from matrices: the claim that ``gradients_of`` checks.

    delta^(l) = (W^(l+1))^T delta^(l+1) (*) f'(z^(l)),  dJ/dW^(l) = delta^(l) (a^(l-1))^T + 2 l2 W^(l),
    dJ/db^(l) = delta^(l) 1.
    """
    forms: dict[str, ImmutableMatrix] = {}
    for l, layer in enumerate(net.layers):
        if l + 1 < len(net.layers):
            back = net.layers[l + 1].weights.T * deltas[l + 1]
            forms[f"delta{l + 1}"] = ImmutableMatrix(hadamard_product(back, locals_[l]).doit())
        forms[notation.parameter_key("W", l)] = ImmutableMatrix(
            deltas[l] * net.previous_activation(l).T + 2 * net.spec.l2 * layer.weights
        )
        if layer.biases is not None:
            forms[notation.parameter_key("b", l)] = ImmutableMatrix(
                deltas[l] * ImmutableMatrix.ones(deltas[l].cols, 1)
            )
    return forms


def _verify_matrix_form(
    net: SymbolicNetwork,
    deltas: list[ImmutableMatrix],
    definitions: list[ImmutableMatrix],
    locals_: list[ImmutableMatrix],
    weights: tuple[ImmutableMatrix, ...],
    biases: tuple[ImmutableMatrix, ...] | None,
) -> bool:
    """Prove the matrix form equal to the element-wise derivatives, layer by layer (induction)."""
    forms = matrix_form(net, deltas, locals_)
    element_wise: dict[str, ImmutableMatrix] = {}
    for l in range(len(net.layers)):
        if l + 1 < len(net.layers):
            element_wise[f"delta{l + 1}"] = definitions[l]
        element_wise[notation.parameter_key("W", l)] = weights[l]
        if biases is not None:
            element_wise[notation.parameter_key("b", l)] = biases[l]
    return all(expand(v) == 0 for key in forms for v in (forms[key] - element_wise[key]))
