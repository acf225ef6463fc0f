"""Exact forms that name their shared values once: S^(3) = exp(z^(3)_1) + ..., then yhat_1 by name.

The exact gradients of a network repeat the same forward values in every entry: each softmax
output, with its sum of exponentials of long rationals, appears in every gradient entry below it.
:func:`share` names those values once, in forward order and with the notation's own names
(z^(l)_k, a^(l)_k, yhat_k, and S^(l) for a sum that several activations of one layer share, the
softmax denominator). Each entry's exact form is then written in those names; substituting the
definitions back gives the exact value again.

The rule: a forward value is named when its exact form prints to more than
:data:`NAME_LENGTH` characters and it occurs in at least two places (gradient entries, or the
definitions of other named values). The seed's values are all shorter, so its output is unchanged.

>>> from symbackprop import derive
>>> d = derive("seed")
>>> d.shared.definitions
()
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sympy import Expr, Symbol, default_sort_key, preorder_traversal
from sympy.core.parameters import evaluate as evaluating

from . import notation
from .exact import ExactValues
from .network import Layer, SymbolicNetwork
from .sympy_code import sympy_code

#: A value is named only when its exact form prints to more than this many characters.
NAME_LENGTH = 20


@dataclass(frozen=True)
class SharedValue:
    """One named value: ``symbol = definition`` (in numbers and earlier names), and its exact
    ``value`` (the definition with every name substituted back)."""

    symbol: Symbol
    definition: Expr
    value: Expr


@dataclass(frozen=True)
class SharedValues:
    """The named values in forward order, and the rewriting of exact values into their names."""

    definitions: tuple[SharedValue, ...]
    table: dict[Expr, Symbol]
    memo: dict[Expr, Expr] = field(default_factory=dict, compare=False, repr=False)
    products: dict[Expr, list[tuple[Expr, Symbol]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        for value, symbol in self.table.items():
            if value.is_Mul:
                for factor in value.args:
                    self.products.setdefault(factor, []).append((value, symbol))

    def form(self, value: Expr) -> Expr:
        """``value`` with every named value in it replaced by its name (``3*yhat_1/5``)."""
        return _replaced(value, self, self.memo) if self.table else value

    def substituted(self, form: Expr) -> Expr:
        """``form`` with every name replaced by its exact value (the inverse of :meth:`form`)."""
        values = {shared.symbol: shared.value for shared in self.definitions}
        return form.xreplace(values)


@dataclass(frozen=True)
class _Candidate:
    symbol: Symbol
    value: Expr
    build: tuple[str, Layer, int, int]


def share(net: SymbolicNetwork, values: ExactValues, entries: Iterable[Expr]) -> SharedValues:
    """Name the forward values of ``net`` that ``entries`` (exact values) share.

    Args:
        net: the symbolic network.
        values: its exact values at the documented point.
        entries: the exact values to be written in names (the gradients).

    Returns:
        The named values, in forward order, each defined in numbers and earlier names.
    """
    with evaluating(not values.written):  # deep values stay written, as exact.evaluate has them
        return _share(net, values, list(dict.fromkeys(entries)))


def _share(net: SymbolicNetwork, values: ExactValues, entries: list[Expr]) -> SharedValues:
    everything = _candidates(net, values)
    long = {c.symbol for c in everything if _prints_longer(c.value)}
    named = set(long)
    while True:
        definitions = _definitions(everything, named, long, values)
        table = {c.value: c.symbol for c in everything if c.symbol in named}
        shared = SharedValues(tuple(d for d in definitions if d.symbol in named), table)
        uses = dict.fromkeys(named, 0)
        memo: dict[Expr, frozenset[Symbol]] = {}
        for expr in [
            *(shared.form(e) for e in entries),
            *(d.definition for d in shared.definitions),
        ]:
            for symbol in _symbols(expr, memo) & named:
                uses[symbol] += 1
        kept = {symbol for symbol, count in uses.items() if count >= 2}
        if kept == named:
            return shared
        named = kept


def _prints_longer(value: Expr) -> bool:
    """Whether ``value`` prints to more than :data:`NAME_LENGTH` characters (a tree of more
    nodes does, whatever they are: a deep value is never printed to find out)."""
    nodes = 0
    for nodes, _ in enumerate(preorder_traversal(value)):
        if nodes >= NAME_LENGTH:
            return True
    return len(sympy_code(value)) > NAME_LENGTH


def _symbols(expr: Expr, memo: dict[Expr, frozenset[Symbol]]) -> frozenset[Symbol]:
    """The symbols in ``expr``, each distinct subexpression visited once."""
    if expr.is_Symbol:
        return frozenset((expr,))  # type: ignore[arg-type]
    found = memo.get(expr)
    if found is None:
        found = frozenset().union(*(_symbols(arg, memo) for arg in expr.args))
        memo[expr] = found
    return found


def _candidates(net: SymbolicNetwork, values: ExactValues) -> list[_Candidate]:
    """Every forward value that could be named, in forward order: z, the shared sums, a."""
    out: list[_Candidate] = []
    for layer in net.layers:
        for k, s in _units(layer):
            z = layer.pre_activation[k, s]
            out.append(_Candidate(z, values.symbols[z], ("z", layer, k, s)))
        for s in range(layer.a_definition.cols):
            column = [layer.a_definition[k, s] for k in range(layer.size)]
            for n, common in enumerate(_common(column)):
                value = common.xreplace(values.symbols)
                symbol = notation.shared_sum(layer.index, s if net.spec.batched else None, n)
                out.append(_Candidate(symbol, value, ("S", layer, n, s)))
        for k, s in _units(layer):
            a = layer.activation[k, s]
            out.append(_Candidate(a, values.symbols[a], ("a", layer, k, s)))
    return out


def _units(layer: Layer) -> list[tuple[int, int]]:
    return [(k, s) for k in range(layer.size) for s in range(layer.pre_activation.cols)]


def _common(column: list[Expr]) -> list[Expr]:
    """The largest compound subexpressions that at least two of ``column`` share, in the
    order they first occur (the softmax denominator sum_j exp(z_j))."""
    counts: dict[Expr, int] = {}
    for expr in column:
        for node in set(preorder_traversal(expr)):
            if node.args:
                counts[node] = counts.get(node, 0) + 1
    shared = {_base(node) for node, count in counts.items() if count >= 2}
    largest = [n for n in shared if not any(n != m and m.has(n) for m in shared)]
    order = {node: i for i, node in enumerate(preorder_traversal(column[0]))}
    return sorted(largest, key=lambda node: (order.get(node, len(order)), default_sort_key(node)))


def _base(node: Expr) -> Expr:
    """The sum itself where a reciprocal 1/S (or a power) of it is shared."""
    return node.base if node.is_Pow and node.exp.is_Integer and node.base.args else node


def _definitions(
    candidates: list[_Candidate], named: set[Symbol], long: set[Symbol], values: ExactValues
) -> list[SharedValue]:
    """Each candidate's definition in numbers and the names of the earlier ones: a named value
    by its name, a short one by its value, any other by its own definition."""
    known = dict(values.symbols)
    sums: dict[tuple[int, int], dict[Expr, Symbol]] = {}
    out = []
    for c in candidates:
        kind, layer, k, s = c.build
        if kind == "z":
            definition = layer.z_definition[k, s].xreplace(known)
        elif kind == "S":
            column = [layer.a_definition[j, s] for j in range(layer.size)]
            common = _common(column)[k]
            if c.symbol in named:
                sums.setdefault((layer.index, s), {})[common] = c.symbol
            definition = common.xreplace(known)
        else:
            definition = layer.a_definition[k, s].xreplace(sums.get((layer.index, s), {}))
            definition = definition.xreplace(known)
        if not definition.free_symbols:
            definition = c.value  # no name in it: the value itself, in its tidy form
        out.append(SharedValue(c.symbol, definition, c.value))
        if c.symbol in named:
            known[c.symbol] = c.symbol
        elif c.symbol in long:
            known[c.symbol] = definition
    return out


def _replaced(expr: Expr, shared: SharedValues, memo: dict[Expr, Expr]) -> Expr:
    """``expr`` with every subexpression found in ``table`` replaced, outermost first; each
    distinct subexpression is visited once (the exact values are DAGs with much sharing).

    A named product is also found among the factors of a larger product, where SymPy has
    flattened it: 3/5 * exp(z)/S is 3/5 * yhat.
    """
    if expr in shared.table:
        return shared.table[expr]
    if not expr.args:
        return expr
    done = memo.get(expr)
    if done is None:
        old = list(expr.args)
        named = _named_factors(expr, shared.products) if expr.is_Mul else []
        for factors, _ in named:
            old = [arg for arg in old if arg not in factors]
        args = [_replaced(arg, shared, memo) for arg in old]
        changed = named or any(new is not arg for new, arg in zip(args, old, strict=True))
        done = expr.func(*args, *(symbol for _, symbol in named)) if changed else expr
        memo[expr] = done
    return done


def _named_factors(
    product: Expr, index: dict[Expr, list[tuple[Expr, Symbol]]]
) -> list[tuple[set[Expr], Symbol]]:
    """The named products (``index``: factor -> the products it is a factor of) whose factors
    are all factors of ``product``: disjoint, the first found first."""
    factors = set(product.args)
    found: list[tuple[set[Expr], Symbol]] = []
    used: set[Expr] = set()
    for arg in product.args:
        for key, symbol in index.get(arg, ()):
            needed = set(key.args)
            if needed <= factors and not needed & used:
                found.append((needed, symbol))
                used |= needed
    return found
