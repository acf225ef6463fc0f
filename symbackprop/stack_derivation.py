"""StackSpec -> :class:`StackDerivation`: a stack's chain rule, exact values and proofs.

The derivation of a stack with convolution or pooling: the layer graph, its adjoints (the
chain rule over one-level definitions), the exact value of every intermediate and gradient at
the documented point, and for each layer the proof that its textbook backward pass equals the
chain rule's element-wise derivatives (:mod:`symbackprop.proofs`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

import numpy as np
from sympy import Basic, Expr, Symbol

from .chain import Adjoints, reverse
from .errors import SymbackpropError
from .exact import DecimalError, Enclosures, _Nesting, decimal, evaluating
from .formats import Omitted, render
from .graph import LayerGraph, build_graph
from .layers.base import tensor
from .proofs import proof_size, prove_textbook
from .stack_spec import StackSpec


@dataclass(frozen=True, eq=False)
class StackDerivation:
    """Everything ``derive`` shows for a stack; ``options`` is a derivation's Options."""

    #: Selects the renderers of stacks in :mod:`symbackprop.formats`.
    kind: ClassVar[str] = "stack"

    spec: StackSpec
    graph: LayerGraph
    adjoints: Adjoints
    values: dict[Symbol, Expr]
    options: Any
    proofs: dict[int, bool] = field(default_factory=dict)
    #: For a layer proven at a representative size, that size (``"T=3, D=2, H=2"``).
    proof_sizes: dict[int, str] = field(default_factory=dict)

    def proven(self, position: int) -> str:
        """How the layer's textbook backward pass was proven: ``"proven"``,
        ``"proven at the representative size T=3, D=2, H=2"`` or ``"NOT equal"``."""
        if not self.proofs[position]:
            return "NOT equal"
        size = self.proof_sizes.get(position)
        return f"proven at the representative size {size}" if size else "proven"

    @cached_property
    def compact(self) -> dict[str, np.ndarray]:
        """Each gradient in the adjoints and the named intermediates, in the parameter's shape."""
        return _shaped(self.graph.parameters, self.adjoints.parameters)

    @cached_property
    def gradients(self) -> dict[str, np.ndarray]:
        """Each gradient's exact value at the documented point."""
        return _shaped(self.graph.parameters, self.values)

    @cached_property
    def data_compact(self) -> dict[str, np.ndarray]:
        """Each data gradient (dJ/dh0, dJ/dc0) in the adjoints, in the data's shape."""
        return _shaped(self.graph.data, self.adjoints.parameters)

    @cached_property
    def data_gradients(self) -> dict[str, np.ndarray]:
        """The exact value of each data gradient (dJ/dh0, dJ/dc0) at the documented point."""
        return _shaped(self.graph.data, self.values)

    def nondifferentiable(self) -> list[str]:
        """Tied max-pool windows and pre-activations exactly on a kink, at the documented point."""
        from .activations import LeakyReLU, ReLU
        from .layers import PoolMax

        found = []
        for symbol, expr in self.graph.definitions.items():
            if isinstance(expr, PoolMax):
                window = [self.values[a] for a in expr.args]
                if sum(bool(v == max(window)) for v in window) > 1:
                    found.append(symbol.name)
            elif isinstance(expr, ReLU | LeakyReLU) and self.values[expr.args[0]] == 0:
                found.append(expr.args[0].name)
        return found

    def exact(self, key: str, *index: int) -> Expr:
        """The exact value of one gradient entry, indexed like NumPy: ``exact("W1", 0, 0, 1, 2)``.

        Raises:
            SymbackpropError: an unknown key, or an index that does not fit its shape.
        """
        array = self._gradient_array(key)
        fits = len(index) == array.ndim
        if not fits or not all(0 <= i < n for i, n in zip(index, array.shape, strict=True)):
            raise SymbackpropError(
                f"{key}: index {tuple(index)} is out of range; its shape is {array.shape}"
            )
        return array[index]

    def gradient(self, key: str) -> np.ndarray:
        """dJ/d``key`` as a float64 NumPy array in the parameter's shape, each entry the exact
        value rounded to float64 (through 20 correct digits)."""
        array = self._gradient_array(key)
        values = [float(decimal(v, 20)) for v in array.ravel()]
        return np.array(values, dtype=np.float64).reshape(array.shape)

    def _gradient_array(self, key: str) -> np.ndarray:
        if key not in self.gradients:
            raise SymbackpropError(
                f"unknown gradient '{key}'; expected one of: {', '.join(self.gradients)}"
            )
        return self.gradients[key]

    def adjoint_value(self, symbol: Symbol) -> Expr:
        """The exact value of dJ/d ``symbol`` at the documented point."""
        return self.values[self.adjoints.symbols[symbol]]

    def exact_form(self, value: Expr) -> Expr | Omitted:
        """``value``, or :class:`Omitted` when its printed form would be too large."""
        size = _size(value, self._sizes)
        if size > self.options.exact_limit:
            return Omitted(size, self.options.exact_limit, "--exact-limit")
        return value

    @cached_property
    def _sizes(self) -> dict[Expr, int]:
        """Tree sizes of the values and their subexpressions, for :meth:`exact_form`."""
        return {}

    @cached_property
    def _enclosures(self) -> Enclosures:
        """The interval enclosures shared by every decimal, as the values share subexpressions."""
        return Enclosures()

    def decimal(self, value: Expr) -> str:
        """``value`` to the derivation's digits, every one correct."""
        try:
            return decimal(value, self.options.digits, self._enclosures)
        except DecimalError as error:
            raise DecimalError(error.digits, error.reason, "a stack value") from None

    def to(self, fmt: str, **kwargs: Any) -> str:
        """Render in a registered format that renders stacks."""
        return render(self, fmt, **kwargs)

    def to_text(self, **kwargs: Any) -> str:
        """A terminal-readable summary (``sections``)."""
        return self.to("text", **kwargs)

    def to_json(self, **kwargs: Any) -> str:
        """Every intermediate, adjoint and gradient; gradients nested in their shapes
        (``sections``)."""
        return self.to("json", **kwargs)

    def to_latex(self, **kwargs: Any) -> str:
        """LaTeX: a fragment, or ``standalone=True`` for pdflatex (``sections`` too)."""
        return self.to("latex", **kwargs)

    def to_markdown(self, **kwargs: Any) -> str:
        """MyST Markdown with ``$$ ... $$`` equations."""
        return self.to("markdown", **kwargs)

    def to_html(self, **kwargs: Any) -> str:
        """A self-contained HTML page with MathML, no JavaScript."""
        return self.to("html", **kwargs)

    def to_mathml(self, **kwargs: Any) -> str:
        """An HTML fragment with MathML Core equations."""
        return self.to("mathml", **kwargs)


def _size(expr: Expr, sizes: dict[Expr, int]) -> int:
    """The number of nodes of ``expr``'s tree, each shared subexpression visited once
    (an unrolled recurrence repeats h_{t-1} in every entry of h_t); ``sizes`` memoises them
    across the values, which share subexpressions."""
    if expr not in sizes:
        sizes[expr] = 1 + sum(_size(arg, sizes) for arg in expr.args)
    return sizes[expr]


def derive_stack(spec: StackSpec, options: Any) -> StackDerivation:
    """Build the graph, run the chain rule, evaluate exactly and prove each textbook form."""
    graph = build_graph(spec)
    params = [p for _, p, _ in graph.parameter_symbols()]
    params += [s for array in graph.data.values() for s in array.ravel()]
    adjoints = reverse(graph.definitions, graph.loss, params, graph.rewrites)
    values = exact_values(graph, adjoints, options.relu_prime_at_zero)
    proofs = {layer.position: prove_textbook(layer, spec.samples) for layer in spec.layers}
    sizes = {layer.position: proof_size(layer) for layer in spec.layers if proof_size(layer)}
    return StackDerivation(spec, graph, adjoints, values, options, proofs, sizes)


def exact_values(graph: LayerGraph, adjoints: Adjoints, convention: Expr) -> dict[Symbol, Expr]:
    """Every intermediate, adjoint and gradient at the documented point, exactly.

    ReLU'(0) takes ``convention``; named functions of numbers evaluate themselves.
    """
    spec, values = graph.spec, {}
    for key, array in graph.parameters.items():
        values.update({array[i]: spec.parameters[key][i] for i in np.ndindex(*array.shape)})
    for key, array in graph.data.items():
        values.update(zip(array.ravel(), graph.data_values[key].ravel(), strict=True))
    for tensors, data in ((graph.inputs, spec.x), (graph.targets, spec.y)):
        for s, symbols in enumerate(tensors):
            values.update({symbols[i]: data[s][i] for i in np.ndindex(*symbols.shape)})
    nesting, seen = _Nesting(), dict[Expr, bool]()
    for definitions in (graph.definitions, adjoints.definitions):
        for symbol, expr in definitions.items():
            values[symbol] = _at_kink(_substituted(expr, values, nesting), convention, seen)
    # each gradient is stored under its parameter's own symbol, so all are evaluated before
    # any is stored: dh0 = Wh da_1 needs Wh's value, not dWh's
    gradients = {
        symbol: _at_kink(_substituted(expr, values, nesting), convention, seen)
        for symbol, expr in adjoints.parameters.items()
    }
    values.update(gradients)
    return values


#: Values nesting functions deeper than this (tanh of a sum of tanh) are substituted as
#: written; see :func:`_substituted`. The networks' :data:`exact.NEST_LIMIT` is 4, but a
#: recurrence is as wide as it is deep.
STACK_NEST_LIMIT = 1


def _substituted(expr: Expr, values: dict[Symbol, Expr], nesting: _Nesting) -> Expr:
    """``expr`` at ``values``: the values nesting at most :data:`STACK_NEST_LIMIT` functions
    substituted with SymPy's evaluation (numbers combine), then the deeper ones as written,
    unevaluated (as :mod:`exact` does past its nesting limit).

    Evaluating a tanh, an exp or a product with one asks the sign or finiteness of its
    argument, which SymPy finds by evaluating the whole tree below numerically, at every
    level: a recurrence of width H over T steps costs about H**T.
    """
    deep = {s for s in expr.free_symbols if _depth(values.get(s, s), nesting) > STACK_NEST_LIMIT}
    if not deep:
        return expr.xreplace(values)
    shallow = expr.xreplace({s: values[s] for s in expr.free_symbols - deep if s in values})
    with evaluating(False):
        return shallow.xreplace({s: values[s] for s in deep})


def _depth(value: Any, nesting: _Nesting) -> int:
    return nesting.depth(value) if isinstance(value, Basic) else 0


def _at_kink(expr: Expr, convention: Expr, seen: dict[Expr, bool]) -> Expr:
    """Kink derivatives left at exactly 0 (ReLU'(0)) take the convention; ``seen`` memoises
    :func:`_has` across the values, which share their subexpressions."""
    from .activations import KinkFunction

    if not _has(expr, KinkFunction, seen):
        return expr
    return expr.replace(lambda e: isinstance(e, KinkFunction), lambda e: e.elementary(convention))


def _has(expr: Expr, kind: type, seen: dict[Expr, bool]) -> bool:
    """Whether ``expr`` contains a ``kind``, each shared subexpression looked at once."""
    if expr not in seen:
        seen[expr] = isinstance(expr, kind) or any(_has(a, kind, seen) for a in expr.args)
    return seen[expr]


def _shaped(
    arrays: Mapping[str, np.ndarray], entries: Mapping[Any, Expr]
) -> dict[str, np.ndarray]:
    """Each array of symbols as the array of their ``entries``, in the same shape."""
    return {
        key: tensor(array.shape, lambda i, a=array: entries[a[i]]) for key, array in arrays.items()
    }
