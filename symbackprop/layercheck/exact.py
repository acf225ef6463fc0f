"""The exact ground truth of a kind: its SymPy forward, and the chain rule's gradients.

The layer's output entries are one level of definitions and J = sum(dout * out) (for a loss,
J is the loss) is one more; :func:`symbackprop.chain.reverse` differentiates them, so every
gradient is ``sympy.diff`` of the symbolic side's own forward. The expressions are compiled
once into mpmath code (as ``check`` does for stacks, :mod:`symbackprop.checking.stack`) and
evaluated at PRECISION + GUARD digits with the drawn dyadic rationals entering exactly: sums and
products of them are exact at that precision; softmax's exp and log carry 80 digits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import mpmath
import numpy as np
from sympy import Add, Expr, Rational, S, Symbol, lambdify
from sympy.printing.pycode import MpmathPrinter

from ..chain import reverse
from ..checking.precision import GUARD, PRECISION
from ..layers.base import Tensor, tensor
from ..scalars import scalar_functions, scalar_ready
from .kinds import Kind, Sizes

#: The value of a kink's derivative at exactly 0 (ReLU'(0), an SVM margin of 0): CS231n's.
CONVENTION = S.Zero


@dataclass(frozen=True, eq=False)
class Exact:
    """Symbol arrays (``x``, ``w``, ..., ``dout``, ``t``), the outputs, and the gradients.

    ``outputs`` maps the kind's outputs (``out``; ``next_h``, ``next_c``) to their tensors, a
    loss's ``out`` to a 1-entry tensor holding the loss; ``gradients`` maps ``dx``, ``dw``, ...
    to tensors of expressions in the symbols.
    """

    symbols: dict[str, Tensor]
    outputs: dict[str, Tensor]
    gradients: dict[str, Tensor]
    program: Callable[..., list[Any]] = field(default=lambda *args: [])

    @property
    def output(self) -> Tensor:
        """The first (for most kinds the only) output tensor."""
        return next(iter(self.outputs.values()))


def _symbols(name: str, shape: tuple[int, ...]) -> Tensor:
    return tensor(shape, lambda index: Symbol(f"{name}[{','.join(map(str, index))}]"))


@lru_cache(maxsize=16)
def _build(kind: Kind, key: tuple[tuple[str, tuple[int, ...]], ...]) -> Exact:
    sizes = dict(key)
    shapes = {**kind.inputs(sizes), **kind.observes(sizes)}
    symbols = {name: _symbols(name, shape) for name, shape in shapes.items()}
    if kind.loss:
        x = symbols["x"]
        symbols["t"] = _symbols("t", x.shape)
    if kind.words is not None:
        shape, vocabulary = kind.words(sizes)
        symbols["onehot"] = _symbols("onehot", (*shape, vocabulary))
    definitions: dict[Symbol, Expr] = {}
    if kind.staged is not None:
        result = kind.staged(sizes, symbols, _Named(definitions))
    else:
        result = kind.symbolic(sizes, symbols)
    outputs = _outputs(kind, result)
    named = {name: _symbols(name, output.shape) for name, output in outputs.items()}
    for name, output in outputs.items():
        definitions.update(zip(named[name].ravel(), output.ravel(), strict=True))
    if kind.loss:
        total = named["out"].ravel()[0]
    else:
        symbols.update((f"d{n}", _symbols(f"d{n}", o.shape)) for n, o in outputs.items())
        total = Symbol("J")
        products = [
            d * o
            for n in outputs
            for d, o in zip(symbols[f"d{n}"].ravel(), named[n].ravel(), strict=True)
        ]
        definitions[total] = Add(*products)
    wanted = [s for g in kind.gradients for s in symbols[g].ravel()]
    adjoints = reverse(definitions, total, wanted)
    if kind.staged is not None:
        return _staged(kind, symbols, definitions, adjoints, named)
    upstream: dict[Symbol, Expr] = {}
    for adjoint, definition in adjoints.definitions.items():
        upstream[adjoint] = definition.xreplace(upstream)
    gradients = {
        f"d{g}": tensor(
            symbols[g].shape, lambda i, g=g: adjoints.parameters[symbols[g][i]].xreplace(upstream)
        )
        for g in kind.gradients
    }
    exact = Exact(symbols, outputs, gradients)
    return replace(exact, program=_compile(exact))


def _outputs(kind: Kind, result: Any) -> dict[str, Tensor]:
    """The forward's result by output name (a loss's number as a 1-entry tensor)."""
    if kind.loss:
        return {"out": np.array([result], dtype=object)}
    if len(kind.outputs) == 1:
        return {kind.outputs[0]: result}
    return dict(zip(kind.outputs, result, strict=True))


class _Named:
    """The stages of a staged forward: each stage's entries named, defined in order."""

    def __init__(self, definitions: dict[Symbol, Expr]) -> None:
        self.definitions = definitions

    def __call__(
        self, stem: str, values: Sequence[Tensor], *, shared: bool = False, symbol: Any = Symbol
    ) -> list[Tensor]:
        named = []
        for s, value in enumerate(values):
            names = tensor(value.shape, lambda i, s=s: symbol(f"{stem}[{s},{_index(i)}]"))
            self.definitions.update((names[i], value[i]) for i in np.ndindex(*value.shape))
            named.append(names)
        return named


def _index(index: tuple[int, ...]) -> str:
    return ",".join(map(str, index))


def _staged(
    kind: Kind,
    symbols: dict[str, Tensor],
    definitions: dict[Symbol, Expr],
    adjoints: Any,
    outputs: dict[str, Tensor],
) -> Exact:
    """The Exact of a staged forward: the gradients stay in the named intermediates, and the
    program evaluates the definitions one by one (no closed form of the whole layer)."""
    gradients = {
        f"d{g}": tensor(symbols[g].shape, lambda i, g=g: adjoints.parameters[symbols[g][i]])
        for g in kind.gradients
    }
    exact = Exact(symbols, outputs, gradients)
    steps = [*definitions.items(), *adjoints.definitions.items()]
    results = [e for array in (*outputs.values(), *gradients.values()) for e in array.ravel()]
    return replace(exact, program=_stepwise(exact, steps, results))


def _stepwise(
    exact: Exact, steps: list[tuple[Symbol, Expr]], results: list[Expr]
) -> Callable[..., list[Any]]:
    """One mpmath function per definition, run in order; then the results."""
    inputs = [s for array in exact.symbols.values() for s in array.ravel()]
    compiled = [(symbol, *_function(expr)) for symbol, expr in steps]
    finals = [_function(expr) for expr in results]

    def program(*args: Any) -> list[Any]:
        values = dict(zip(inputs, args, strict=True))
        for symbol, used, f in compiled:
            values[symbol] = f(*(values[u] for u in used))
        return [f(*(values[u] for u in used)) for used, f in finals]

    return program


def _function(expr: Expr) -> tuple[list[Symbol], Callable[..., Any]]:
    """``expr`` as an mpmath function of its free symbols (sorted by name)."""
    ready = scalar_ready(expr, CONVENTION, numpy=False)
    used = sorted(ready.free_symbols, key=str)
    names = [Symbol(f"_v{i}") for i in range(len(used))]
    scalar = scalar_functions(mpmath.mpf(int(CONVENTION)))
    body = ready.xreplace(dict(zip(used, names, strict=True)))
    return used, lambdify(names, body, modules=[scalar, "mpmath"])


def build(kind: Kind, sizes: Sizes) -> Exact:
    """The exact forward and gradients of ``kind`` at ``sizes`` (cached)."""
    return _build(kind, tuple(sizes.items()))


def _compile(exact: Exact) -> Callable[..., list[Any]]:
    """Every output and gradient entry as one mpmath function of every symbol (flat, in order)."""
    inputs = [s for array in exact.symbols.values() for s in array.ravel()]
    arrays = (*exact.outputs.values(), *exact.gradients.values())
    exprs = [e for array in arrays for e in array.ravel()]
    ready = [scalar_ready(e, CONVENTION, numpy=False) for e in exprs]
    scalar = scalar_functions(mpmath.mpf(int(CONVENTION)))
    names = [Symbol(f"_v{i}") for i in range(len(inputs))]
    renamed = [e.xreplace(dict(zip(inputs, names, strict=True))) for e in ready]
    printer = MpmathPrinter(
        {
            "fully_qualified_modules": False,
            "inline": True,
            "allow_unknown_functions": True,
            "user_functions": {},
            "order": "none",  # sorting the terms of wide sums is slow
        }
    )
    return lambdify(  # type: ignore[no-any-return]
        names, renamed, modules=[scalar, "mpmath"], printer=printer
    )


def _mp(value: Rational) -> mpmath.mpf:
    return mpmath.mpf(int(value.p)) / int(value.q)


def evaluate(exact: Exact, values: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The output and every gradient at ``values`` (object arrays of rationals), as mpmath
    numbers of PRECISION + GUARD digits; the drawn dyadic rationals enter exactly."""
    with mpmath.workdps(PRECISION + GUARD):
        args = [
            _mp(values[name][i]) for name, a in exact.symbols.items() for i in np.ndindex(*a.shape)
        ]
        flat = iter(exact.program(*args))
        result = {}
        for name, array in (*exact.outputs.items(), *exact.gradients.items()):
            out = np.empty(array.shape, dtype=object)
            for index in np.ndindex(*array.shape):
                out[index] = next(flat)
            result[name] = out
    return result
