"""The loss -> closed-form gradients, by SymPy differentiation and the chain rule.

Reverse accumulation (:func:`symbackprop.chain.reverse`, the engine every stack uses) over the
network's one-level definitions: every local partial derivative is ``sympy.diff`` of a
definition (the loss, a softmax output, an activation, z = W a + b), and the chain rule
combines them. Here its adjoints dJ/dz^(l) are named delta^(l) and the output error's
simplification is recorded step by step. Nothing here knows a textbook delta formula; the
matrix form delta^(l) = (W^(l+1))^T delta^(l+1) * f'(z^(l)) is built separately and *proved*
equal to the element-wise result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from sympy import (
    Add,
    Derivative,
    Eq,
    Expr,
    ImmutableMatrix,
    Integer,
    Mul,
    Symbol,
    cancel,
    count_ops,
    expand,
    factor,
    hadamard_product,
)
from sympy.core.parameters import evaluate as evaluating

from . import notation
from .chain import Adjoints, partials, reverse
from .network import Layer, SymbolicNetwork

#: ``partials`` lives in :mod:`symbackprop.chain`; importable from here as before.
__all__ = ["Gradients", "OutputError", "Step", "gradients_of", "matrix_form", "partials"]


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


def gradients_of(net: SymbolicNetwork) -> Gradients:
    """Differentiate the loss of ``net`` with respect to every weight and bias.

    The chain rule (:func:`symbackprop.chain.reverse`) runs over the network's one-level
    definitions; its adjoints dJ/dz^(l) are renamed delta^(l) and dJ/da^(l) is folded into
    the delta it feeds, so each delta is defined in the next layer's.

    Returns:
        The compact gradients with every derivation step recorded.
    """
    layers = net.layers
    adjoints = chain_rule(net)
    deltas = [
        ImmutableMatrix(
            layer.size, net.spec.samples, lambda i, s, l=layer.index: _delta_symbol(net, l, i, s)
        )
        for layer in layers
    ]
    rename: dict[Symbol, Expr] = {adjoints.symbols[notation.LOSS]: Integer(1)}
    for layer, delta in zip(layers, deltas, strict=True):
        pairs = zip(layer.pre_activation, delta, strict=True)
        rename.update({adjoints.symbols[z]: symbol for z, symbol in pairs})
    locals_ = [_local_derivatives(adjoints, layer) for layer in layers[:-1]]
    outputs = _output_errors(net, adjoints)
    n = net.output.size
    definitions = [_hidden_delta(adjoints, layer, rename) for layer in layers[:-1]]
    definitions.append(
        ImmutableMatrix(n, net.spec.samples, lambda k, s: outputs[s * n + k].steps[-1].rhs)
    )
    weights, biases = _parameter_gradients(net, adjoints, rename)
    verified = _verify_matrix_form(net, deltas, definitions, locals_, weights, biases)
    return Gradients(
        tuple(deltas), tuple(definitions), outputs, tuple(locals_), weights, biases, verified
    )


def chain_rule(net: SymbolicNetwork) -> Adjoints:
    """The chain rule's adjoints over the network's one-level definitions."""
    params = [p for _, matrix in net.parameters() for p in matrix]
    return reverse(net.definitions(), notation.LOSS, params, _rewrites(net))


def _rewrites(net: SymbolicNetwork) -> dict[Symbol, Callable[[Expr], Expr]]:
    """For every activation symbol a, write its local derivatives in the outputs where
    textbooks do (sigma'(z) as a (1 - a), softmax's through yhat)."""
    rewrites: dict[Symbol, Callable[[Expr], Expr]] = {}
    for layer in net.layers:
        for s in range(layer.pre_activation.cols):
            zs, outs = list(layer.pre_activation[:, s]), list(layer.activation[:, s])
            rewrite = partial(_in_outputs, layer, zs, outs)
            rewrites.update(dict.fromkeys(outs, rewrite))
    return rewrites


def _in_outputs(layer: Layer, zs: list[Symbol], outs: list[Symbol], expr: Expr) -> Expr:
    return layer.function.in_outputs(expr, zs, outs, layer.options)


def _delta_symbol(net: SymbolicNetwork, l: int, i: int, s: int) -> Symbol:
    return notation.delta(l, i, s if net.spec.batched else None, net.wide)


def _local_derivatives(adjoints: Adjoints, layer: Layer) -> ImmutableMatrix:
    """da_i/dz_i of an element-wise (hidden) layer, as the chain rule's local derivatives."""
    z, a = layer.pre_activation, layer.activation
    return ImmutableMatrix(z.rows, z.cols, lambda i, s: adjoints.local(a[i, s], z[i, s]))


def _output_errors(net: SymbolicNetwork, adjoints: Adjoints) -> tuple[OutputError, ...]:
    """Derive dJ/dz^(L)_{k,s} for every output unit and sample, recording each step.

    Every sample's derivation is the first sample's with that sample's symbols: it is derived
    for samples 1 and 2, and when renaming the first one's symbols gives the second's exactly
    (the same expressions, argument for argument), the other samples are renamed, not derived
    (a batch of 256 samples took minutes of cancel and factor); otherwise each is derived.
    """
    m, n = net.spec.samples, net.output.size
    first = [_output_error(net, adjoints, k, 0) for k in range(n)]
    if m == 1:
        return tuple(first)
    second = [_output_error(net, adjoints, k, 1) for k in range(n)]
    if [_renamed(net, e, 1) for e in first] != second:
        rest = [_output_error(net, adjoints, k, s) for s in range(2, m) for k in range(n)]
    else:
        rest = [_renamed(net, e, s) for s in range(2, m) for e in first]
    return (*first, *second, *rest)


def _renamed(net: SymbolicNetwork, error: OutputError, s: int) -> OutputError:
    """The first sample's ``error`` with sample ``s``'s symbols, held as it is written."""
    out = net.output
    names: dict[Expr, Expr] = {}
    for matrix in (out.pre_activation, out.activation, net.y):
        names.update(zip(matrix[:, 0], matrix[:, s], strict=True))
    if net.sample_losses:
        names[net.sample_losses[0]] = net.sample_losses[s]
    with evaluating(False):
        steps = tuple(
            Step(step.reason, step.lhs.xreplace(names), step.rhs.xreplace(names))
            for step in error.steps
        )
        assumption = None if error.assumption is None else error.assumption.xreplace(names)
    return OutputError(error.unit, s, steps, assumption)


def _output_error(net: SymbolicNetwork, adjoints: Adjoints, k: int, s: int) -> OutputError:
    """The chain rule's sum_j dJ_s/dyhat_j dyhat_j/dz_k, simplified step by step."""
    out = net.output
    z, yhat, y = out.pre_activation[k, s], list(out.activation[:, s]), list(net.y[:, s])
    sample_loss = net.sample_losses[s] if net.sample_losses else notation.LOSS
    outer = [adjoints.local(sample_loss, p) for p in yhat]
    inner = [adjoints.local(p, z) for p in yhat]
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
        scale = adjoints.local(notation.LOSS, sample_loss)
        steps.append(Step("batch reduction", Derivative(notation.LOSS, z), scale * simplified))
    return OutputError(k, s, tuple(steps), assumption)


def _simplest(expr: Expr) -> Expr:
    """The shorter of ``expr`` and its factored form."""
    factored = factor(expr)
    return factored if count_ops(factored) < count_ops(expr) else expr


def _hidden_delta(adjoints: Adjoints, layer: Layer, rename: dict[Symbol, Expr]) -> ImmutableMatrix:
    """delta^(l)_{i,s} = dJ/da^(l)_{i,s} da^(l)_{i,s}/dz^(l)_{i,s}, with dJ/da^(l)_{i,s} =
    sum_k delta^(l+1)_{k,s} dz^(l+1)_{k,s}/da^(l)_{i,s} written in."""
    z, a, symbols = layer.pre_activation, layer.activation, adjoints.symbols
    back = {symbols[a_i]: adjoints.definitions[symbols[a_i]].xreplace(rename) for a_i in a}

    def entry(i: int, s: int) -> Expr:
        return adjoints.definitions[symbols[z[i, s]]].xreplace(back)

    return ImmutableMatrix(z.rows, z.cols, entry)


def _parameter_gradients(
    net: SymbolicNetwork, adjoints: Adjoints, rename: dict[Symbol, Expr]
) -> tuple[tuple[ImmutableMatrix, ...], tuple[ImmutableMatrix, ...] | None]:
    """dJ/dW_ij = sum_s delta_{i,s} dz_{i,s}/dW_ij + dJ/dW_ij|direct (the l2 term); same for b."""

    def gradients(matrix: ImmutableMatrix) -> ImmutableMatrix:
        return matrix.applyfunc(lambda p: adjoints.parameters[p].xreplace(rename))

    weights = tuple(gradients(layer.weights) for layer in net.layers)
    if net.layers[0].biases is None:
        return weights, None
    return weights, tuple(
        gradients(layer.biases) for layer in net.layers if layer.biases is not None
    )


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
