"""The chain rule, generically: reverse accumulation over one-level definitions.

For every named intermediate s, dJ/ds = sum over the consumers c of s of dJ/dc * dc/ds, where
each local derivative dc/ds is ``sympy.diff`` of c's one-level definition. A parameter used at
many positions (a convolution kernel, a weight shared by the samples of a batch) collects one
term per use. The result is itself a set of one-level definitions, in the adjoint symbols
``dJ/ds``: nothing is ever expanded into one expression for the whole network. Stacks
(:mod:`symbackprop.stack_derivation`) and dense networks (:mod:`symbackprop.gradients`) both
derive through :func:`reverse`.

>>> from sympy import symbols
>>> x, w, z, J = symbols("x w z J")
>>> adj = reverse({z: w * x, J: z**2}, J, [w])
>>> adj.parameters[w]
dJ/dz*x
>>> adj.definitions[adj.symbols[z]]
2*dJ/dJ*z
>>> adj.local(J, z)
2*z
"""

from __future__ import annotations

import operator
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache, reduce

from sympy import Add, Expr, Function, Integer, Mul, S, Symbol, diff


@dataclass(frozen=True, eq=False)
class Adjoints:
    """dJ/ds for the intermediates (``symbols[s]`` is the symbol dJ/ds) and the parameters.

    ``definitions`` maps each adjoint symbol to its one-level definition, in evaluation order
    (the reverse of the forward order); ``parameters`` maps each parameter to its gradient.
    """

    symbols: dict[Symbol, Symbol]
    definitions: dict[Symbol, Expr]
    parameters: dict[Symbol, Expr]
    #: ``uses[s]`` lists each consumer c of s with its (rewritten) local derivative dc/ds.
    uses: dict[Symbol, list[tuple[Symbol, Expr]]] = field(default_factory=dict)

    def local(self, consumer: Symbol, symbol: Symbol) -> Expr:
        """The local derivative d ``consumer`` / d ``symbol`` (0 when it does not use it)."""
        return next((d for c, d in self.uses.get(symbol, ()) if c == consumer), Integer(0))


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


def adjoint_symbol(symbol: Symbol) -> Symbol:
    """The symbol dJ/ds of an intermediate s."""
    return Symbol(f"dJ/d{symbol.name}")


def reverse(
    definitions: Mapping[Symbol, Expr],
    output: Symbol,
    parameters: Iterable[Symbol],
    rewrites: Mapping[Symbol, Callable[[Expr], Expr]] | None = None,
) -> Adjoints:
    """Reverse accumulation of d ``output`` over ``definitions`` (in forward order).

    ``rewrites[c]``, if given, rewrites each local derivative dc/ds (an activation writes
    sigma'(z) as a (1 - a), as the textbook does).
    """
    consumers: defaultdict[Symbol, list[tuple[Symbol, Expr]]] = defaultdict(list)
    for consumer, expr in definitions.items():
        rewrite = (rewrites or {}).get(consumer)
        for symbol, local in partials(expr).items():
            if rewrite is not None:
                local = rewrite(local)
            if local != 0:
                consumers[symbol].append((consumer, local))
    symbols = {s: adjoint_symbol(s) for s in definitions}
    adjoint: dict[Symbol, Expr] = {}
    for s in reversed(list(definitions)):
        if s == output:
            adjoint[symbols[s]] = Integer(1)
        else:
            adjoint[symbols[s]] = _accumulate(consumers[s], symbols)
    grads = {p: _accumulate(consumers[p], symbols) for p in parameters}
    return Adjoints(symbols, adjoint, grads, dict(consumers))


def _accumulate(uses: list[tuple[Symbol, Expr]], symbols: Mapping[Symbol, Symbol]) -> Expr:
    """sum over the uses (c, dc/ds) of dJ/dc * dc/ds."""
    return Add(*(symbols[c] * local for c, local in uses))
