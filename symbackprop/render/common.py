"""Helpers shared by the renderers: walking a derivation in its fixed, documented order."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal, localcontext
from typing import TYPE_CHECKING

from sympy import Expr, ImmutableMatrix
from sympy.printing.str import StrPrinter

from .. import notation
from ..memo_printer import Memoised

if TYPE_CHECKING:
    from ..derivation import Derivation
    from ..stack_derivation import StackDerivation


def entries(matrix: ImmutableMatrix) -> Iterator[tuple[tuple[int, ...], Expr]]:
    """Yield ``(index, value)`` row by row; a column vector is indexed by its row only."""
    for i in range(matrix.rows):
        for j in range(matrix.cols):
            yield ((i,) if matrix.cols == 1 else (i, j)), matrix[i, j]


class _MemoisedStr(Memoised, StrPrinter):
    """SymPy's ``str()`` printing each distinct subexpression once."""


_CODE = _MemoisedStr({"order": "none"})


def code(expr: object) -> str:
    """SymPy's ``str()`` form (parseable by ``sympify``) with the terms in the expression's
    canonical order: never sorted by numeric value, which costs an ``evalf`` per term."""
    return _CODE.doprint(expr)


def nested(matrix: ImmutableMatrix, convert: type | object = code) -> list[list]:
    """A matrix as nested lists (rows), each entry passed through ``convert``."""
    return [
        [convert(matrix[i, j]) for j in range(matrix.cols)]  # type: ignore[operator]
        for i in range(matrix.rows)
    ]


def exact_decimal(value: Expr) -> str | None:
    """The decimal a rational with a terminating expansion is exactly, e.g. ``"0.3"``; else None
    (also None when that decimal would be longer than 24 characters)."""
    if not value.is_Rational:
        return None
    q = int(value.q)
    for prime in (2, 5):
        while q % prime == 0:
            q //= prime
    if q != 1:
        return None
    with localcontext() as context:
        context.prec = 60
        text = format((Decimal(int(value.p)) / Decimal(int(value.q))).normalize(), "f")
    return text if len(text) <= 24 else None


def shown_value(derivation: Derivation | StackDerivation, value: Expr) -> tuple[str, str]:
    """``("=", "0.3")`` for a short exact decimal (written as itself, as LaTeX writes it), else
    ``("≈", the decimal to the derivation's digits)``."""
    exact = exact_decimal(value)
    return ("=", exact) if exact is not None else ("≈", derivation.decimal(value))


def forward_keys(derivation: Derivation) -> list[str]:
    """``["z1", "a1", ..., "zL", "yhat"]`` in forward order."""
    keys = []
    for layer in derivation.network.layers:
        keys.append(f"z{layer.index + 1}")
        keys.append("yhat" if layer is derivation.network.output else f"a{layer.index + 1}")
    return keys


def gradient_label(key: str, index: tuple[int, ...]) -> str:
    """``dW2[0,1]``: the notebook's naming for one gradient entry."""
    return notation.entry_name(f"d{key}", index)


def parameter_symbols(derivation: Derivation) -> dict[str, ImmutableMatrix]:
    """``{"W1": W^(1), "b1": b^(1), ...}``: each parameter's matrix of symbols."""
    return dict(derivation.network.parameters())


def forward_symbols(derivation: Derivation) -> dict[str, ImmutableMatrix]:
    """``{"z1": z^(1), "a1": a^(1), ..., "yhat": yhat}``: each forward value's symbols."""
    symbols: dict[str, ImmutableMatrix] = {}
    for layer in derivation.network.layers:
        symbols[f"z{layer.index + 1}"] = layer.pre_activation
        output = layer is derivation.network.output
        symbols["yhat" if output else f"a{layer.index + 1}"] = layer.activation
    return symbols


def indexing_rule(derivation: Derivation) -> str:
    """The rule of the output's two namings, with an example from ``derivation``:
    ``dW2[0,1] = dJ/dW^(2)_12``."""
    key, weights = [(k, m) for k, m in parameter_symbols(derivation).items() if k[0] == "W"][-1]
    index = (0, min(1, weights.cols - 1))
    example = f"{gradient_label(key, index)} = dJ/d{weights[index]}"
    return (
        "indexing: names like dW2[0,1] and z1[0] are 0-based (NumPy); the math, like "
        f"W^(2)_12 and z^(1)_1, is 1-based: {example}"
    )


def title(derivation: Derivation) -> str:
    """``seed: 2-3-2, relu -> softmax, cross_entropy (mean)``."""
    spec = derivation.spec
    acts = " -> ".join(str(a) for a in spec.activations)
    extras = [f"{spec.samples} samples, {spec.loss.reduction}"] if spec.batched else []
    extras += [] if spec.biases is not None else ["no biases"]
    extras += [f"l2 = {spec.l2}"] if spec.l2 else []
    suffix = f" ({'; '.join(extras)})" if extras else ""
    return f"{spec.name}: {'-'.join(map(str, spec.layers))}, {acts}, {spec.loss}{suffix}"


def kink_note(derivation: Derivation, option: bool = True) -> str | None:
    """The warning printed when some pre-activation sits exactly on a kink; ``option`` names
    the command-line option that changes the convention (not in a document's prose)."""
    kinks = derivation.values.kinks
    if not kinks:
        return None
    return (
        f"pre-activation {', '.join(kinks)} is exactly 0: the gradient there depends on the "
        f"convention ReLU'(0) = {derivation.options.relu_prime_at_zero}"
        + (" (--relu-prime-at-zero)" if option else "")
    )
