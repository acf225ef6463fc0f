"""The exact ground truth of a kind: its SymPy forward, and the chain rule's gradients.

The layer's output entries are one level of definitions and J = sum(dout * out) (for a loss,
J is the loss) is one more; :func:`symbackprop.chain.reverse` differentiates them, so every
gradient is ``sympy.diff`` of the symbolic side's own forward. The expressions are compiled
once into mpmath code (as ``check`` does for stacks, :mod:`symbackprop.checking.stack`) and
evaluated at PRECISION + GUARD digits with the drawn dyadic rationals entering exactly: sums and
products of them are exact at that precision; softmax's exp and log carry 80 digits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
    """Symbol arrays (``x``, ``w``, ..., ``dout``, ``t``), the output, and the gradients.

    ``output`` is the output tensor, or a 1-entry tensor holding the loss; ``gradients`` maps
    ``dx``, ``dw``, ... to tensors of expressions in the symbols.
    """

    symbols: dict[str, Tensor]
    output: Tensor
    gradients: dict[str, Tensor]
    program: Callable[..., list[Any]] = field(default=lambda *args: [])


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
    result = kind.symbolic(sizes, symbols)
    output = np.array([result], dtype=object) if kind.loss else result
    names = [Symbol(f"out[{','.join(map(str, i))}]") for i in np.ndindex(*output.shape)]
    definitions: dict[Symbol, Expr] = dict(zip(names, output.ravel(), strict=True))
    if kind.loss:
        total = names[0]
    else:
        symbols["dout"] = _symbols("dout", output.shape)
        total = Symbol("J")
        definitions[total] = Add(
            *(d * o for d, o in zip(symbols["dout"].ravel(), names, strict=True))
        )
    wanted = [s for g in kind.gradients for s in symbols[g].ravel()]
    adjoints = reverse(definitions, total, wanted)
    upstream: dict[Symbol, Expr] = {}
    for adjoint, definition in adjoints.definitions.items():
        upstream[adjoint] = definition.xreplace(upstream)
    gradients = {
        f"d{g}": tensor(
            symbols[g].shape, lambda i, g=g: adjoints.parameters[symbols[g][i]].xreplace(upstream)
        )
        for g in kind.gradients
    }
    exact = Exact(symbols, output, gradients)
    return replace(exact, program=_compile(exact))


def build(kind: Kind, sizes: Sizes) -> Exact:
    """The exact forward and gradients of ``kind`` at ``sizes`` (cached)."""
    return _build(kind, tuple(sizes.items()))


def _compile(exact: Exact) -> Callable[..., list[Any]]:
    """Every output and gradient entry as one mpmath function of every symbol (flat, in order)."""
    inputs = [s for array in exact.symbols.values() for s in array.ravel()]
    exprs = [e for array in (exact.output, *exact.gradients.values()) for e in array.ravel()]
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
        for name, array in (("out", exact.output), *exact.gradients.items()):
            out = np.empty(array.shape, dtype=object)
            for index in np.ndindex(*array.shape):
                out[index] = next(flat)
            result[name] = out
    return result
