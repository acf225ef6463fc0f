"""The exact values at a point, as numbers to 60 significant digits.

:func:`exact_numbers` evaluates the same one-level definitions that give the closed forms of
``derive``, with rationals kept exact and transcendental numbers carried at 80 digits or, where
rounding cancels digits (as in log(1 - sigma(200))), as many more as it takes. :func:`point_data`
adds what the comparisons need: the float64 arrays, and which entries depend on ReLU'(0).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TypeAlias

import mpmath
from sympy import Expr, Float, ImmutableMatrix, Rational, Symbol

from .. import notation
from ..derivation import KINK_CONVENTIONS, Derivation
from ..errors import SymbackpropError
from ..exact import DecimalError, ExactValues, decimal, evaluate
from ..gradients import Gradients
from ..network import SymbolicNetwork
from ..numeric import Point, load_point
from ..spec import NetworkSpec
from .compiled import Compiled, Exact, Value, compile_matrix, to_number, to_value
from .precision import GUARD, MAX_PRECISION, PRECISION, Number, mp

#: Exact values by key (``z1``, ``a1``, ``yhat``, ``loss``, ``dW1``, ...): rows of numbers.
Table: TypeAlias = dict[str, list[list[Number]]]


def indices(shape: tuple[int, int]) -> Iterator[tuple[tuple[int, int], tuple[int, ...]]]:
    """(row, col) and the notebook-style index of every entry (a column is indexed by row)."""
    rows, cols = shape
    for i in range(rows):
        for j in range(cols):
            yield (i, j), ((i,) if cols == 1 else (i, j))


class _Unsettled(Exception):
    """A value that is no finite number at the working precision, e.g. log(1 - 1.0)."""


def exact_numbers(
    network: SymbolicNetwork,
    gradients: Gradients,
    convention: Rational,
    override: Mapping[Symbol, Expr] | None = None,
    closed_forms: Callable[[], ExactValues] | None = None,
) -> Table:
    """The exact values of ``network.spec`` to :data:`PRECISION` significant digits.

    The one-level definitions are evaluated in order, as :func:`symbackprop.exact.evaluate`
    does, except that a transcendental number becomes a Float as soon as it appears (rationals
    stay exact, so a pre-activation exactly on a kink is still exactly 0 and takes the
    convention's value). This is linear in the size of the network, where evaluating the
    nested closed forms of a deep smooth network one by one is not.

    Rounding the intermediate values can cancel digits (1 - sigma(200) is 0 at 80 digits, and
    log of it infinite), so the values are computed at :data:`PRECISION` + :data:`GUARD` digits
    and at twice that, and the precision doubles until two results agree to :data:`PRECISION`
    digits (a value below 10^-(precision - GUARD) times the largest value counts as settled
    when both results are that small, as an exact zero computed from rounded terms is). Where
    that fails at :data:`MAX_PRECISION` digits (log(1 - sigma(10^6)) cancels 434295 digits),
    the values come from ``closed_forms``, the exact values ``derive`` prints, if given: each
    closed form is settled as ``derive``'s decimals are (:func:`symbackprop.exact.decimal`).

    Args:
        network: the symbolic network (its spec gives the point).
        gradients: its gradients.
        convention: ReLU'(0).
        override: values to substitute for some forward symbols before the backward pass
            (e.g. a rounded ŷ).
        closed_forms: the exact values of this point and convention (``Derivation.values``).

    Returns:
        ``{"z1": ..., "a1": ..., "yhat": ..., "loss": ..., "dW1": ..., "db1": ...}``, each a
        list of rows of numbers.

    Raises:
        SymbackpropError: some value is still not finite at :data:`MAX_PRECISION` digits.
    """
    precision, coarse = PRECISION + GUARD, None
    rational: dict[int, tuple[ImmutableMatrix, list[Value]]] = {}
    while precision <= MAX_PRECISION:
        fine = _numbers_at(network, gradients, convention, override, precision, rational)
        if coarse is not None and fine is not None and _agree(coarse, fine, precision // 2):
            return fine
        coarse, precision = fine or coarse, 2 * precision
    if coarse is None and closed_forms is not None and override is None:
        coarse = _closed_form_numbers(closed_forms())
    if coarse is None:
        raise SymbackpropError(
            f"cannot evaluate the exact values at the documented point: some value is not a "
            f"finite number even at {MAX_PRECISION} digits"
        )
    return coarse


def _closed_form_numbers(values: ExactValues) -> Table | None:
    """The exact closed forms to :data:`PRECISION` + :data:`GUARD` digits by SymPy's evalf; None
    if one is not a finite number."""
    table: Table = {}
    matrices = [*values.forward.items(), *((f"d{k}", m) for k, m in values.gradients.items())]
    for key, matrix in matrices:
        rows: list[list[Number]] = []
        for i in range(matrix.rows):
            row: list[Number] = []
            for j in range(matrix.cols):
                number = _settled(matrix[i, j])
                if number is None:
                    return None
                row.append(number)
            rows.append(row)
        table[key] = rows
    return table


def _settled(value: Expr) -> Number | None:
    """An exact value as a Rational, or a Float of :data:`PRECISION` + :data:`GUARD` correct
    digits (certified as ``derive``'s decimals are); None if it cannot be settled."""
    if isinstance(value, Rational):
        return value
    try:
        return Float(decimal(value, PRECISION + GUARD), PRECISION + GUARD)
    except (DecimalError, ValueError, TypeError):
        return None


def _numbers_at(
    network: SymbolicNetwork,
    gradients: Gradients,
    convention: Rational,
    override: Mapping[Symbol, Expr] | None,
    precision: int,
    rational: dict[int, tuple[ImmutableMatrix, list[Value]]],
) -> Table | None:
    """The values with transcendental numbers at ``precision`` digits; None if one is not finite.

    ``rational`` keeps the results of the definitions whose values are all exact (by id of
    the matrix, kept alive), for the same point at another precision."""
    spec = network.spec
    values: dict[Symbol, Value] = {}
    pairs = [(network.x, spec.x), (network.y, spec.y)]
    pairs += [(layer.weights, w) for layer, w in zip(network.layers, spec.weights, strict=True)]
    if spec.biases is not None:
        pairs += [
            (layer.biases, b)
            for layer, b in zip(network.layers, spec.biases, strict=True)
            if layer.biases is not None
        ]
    for symbols, numbers in pairs:
        values.update(zip(symbols, map(to_value, numbers), strict=True))

    def _evaluated(matrix: ImmutableMatrix) -> list[Value]:
        free, function = _compiled(matrix, convention)
        try:
            with mpmath.workdps(precision):
                return function([values[s] for s in free])
        except ZeroDivisionError:
            raise _Unsettled(str(matrix)) from None

    def settle(matrix: ImmutableMatrix, symbols: Sequence[Symbol] = ()) -> list[list[Number]]:
        known = rational.get(id(matrix))
        results = known[1] if known is not None and known[0] is matrix else _evaluated(matrix)
        if all(isinstance(v, (Exact, int)) for v in results):
            rational[id(matrix)] = (matrix, results)
        numbers = [to_number(v, precision) for v in results]
        if any(n is None for n in numbers):
            raise _Unsettled(str(matrix))
        values.update(zip(symbols, results, strict=False))
        cols = matrix.cols
        return [numbers[i * cols : (i + 1) * cols] for i in range(matrix.rows)]  # type: ignore[misc]

    table: Table = {}
    try:
        for layer in network.layers:
            number = layer.index + 1
            table[f"z{number}"] = settle(layer.z_definition, list(layer.pre_activation))
            key = "yhat" if layer is network.output else f"a{number}"
            table[key] = settle(layer.a_definition, list(layer.activation))
        values.update({s: to_value(v) for s, v in (override or {}).items()})
        if network.sample_losses:
            settle(ImmutableMatrix([list(network.sample_loss_definitions)]), network.sample_losses)
        table["loss"] = settle(ImmutableMatrix([[network.loss_definition]]))
        for symbols, definitions in zip(
            reversed(gradients.deltas), reversed(gradients.delta_definitions), strict=True
        ):
            settle(definitions, list(symbols))
        for key, matrix in gradients.by_key().items():
            table[f"d{key}"] = settle(matrix)
    except _Unsettled:
        return None
    return table


#: Compiled definitions by (id of the matrix, convention), with the matrix kept alive.
_COMPILED: dict[tuple[int, Rational], tuple[ImmutableMatrix, tuple[list[Symbol], Compiled]]] = {}
_COMPILED_LIMIT = 4096


def _compiled(matrix: ImmutableMatrix, convention: Rational) -> tuple[list[Symbol], Compiled]:
    """:func:`compile_matrix` of ``matrix``, once per matrix object and convention."""
    key = (id(matrix), convention)
    cached = _COMPILED.get(key)
    if cached is not None and cached[0] is matrix:
        return cached[1]
    if len(_COMPILED) >= _COMPILED_LIMIT:
        _COMPILED.clear()
    compiled = compile_matrix(matrix, convention)
    _COMPILED[key] = (matrix, compiled)
    return compiled


def _agree(coarse: Table, fine: Table, precision: int) -> bool:
    """Whether every value of ``coarse`` (at ``precision`` digits) is settled by ``fine``."""
    with mpmath.workdps(2 * precision):
        pairs = [
            (mp(a), mp(b))
            for key, rows in fine.items()
            for row_a, row_b in zip(coarse[key], rows, strict=True)
            for a, b in zip(row_a, row_b, strict=True)
        ]
        largest = max([abs(b) for _, b in pairs] + [mpmath.mpf(1)])
        floor = largest * mpmath.mpf(10) ** (GUARD - precision)
        relative = mpmath.mpf(10) ** -(PRECISION + 2)
        return all(
            abs(a - b) <= relative * abs(b) or max(abs(a), abs(b)) <= floor for a, b in pairs
        )


@dataclass(frozen=True)
class PointData:
    """One point: its label, spec, float64 arrays and exact values (to 60 digits).

    ``convention_dependent`` names the gradient entries whose exact value changes with the
    ReLU'(0) convention (only at a point with a pre-activation exactly on a kink).
    """

    label: str
    spec: NetworkSpec
    arrays: Point
    exact: Table
    numbers: dict[str, list[list[mpmath.mpf]]]
    convention_dependent: frozenset[str]


def point_data(derivation: Derivation, label: str, spec: NetworkSpec) -> PointData:
    """The exact values of ``derivation`` at the point of ``spec``, named ``label``."""
    network = replace(derivation.network, spec=spec)
    convention = derivation.options.relu_prime_at_zero
    documented = spec is derivation.spec  # whose values are under the same convention
    closed_forms = (lambda: derivation.values) if documented else None
    exact = exact_numbers(network, derivation.gradients, convention, closed_forms=closed_forms)
    gradients = {k: v for k, v in exact.items() if k.startswith("d")}
    with mpmath.workdps(PRECISION):
        numbers = {k: [[mp(v) for v in row] for row in m] for k, m in gradients.items()}
    on_kink = any(v == 0 for k in exact if k.startswith("z") for row in exact[k] for v in row)
    dependent = _convention_dependent(derivation, network, numbers) if on_kink else frozenset()
    return PointData(label, spec, load_point(spec), exact, numbers, dependent)


def _closed_forms(
    network: SymbolicNetwork, gradients: Gradients, convention: Rational
) -> Callable[[], ExactValues]:
    """The exact values of ``network`` under ``convention``, computed when asked for."""
    return lambda: evaluate(network, gradients, convention)


def _convention_dependent(
    derivation: Derivation, network: SymbolicNetwork, numbers: dict[str, list[list[mpmath.mpf]]]
) -> frozenset[str]:
    """The gradient entries whose exact value changes with the ReLU'(0) convention."""
    convention = derivation.options.relu_prime_at_zero
    dependent = set()
    with mpmath.workdps(PRECISION):
        for other in KINK_CONVENTIONS.values():
            if other == convention:
                continue
            alternative = exact_numbers(
                network,
                derivation.gradients,
                other,
                closed_forms=_closed_forms(network, derivation.gradients, other),
            )
            for key, rows in numbers.items():
                for (i, j), index in indices((len(rows), len(rows[0]))):
                    if abs(mp(alternative[key][i][j]) - rows[i][j]) > mpmath.mpf(10) ** -40:
                        dependent.add(notation.entry_name(key, index))
    return frozenset(dependent)
