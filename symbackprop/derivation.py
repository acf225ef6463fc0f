"""The pipeline in one function: spec -> network -> gradients -> exact values -> :class:`Derivation`.

>>> d = derive(load_spec("seed"))
>>> d.values.gradients["W2"][0, 1]
3/(5*(1 + exp(27/50)))
>>> d.decimal(d.values.gradients["W2"][0, 1])
'0.220912549358'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, overload

import numpy as np
from sympy import Expr, ImmutableMatrix, Rational, Symbol

from .defaults import EXACT_LIMIT, EXPAND_LIMIT, KINKS, MAX_DIGITS
from .errors import SymbackpropError
from .exact import DecimalError, ExactValues, decimal, evaluate
from .formats import Omitted, render, view
from .gradients import Gradients, gradients_of
from .network import SymbolicNetwork, build_network
from .notation import entry_name
from .point import spec_at
from .shared import SharedValues, share
from .spec import NetworkSpec, load_spec
from .spec_dict import spec_from_dict
from .stack_derivation import StackDerivation, derive_stack
from .stack_spec import StackSpec

#: Allowed values of ReLU'(0).
KINK_CONVENTIONS: dict[str, Rational] = {name: Rational(name) for name in KINKS}


@dataclass(frozen=True)
class Options:
    """How a derivation is made and shown."""

    relu_prime_at_zero: Rational = Rational(0)
    expand_limit: int = EXPAND_LIMIT
    digits: int = 12
    exact_limit: int = EXACT_LIMIT

    def __post_init__(self) -> None:
        if self.relu_prime_at_zero not in KINK_CONVENTIONS.values():
            raise SymbackpropError(
                f"relu_prime_at_zero must be one of 0, 1/2, 1; got {self.relu_prime_at_zero}"
            )
        if not 1 <= self.digits <= MAX_DIGITS:
            raise SymbackpropError(
                f"digits must be an integer from 1 to {MAX_DIGITS}; got {self.digits}"
            )
        if self.expand_limit < 0:
            raise SymbackpropError(f"expand_limit must be >= 0; got {self.expand_limit}")


@dataclass(frozen=True)
class Derivation:
    """Everything derived from one spec: symbols, closed-form gradients and exact values."""

    spec: NetworkSpec
    network: SymbolicNetwork
    gradients: Gradients
    options: Options = field(default_factory=Options)

    @cached_property
    def values(self) -> ExactValues:
        """The exact values at the documented point under ``options.relu_prime_at_zero``,
        substituted into the closed forms when first asked for: ``check`` computes its numbers
        over the layer graph and needs them only for ``[training]`` or where its own evaluation
        cannot settle a value, and a deep smooth network takes minutes to substitute."""
        return evaluate(self.network, self.gradients, self.options.relu_prime_at_zero)

    @cached_property
    def compact(self) -> dict[str, ImmutableMatrix]:
        """Each gradient in named intermediates, e.g. ``compact["W2"][0, 1] == a^(1)_2*(yhat_1 - y_1)``."""
        return self.gradients.compact()

    @cached_property
    def expanded(self) -> dict[str, list[list[Expr | Omitted]]]:
        """Each gradient in x, W, b and y alone, or :class:`Omitted` where that is too large."""
        sizes = _expanded_sizes(self.network, self.gradients)
        forward = _forward_expansions(self.network)
        result = {}
        for key, matrix in self.gradients.by_key().items():
            result[key] = [
                [
                    self._expand(matrix[i, j], self.compact[key][i, j], sizes, forward)
                    for j in range(matrix.cols)
                ]
                for i in range(matrix.rows)
            ]
        return result

    @cached_property
    def updated(self) -> dict[str, ImmutableMatrix] | None:
        """The parameters after one gradient-descent step, exactly, or None without ``[training]``.

        ``W - learning_rate * dJ/dW`` for every weight matrix and ``b - learning_rate * dJ/db``
        for every bias vector (left as they are when ``update_biases = false``), keyed like
        ``values.gradients``: ``updated["W2"][0, 0] == 2/5 - (1/2)*dJ/dW^(2)_11`` at the point.
        """
        training = self.spec.training
        if training is None:
            return None
        current: dict[str, ImmutableMatrix] = {}
        for l, weights in enumerate(self.spec.weights):
            current[f"W{l + 1}"] = weights
            if self.spec.biases is not None:
                current[f"b{l + 1}"] = self.spec.biases[l]
        rate = training.learning_rate
        result = {}
        for key, gradient in self.values.gradients.items():
            if key.startswith("b") and not training.update_biases:
                result[key] = current[key]
            else:
                result[key] = ImmutableMatrix(current[key] - rate * gradient)
        return result

    def _expand(
        self, in_deltas: Expr, compact: Expr, sizes: dict[Symbol, int], forward: dict[Symbol, Expr]
    ) -> Expr | Omitted:
        size = tree_size(in_deltas, sizes)
        if size > self.options.expand_limit:
            return Omitted(size, self.options.expand_limit)
        return compact.xreplace(forward)

    def exact_form(self, value: Expr) -> Expr | Omitted:
        """``value`` itself, or :class:`Omitted` when its printed form would be too large."""
        size = printed_size(value, self._sizes)
        if size > self.options.exact_limit:
            return Omitted(size, self.options.exact_limit, "--exact-limit")
        return value

    @cached_property
    def shared(self) -> SharedValues:
        """The forward values that the exact gradients share, each named once in forward order
        (``S^(3)``, ``yhat_1``, ...; none for the seed); see :mod:`symbackprop.shared`."""
        entries = [value for matrix in self.values.gradients.values() for value in matrix]
        return share(self.network, self.values, entries)

    def shared_form(self, value: Expr) -> Expr | Omitted:
        """``value`` written in the names of :attr:`shared` (``3*yhat_1/5``), or
        :class:`Omitted` when that form is too large to print (``--exact-limit``)."""
        return self.exact_form(self.shared.form(value))

    @cached_property
    def _sizes(self) -> dict[Expr, int]:
        return {}

    def decimal(self, value: Expr, digits: int | None = None) -> str:
        """``value`` to ``digits`` significant digits, every one of them correct."""
        try:
            return decimal(value, digits or self.options.digits)
        except DecimalError as error:
            raise DecimalError(error.digits, error.reason, self._name_of(value)) from None

    def _name_of(self, value: Expr) -> str:
        """The notebook name of an exact value (``dJ/db1[0]``, ``z2[1]``, ``loss``), if it has one."""
        tables = [("dJ/d", self.values.gradients), ("", self.values.forward)]
        tables.append(("updated ", self.updated or {}))
        for prefix, table in tables:
            for key, matrix in table.items():
                for flat, entry in enumerate(matrix):
                    if entry == value:
                        row, col = divmod(flat, matrix.cols)
                        index = (row,) if matrix.cols == 1 else (row, col)
                        return prefix + (key if key == "loss" else entry_name(key, index))
        return "a value"

    def exact(self, key: str, *index: int) -> Expr:
        """One exact value at the documented point, indexed like NumPy (0-based).

        Args:
            key: a gradient (``W1``, ``b1``, ...) or a forward value (``z1``, ``a1``, ...,
                ``yhat``, ``loss``).
            *index: row and column; a bias or one sample's vector takes the row alone, the
                loss none. ``exact("W2", 0, 1)`` is dJ/dW^(2)_12 in the 1-based math.

        Raises:
            SymbackpropError: an unknown key, or an index out of range.

        Example:
            >>> derive("seed").exact("W2", 0, 1)
            3/(5*(1 + exp(27/50)))
        """
        matrix = self._table(key)
        if len(index) < 2 and matrix.cols == 1:
            index = (*index, 0) if index else (0, 0) if matrix.rows == 1 else index
        if len(index) != 2 or not all(
            0 <= i < n for i, n in zip(index, matrix.shape, strict=True)
        ):
            raise SymbackpropError(
                f"{key}: index {tuple(index)} is out of range; its shape is {matrix.shape}"
            )
        return matrix[index]

    def gradient(self, key: str, at: Mapping[str, Any] | None = None) -> np.ndarray:
        """dJ/d``key`` as a float64 NumPy array in the parameter's shape (a bias is (n, 1)).

        Each entry is the exact value rounded to float64 (through 20 correct digits).

        Args:
            key: ``W1``, ``b1``, ``W2``, ...
            at: another point: parameters and data to replace, as for :meth:`at`.

        Example:
            >>> derive("seed").gradient("W2").round(6)
            array([[ 0.110456,  0.220913,  0.331369],
                   [-0.110456, -0.220913, -0.331369]])
        """
        if at is not None:
            return self.at(**at).gradient(key)
        if key not in self.values.gradients:
            raise SymbackpropError(
                f"unknown gradient '{key}'; expected one of: {', '.join(self.values.gradients)}"
            )
        matrix = self.values.gradients[key]
        entries = [float(self.decimal(v, 20)) for v in matrix]
        return np.array(entries, dtype=np.float64).reshape(matrix.shape)

    def at(self, **values: Any) -> Derivation:
        """The same network derived exactly at another point.

        Args:
            **values: ``W1=..., b1=..., x=..., y=...`` (any subset) in the spec's shapes:
                NumPy arrays or nested lists of numbers; a float is read through its shortest
                ``repr`` (0.1 is 1/10). The rest of the point is kept; ``[expected]`` is dropped.

        Raises:
            SpecError: an unknown key, or a value of the wrong shape or kind.

        Example:
            >>> derive("seed").at(x=[2, 0]).exact("W1", 0, 1)
            0
        """
        return derive(spec_at(self.spec, values), self.options)

    def _table(self, key: str) -> ImmutableMatrix:
        tables = {**self.values.forward, **self.values.gradients}
        if key not in tables:
            raise SymbackpropError(f"unknown key '{key}'; expected one of: {', '.join(tables)}")
        return tables[key]

    def to(self, fmt: str, **kwargs: Any) -> str:
        """Render in a registered format (see ``symbackprop.formats.FORMATS``)."""
        return render(self, fmt, **kwargs)

    def to_text(self, **kwargs: Any) -> str:
        """A terminal-readable summary (``sections``, ``expanded``)."""
        return self.to("text", **kwargs)

    def to_json(self, **kwargs: Any) -> str:
        """A stable machine-readable document (``sections``, ``expanded``)."""
        return self.to("json", **kwargs)

    def to_latex(self, **kwargs: Any) -> str:
        """LaTeX: a fragment needing amsmath and amssymb, or ``standalone=True`` for pdflatex.

        Keyword arguments: ``sections``, ``expanded``, ``standalone``.
        """
        return self.to("latex", **kwargs)

    def to_markdown(self, **kwargs: Any) -> str:
        """MyST/Jupyter Book Markdown with ``$$ ... $$`` equations (``sections``, ``expanded``)."""
        return self.to("markdown", **kwargs)

    def to_html(self, **kwargs: Any) -> str:
        """A self-contained HTML page with MathML, no JavaScript (``sections``, ``expanded``)."""
        return self.to("html", **kwargs)

    def to_mathml(self, **kwargs: Any) -> str:
        """An HTML fragment with MathML Core equations (``sections``, ``expanded``)."""
        return self.to("mathml", **kwargs)

    def document(self) -> Document:
        """The whole derivation for a notebook to display (a Jupyter cell ending in
        ``d.document()``); displaying ``d`` itself shows a summary."""
        return Document(self)

    def _repr_latex_(self) -> str:
        """Jupyter (and nbconvert to PDF): the summary in LaTeX."""
        return view(self, "notebook-latex")

    def _repr_html_(self) -> str:
        """Jupyter: the summary (architecture, loss, gradient matrices) as MathML."""
        return view(self, "notebook")


@dataclass(frozen=True)
class Document:
    """A whole derivation, displayed in full by Jupyter (see :meth:`Derivation.document`)."""

    derivation: Derivation

    def _repr_html_(self) -> str:
        """The whole derivation as a MathML fragment with its style."""
        return view(self.derivation, "document")

    def _repr_latex_(self) -> str:
        """The whole derivation as a LaTeX fragment."""
        return self.derivation.to_latex()


@overload
def derive(spec: NetworkSpec, options: Options | None = None, **kwargs: Any) -> Derivation: ...
@overload
def derive(spec: StackSpec, options: Options | None = None, **kwargs: Any) -> StackDerivation: ...
@overload
def derive(
    spec: Mapping[str, Any] | str | Path = "seed", options: Options | None = None, **kwargs: Any
) -> Derivation | StackDerivation: ...


def derive(
    spec: NetworkSpec | StackSpec | Mapping[str, Any] | str | Path = "seed",
    options: Options | None = None,
    **kwargs: Any,
) -> Derivation | StackDerivation:
    """Derive every gradient of ``spec`` symbolically and evaluate it exactly.

    Args:
        spec: a :class:`NetworkSpec` or ``StackSpec``, a path to a TOML spec, a built-in
            example name, or a dict of the TOML tables (see :func:`spec_from_dict`).
        options: how to derive; keyword arguments build one (``relu_prime_at_zero=Rational(1, 2)``).

    Returns:
        The derivation: a :class:`Derivation` for an MLP (or a dense stack), a
        :class:`~symbackprop.stack_derivation.StackDerivation` for a stack with convolution
        or pooling.

    Raises:
        SpecError: the spec is invalid.
    """
    if isinstance(spec, Mapping):
        spec = spec_from_dict(spec)
    elif not isinstance(spec, NetworkSpec | StackSpec):
        spec = load_spec(spec)
    options = options or Options(**kwargs)
    if isinstance(spec, StackSpec):
        return derive_stack(spec, options)
    net = build_network(spec)
    grads = gradients_of(net)
    return Derivation(spec, net, grads, options)


def printed_size(expr: Expr, cache: dict[Expr, int]) -> int:
    """Nodes in the printed tree of ``expr``, counting shared subexpressions each time they occur
    (memoised per subexpression, so the cost is linear in the size of the DAG)."""
    if expr not in cache:
        cache[expr] = 1 + sum(printed_size(arg, cache) for arg in expr.args)
    return cache[expr]


def tree_size(expr: Expr, sizes: dict[Symbol, int]) -> int:
    """Nodes in ``expr`` once every symbol is replaced by a tree of ``sizes[symbol]`` nodes."""
    if expr.is_Symbol:
        return sizes.get(expr, 1)
    return 1 + sum(tree_size(arg, sizes) for arg in expr.args)


def _expanded_sizes(net: SymbolicNetwork, grads: Gradients) -> dict[Symbol, int]:
    sizes: dict[Symbol, int] = {}
    for layer in net.layers:
        for symbols, definitions in (
            (layer.pre_activation, layer.z_definition),
            (layer.activation, layer.a_definition),
        ):
            sizes.update(
                {s: tree_size(d, sizes) for s, d in zip(symbols, definitions, strict=True)}
            )
    for symbols, definitions in zip(
        reversed(grads.deltas), reversed(grads.delta_definitions), strict=True
    ):
        sizes.update({s: tree_size(d, sizes) for s, d in zip(symbols, definitions, strict=True)})
    return sizes


def _forward_expansions(net: SymbolicNetwork) -> dict[Symbol, Expr]:
    expansions: dict[Symbol, Expr] = {}
    for layer in net.layers:
        for symbols, definitions in (
            (layer.pre_activation, layer.z_definition),
            (layer.activation, layer.a_definition),
        ):
            expansions.update(
                {s: d.xreplace(expansions) for s, d in zip(symbols, definitions, strict=True)}
            )
    return expansions
