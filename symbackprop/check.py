"""Check gradients from independent oracles against the exact values, entry by entry.

At the documented point and at random points of the same architecture, the exact gradients
are compared with

- the lambdified closed forms (:mod:`symbackprop.numeric`), evaluated in float64;
- the hand-written NumPy backprop (:mod:`symbackprop.reference`), which shares no formula code
  with the symbolic side;
- the user's own backprop, if one is given (:mod:`symbackprop.userbackprop`);
- central finite differences of the reference loss (:mod:`symbackprop.finite_differences`),
  where entries whose difference quotient straddles a ReLU kink are flagged, not judged;

and an ``[expected]`` table of documented values is compared with the exact values with
numpy.isclose semantics, decided exactly (at 60 significant digits, never against a float), and
diagnosed: the digits each entry matches, the loosest ``atol`` the table needs, what each entry
should read at its written precision, and whether the hand values follow from a rounded ŷ.

Exact values are compared as numbers to 60 significant digits (:func:`exact_numbers`): the same
one-level definitions that give the closed forms of ``derive``, evaluated with rationals kept
exact and transcendental numbers carried at 80 digits or, where rounding cancels digits (as in
log(1 - sigma(200))), as many more as it takes, so a float64 result is judged against a value
whose error is some 40 orders of magnitude below any tolerance.

>>> report = check("seed", random_points=2)
>>> report.ok
True
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, ROUND_CEILING, ROUND_HALF_EVEN, Context, Decimal
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeAlias

import mpmath
import numpy as np
from mpmath.libmp import finf, fnan, fninf
from sympy import Expr, Float, ImmutableMatrix, Rational, Symbol

from . import notation, reference
from .activations import KinkFunction
from .derivation import KINK_CONVENTIONS, Derivation, Options, derive
from .errors import SymbackpropError, UserBackpropError
from .exact import evaluate
from .finite_differences import DEFAULT_RELATIVE_STEP, central_differences, kink_mask
from .gradients import Gradients
from .network import SymbolicNetwork
from .numeric import NumericNetwork, Point, lambdify_network, load_point, random_points
from .spec import NetworkSpec, load_spec
from .userbackprop import Backprop, call_backprop, load_backprop

#: Default tolerances for float64 gradients (lambdified, reference, user) against exact values:
#: pass when |value - exact| <= atol + rtol * |exact|.
RTOL, ATOL = 1e-7, 1e-9
#: Tolerances for central finite differences, whose error is about eps^(2/3) ~ 4e-11 relative to
#: the loss and grows with the third derivative at saturated points.
FD_RTOL, FD_ATOL = 1e-5, 1e-6
#: Significant digits of the exact values shown in reports.
DIGITS = 12
#: Working precision (decimal digits) of exact comparisons.
PRECISION = 60
#: Extra digits exact values are first computed with, and the most digits they are carried to.
GUARD, MAX_PRECISION = 20, 5120

#: A difference or tolerance: a float, or an mpmath number where float64 would overflow.
Real: TypeAlias = float | mpmath.mpf

LAMBDIFIED = "exact vs lambdified"
REFERENCE = "exact vs reference backprop"
USER = "exact vs user backprop"
FINITE_DIFFERENCES = "exact vs finite differences"
DOCUMENTED = "documented vs exact"
DOCUMENTED_POINT = "documented point"


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True)
class EntryFailure:
    """One entry outside its tolerance.

    ``value`` is the documented or computed value as text, ``exact`` the exact value to
    :data:`DIGITS` significant digits, ``difference`` is value - exact.
    """

    comparison: str
    point: str
    entry: str
    value: str
    exact: str
    difference: Real
    tolerance: Real

    def to_text(self) -> str:
        return (
            f"{self.entry}: {_value_word(self.comparison)} {self.value}, exact {self.exact}, "
            f"difference {_sci(self.difference)} exceeds tolerance {_sci(self.tolerance, '')}"
        )


@dataclass(frozen=True)
class Comparison:
    """One oracle against the exact values at one point.

    ``flagged`` lists entries that were not judged (a finite difference across a kink, or an
    entry that depends on the ReLU'(0) convention at an exact kink); ``skipped`` says why the
    whole comparison could not be made, e.g. an activation the reference backprop lacks.
    """

    name: str
    point: str
    entries: int
    max_abs_error: float
    max_rel_error: float
    rtol: float
    atol: float
    failures: tuple[EntryFailure, ...] = ()
    flagged: tuple[str, ...] = ()
    skipped: str | None = None

    @property
    def ok(self) -> bool:
        return not self.failures


@dataclass(frozen=True)
class DocumentedEntry:
    """One documented value against the exact value, with its diagnosis."""

    entry: str
    documented: str
    exact: str
    difference: Real
    tolerance: Real
    ok: bool
    digits_written: int
    digits_matched: int
    should_read: str
    #: The size of the difference relative to the exact value (0 where that is 0).
    relative: float = 0.0

    @property
    def misread(self) -> bool:
        """Whether the documented value differs from the exact value rounded as it was written."""
        return Decimal(self.should_read) != Decimal(self.documented)


@dataclass(frozen=True)
class RoundedPrediction:
    """The hypothesis that hand values were computed from ŷ rounded to ``places`` decimals."""

    places: int
    rounded: tuple[str, ...]
    exact: tuple[str, ...]
    reproduced: int
    example: tuple[str, str] | None


@dataclass(frozen=True)
class Documented:
    """The ``[expected]`` table against the exact values, and what explains the differences."""

    atol: Rational
    rtol: Rational
    entries: tuple[DocumentedEntry, ...]
    #: The smallest atol that passes every entry (at :data:`PRECISION` digits; may be <= 0).
    loosest_atol: mpmath.mpf
    rounded_prediction: RoundedPrediction | None

    @property
    def failures(self) -> list[DocumentedEntry]:
        return [e for e in self.entries if not e.ok]


@dataclass(frozen=True)
class CheckReport:
    """Every comparison at every point, and the diagnosis of documented values.

    ``ok`` is true when no comparison has a failing entry.
    """

    ok: bool
    comparisons: tuple[Comparison, ...]
    title: str = ""
    documented: Documented | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    diagnosis: tuple[str, ...] = ()
    #: After one gradient-descent step (``[training]``): (entry, exact form, decimal) per entry.
    updated: tuple[tuple[str, str, str], ...] = ()

    def failures(self) -> list[EntryFailure]:
        """Every failing entry of every comparison, in report order."""
        return [f for c in self.comparisons for f in c.failures]

    def to_text(self) -> str:
        """The report for a terminal."""
        return _report_text(self)

    def to_json(self) -> str:
        """The same content as a JSON document with a top-level boolean ``"ok"``."""
        return json.dumps(_json(self), indent=2, ensure_ascii=False) + "\n"

    def failure_table(self, names: Sequence[str] | None = None) -> str:
        """The failing entries (of the comparisons ``names``, default all) as a table."""
        return _failure_table([c for c in self.comparisons if names is None or c.name in names])


#: Report formats for the CLI's ``--format``: name -> renderer.
REPORT_FORMATS: dict[str, Callable[[CheckReport], str]] = {
    "text": CheckReport.to_text,
    "json": CheckReport.to_json,
}


# ----------------------------------------------------------------------------- helpers


def _at(point: str) -> str:
    """'the documented point' or 'random point 3'."""
    return f"the {point}" if point == DOCUMENTED_POINT else point


def _value_word(comparison: str) -> str:
    return "documented" if comparison == DOCUMENTED else "computed"


def _entry_name(key: str, index: tuple[int, ...]) -> str:
    return notation.entry_name(key, index)


def _indices(shape: tuple[int, int]) -> Iterator[tuple[tuple[int, int], tuple[int, ...]]]:
    """(row, col) and the notebook-style index of every entry (a column is indexed by row)."""
    rows, cols = shape
    for i in range(rows):
        for j in range(cols):
            yield (i, j), ((i,) if cols == 1 else (i, j))


# ----------------------------------------------------------------------------- exact numbers

Number: TypeAlias = Rational | Float
Table: TypeAlias = dict[str, list[list[Number]]]


class _Unsettled(Exception):
    """A value that is no finite number at the working precision, e.g. log(1 - 1.0)."""


def _settle(value: Expr, precision: int = PRECISION) -> Number:
    """An exact rational stays exact; anything else becomes a ``precision``-digit Float."""
    if isinstance(value, Rational):
        return value
    number = value.evalf(precision)
    if not isinstance(number, Float | Rational):
        raise _Unsettled(str(value))
    return number


def exact_numbers(
    network: SymbolicNetwork,
    gradients: Gradients,
    convention: Rational,
    override: Mapping[Symbol, Expr] | None = None,
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
    when both results are that small, as an exact zero computed from rounded terms is).

    Args:
        network: the symbolic network (its spec gives the point).
        gradients: its gradients.
        convention: ReLU'(0).
        override: values to substitute for some forward symbols before the backward pass
            (e.g. a rounded ŷ).

    Returns:
        ``{"z1": ..., "a1": ..., "yhat": ..., "loss": ..., "dW1": ..., "db1": ...}``, each a
        list of rows of numbers.

    Raises:
        SymbackpropError: some value is still not finite at :data:`MAX_PRECISION` digits.
    """
    precision, coarse = PRECISION + GUARD, None
    while precision <= MAX_PRECISION:
        fine = _numbers_at(network, gradients, convention, override, precision)
        if coarse is not None and fine is not None and _agree(coarse, fine, precision // 2):
            return fine
        coarse, precision = fine or coarse, 2 * precision
    if coarse is None:
        raise SymbackpropError(
            f"cannot evaluate the exact values at the documented point: some value is not a "
            f"finite number even at {MAX_PRECISION} digits"
        )
    return coarse


def _numbers_at(
    network: SymbolicNetwork,
    gradients: Gradients,
    convention: Rational,
    override: Mapping[Symbol, Expr] | None,
    precision: int,
) -> Table | None:
    """The values with transcendental numbers at ``precision`` digits; None if one is not finite."""
    spec = network.spec
    values: dict[Symbol, Expr] = {}
    pairs = [(network.x, spec.x), (network.y, spec.y)]
    pairs += [(layer.weights, w) for layer, w in zip(network.layers, spec.weights, strict=True)]
    if spec.biases is not None:
        pairs += [
            (layer.biases, b)
            for layer, b in zip(network.layers, spec.biases, strict=True)
            if layer.biases is not None
        ]
    for symbols, numbers in pairs:
        values.update(zip(symbols, numbers, strict=True))

    def settle(matrix: ImmutableMatrix, symbols: Sequence[Symbol] = ()) -> list[list[Number]]:
        result = matrix.xreplace(values).replace(
            lambda e: isinstance(e, KinkFunction), lambda e: e.at_kink(convention)
        )
        rows = [
            [_settle(result[i, j], precision) for j in range(matrix.cols)]
            for i in range(matrix.rows)
        ]
        values.update(zip(symbols, [v for row in rows for v in row], strict=False))
        return rows

    table: Table = {}
    try:
        for layer in network.layers:
            number = layer.index + 1
            table[f"z{number}"] = settle(layer.z_definition, list(layer.pre_activation))
            key = "yhat" if layer is network.output else f"a{number}"
            table[key] = settle(layer.a_definition, list(layer.activation))
        values.update(override or {})
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


def _agree(coarse: Table, fine: Table, precision: int) -> bool:
    """Whether every value of ``coarse`` (at ``precision`` digits) is settled by ``fine``."""
    with mpmath.workdps(2 * precision):
        pairs = [
            (_mp(a), _mp(b))
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


def _mp(value: Number) -> mpmath.mpf:
    """A settled number as an mpmath number (call inside ``mpmath.workdps(PRECISION)``)."""
    if isinstance(value, Rational):
        return mpmath.mpf(int(value.p)) / int(value.q)
    return mpmath.mpf(value._mpf_)


def _decimal(value: Number | mpmath.mpf, digits: int) -> Decimal | None:
    """``value`` to ``digits`` significant digits, never through a huge integer or a float.

    None for inf and NaN, and beyond Decimal's exponent range (|exponent| > 10^17).
    """
    context = Context(prec=digits, rounding=ROUND_HALF_EVEN, Emax=MAX_EMAX, Emin=MIN_EMIN)
    number: Decimal | None = None
    if isinstance(value, Rational):
        number = context.divide(Decimal(int(value.p)), Decimal(int(value.q)))
    else:
        number = _binary_decimal(value._mpf_, digits)
    if number is None or number == 0:
        return number
    return context.quantize(number, Decimal(1).scaleb(number.adjusted() - digits + 1))


def _binary_decimal(raw: tuple, digits: int) -> Decimal | None:
    """An mpmath raw number to ``digits`` significant digits (None: inf, NaN, out of range)."""
    context = Context(prec=digits, rounding=ROUND_HALF_EVEN, Emax=MAX_EMAX, Emin=MIN_EMIN)
    if raw in (finf, fninf, fnan):
        return None
    sign, mantissa, exponent, _ = raw
    if abs(exponent) > 10**17:
        return None
    wide = Context(prec=digits + 20, Emax=MAX_EMAX, Emin=MIN_EMIN)
    number = wide.multiply(Decimal(int(mantissa)), wide.power(Decimal(2), int(exponent)))
    return context.plus(-number if sign else number)


def _plain(number: Decimal) -> str:
    """Fixed notation for moderate magnitudes (as mpmath.nstr does), scientific otherwise."""
    if number == 0 or -5 < number.adjusted() < 15:
        return f"{number:f}"
    return f"{number:e}".replace("e+", "e")


def _text(value: Number | mpmath.mpf) -> str:
    """``value`` to :data:`DIGITS` significant digits, like ``derive``'s decimals."""
    if value == 0:
        return "0"
    number = _decimal(value, DIGITS)
    if number is not None:
        return _plain(number)
    with mpmath.workdps(PRECISION):  # beyond 10^(10^17): show its logarithm
        magnitude = _mp(value) if isinstance(value, Rational | Float) else value
        if not mpmath.isfinite(magnitude):
            return mpmath.nstr(magnitude)
        sign = "-" if magnitude < 0 else ""
        return f"{sign}exp({_text(mpmath.log(abs(magnitude)))})"


def _float_holds(value: Real | Rational, number: float) -> bool:
    """Whether ``number = float(value)`` stands for ``value``: not an overflow or underflow."""
    return (math.isfinite(number) and (number != 0 or value == 0)) or math.isnan(number)


def _sci(value: Real, sign: str = "+") -> str:
    """``value`` as ``format(value, "+.2e")`` would give it, also beyond float64's range."""
    number = float(value)
    if _float_holds(value, number):
        return f"{number:{sign}.2e}"
    decimal = _decimal(value, 3)
    if decimal is None:
        return f"{number:{sign}.2e}" if math.isinf(number) else _text(value)
    return f"{decimal:{sign}.2e}"


def _round(value: Number, exponent: int) -> Decimal:
    """``value`` rounded half to even to a multiple of 10**exponent (exactly for rationals)."""
    if isinstance(value, Rational):
        units = round(Fraction(int(value.p), int(value.q)) / Fraction(10) ** exponent)
    else:
        with mpmath.workdps(PRECISION):
            units = int(mpmath.nint(_mp(value) / mpmath.mpf(10) ** exponent))
    exact = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)
    return Decimal(units).scaleb(exponent, exact)


def _should_read(value: Number, exponent: int) -> str:
    """``value`` as it reads at the written precision, cut to :data:`DIGITS` significant digits."""
    rounded = _round(value, exponent)
    if len(rounded.as_tuple().digits) > DIGITS:  # far from the documented value anyway
        rounded = Context(prec=DIGITS, Emax=MAX_EMAX, Emin=MIN_EMIN).plus(rounded)
    return _plain(rounded)


# ----------------------------------------------------------------------------- points


@dataclass(frozen=True)
class _PointData:
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


def _point(derivation: Derivation, label: str, spec: NetworkSpec) -> _PointData:
    network = replace(derivation.network, spec=spec)
    convention = derivation.options.relu_prime_at_zero
    exact = exact_numbers(network, derivation.gradients, convention)
    gradients = {k: v for k, v in exact.items() if k.startswith("d")}
    with mpmath.workdps(PRECISION):
        numbers = {k: [[_mp(v) for v in row] for row in m] for k, m in gradients.items()}
        dependent = set()
        if any(v == 0 for key in exact if key.startswith("z") for row in exact[key] for v in row):
            for other in KINK_CONVENTIONS.values():
                if other == convention:
                    continue
                alternative = exact_numbers(network, derivation.gradients, other)
                for key, rows in numbers.items():
                    for (i, j), index in _indices((len(rows), len(rows[0]))):
                        if abs(_mp(alternative[key][i][j]) - rows[i][j]) > mpmath.mpf(10) ** -40:
                            dependent.add(_entry_name(key, index))
    return _PointData(label, spec, load_point(spec), exact, numbers, frozenset(dependent))


@dataclass(frozen=True)
class _Prepared:
    """Everything that does not depend on the user's backprop, computed once per derivation."""

    derivation: Derivation
    numeric: NumericNetwork
    points: tuple[_PointData, ...]
    comparisons: tuple[Comparison, ...]
    notes: tuple[str, ...]


_PREPARED: dict[tuple, _Prepared] = {}
_PREPARED_LIMIT = 8


def _prepare(derivation: Derivation, count: int, seed: int, rtol: float, atol: float) -> _Prepared:
    key = (id(derivation), count, seed, rtol, atol)
    cached = _PREPARED.get(key)
    if cached is not None and cached.derivation is derivation:
        return cached
    numeric = lambdify_network(derivation)
    points = [_point(derivation, DOCUMENTED_POINT, derivation.spec)]
    for k, spec in enumerate(random_points(numeric, count, seed), start=1):
        points.append(_point(derivation, f"random point {k}", spec))
    notes: list[str] = []
    with np.errstate(all="ignore"):  # overflow and NaN show in the report as errors
        comparisons = _oracle_comparisons(derivation, numeric, points, rtol, atol, notes)
    prepared = _Prepared(derivation, numeric, tuple(points), tuple(comparisons), tuple(notes))
    if len(_PREPARED) >= _PREPARED_LIMIT:
        _PREPARED.pop(next(iter(_PREPARED)))
    _PREPARED[key] = prepared
    return prepared


def _oracle_comparisons(
    derivation: Derivation,
    numeric: NumericNetwork,
    points: list[_PointData],
    rtol: float,
    atol: float,
    notes: list[str],
) -> list[Comparison]:
    """The lambdified, reference and finite-difference comparisons at every point."""
    comparisons = []
    for point in points:
        values = numeric.evaluate(point.arrays)
        comparisons.append(_compare(LAMBDIFIED, point, values.gradients, rtol, atol))
    for point in points:
        comparisons.append(_reference_comparison(derivation, point, rtol, atol, notes))
    for point in points:
        comparisons.append(_finite_difference_comparison(derivation, point, notes))
    return comparisons


# ----------------------------------------------------------------------------- comparisons


def _compare(
    name: str,
    point: _PointData,
    values: dict[str, np.ndarray],
    rtol: float,
    atol: float,
    flagged: set[str] | None = None,
) -> Comparison:
    """Compare float64 ``values`` (keyed W1, b1, ...) with the exact numbers, entry by entry."""
    failures: list[EntryFailure] = []
    skipped = set(point.convention_dependent) | (flagged or set())
    max_abs = max_rel = 0.0
    entries = 0
    not_judged = []
    with mpmath.workdps(PRECISION):
        for key, numbers in point.numbers.items():
            array = values[key[1:]]
            for (i, j), index in _indices((len(numbers), len(numbers[0]))):
                entry = _entry_name(key, index)
                entries += 1
                if entry in skipped:
                    not_judged.append(entry)
                    continue
                exact = numbers[i][j]
                actual = float(array[i, j])
                difference = mpmath.mpf(actual) - exact
                max_abs = max(max_abs, float(abs(difference)))
                if exact != 0:  # in mpmath: an exact 1e-348 is 0.0 as a float
                    max_rel = max(max_rel, float(abs(difference) / abs(exact)))
                tolerance = atol + rtol * abs(exact)  # in mpmath: exact may exceed float64
                if not (math.isfinite(actual) and abs(difference) <= tolerance):
                    failures.append(
                        EntryFailure(
                            name,
                            point.label,
                            entry,
                            f"{actual:.12g}",
                            _text(point.exact[key][i][j]),
                            _real(difference),
                            _real(tolerance),
                        )
                    )
    return Comparison(
        name,
        point.label,
        entries,
        max_abs,
        max_rel,
        rtol,
        atol,
        tuple(failures),
        tuple(not_judged),
    )


def _as_dict(
    grads_w: Sequence[np.ndarray], grads_b: Sequence[np.ndarray] | None
) -> dict[str, np.ndarray]:
    """``{"W1": ..., "b1": ...}`` from the notebook's two lists."""
    result = {}
    for l, g in enumerate(grads_w):
        result[notation.parameter_key("W", l)] = np.asarray(g, dtype=np.float64)
        if grads_b is not None:
            column = np.asarray(grads_b[l], dtype=np.float64).reshape(-1, 1)
            result[notation.parameter_key("b", l)] = column
    return result


def _reference_options(spec: NetworkSpec) -> dict[str, Any]:
    """The spec's network in the reference backprop's keyword arguments."""
    activations = [
        (a.name, {k: float(v) for k, v in a.options}) if a.options else a.name
        for a in spec.activations
    ]
    loss_options = {k: (v if isinstance(v, bool) else float(v)) for k, v in spec.loss.options}
    return {
        "activations": activations,
        "loss": spec.loss.name,
        "reduction": spec.loss.reduction,
        "l2": float(spec.l2),
        **loss_options,
    }


def _parameters(point: _PointData) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
    p = point.arrays
    return list(p.weights), None if p.biases is None else list(p.biases)


def _reference_comparison(
    derivation: Derivation, point: _PointData, rtol: float, atol: float, notes: list[str]
) -> Comparison:
    weights, biases = _parameters(point)
    try:
        grads_w, grads_b = reference.backprop(
            weights,
            biases,
            point.arrays.x,
            point.arrays.y,
            relu_prime_at_zero=float(derivation.options.relu_prime_at_zero),
            **_reference_options(point.spec),
        )
    except (ValueError, TypeError) as exc:
        reason = f"the reference backprop cannot run this network: {exc}"
        return _skipped(REFERENCE, point, reason, notes)
    return _compare(REFERENCE, point, _as_dict(grads_w, grads_b), rtol, atol)


def _skipped(name: str, point: _PointData, reason: str, notes: list[str]) -> Comparison:
    if reason not in notes:
        notes.append(reason)
    return Comparison(name, point.label, 0, 0.0, 0.0, 0.0, 0.0, skipped=reason)


def _finite_difference_comparison(
    derivation: Derivation, point: _PointData, notes: list[str]
) -> Comparison:
    """Central differences of the reference loss; entries straddling a kink are not judged."""
    x, y = point.arrays.x, point.arrays.y
    options = _reference_options(point.spec)

    def loss(weights: list[np.ndarray], biases: list[np.ndarray] | None) -> float:
        return reference.loss(weights, biases, x, y, **options)

    def kinks(weights: list[np.ndarray], biases: list[np.ndarray] | None) -> list[np.ndarray]:
        return reference.kink_pre_activations(weights, biases, x, options["activations"])

    weights, biases = _parameters(point)
    try:
        grads_w, grads_b = central_differences(loss, weights, biases)
        mask_w, mask_b = kink_mask(kinks, weights, biases)
    except (ValueError, TypeError) as exc:
        reason = (
            f"finite differences need the reference loss, which cannot run this network: {exc}"
        )
        return _skipped(FINITE_DIFFERENCES, point, reason, notes)
    flagged = {
        _entry_name(f"d{key}", index)
        for key, mask in _as_dict(mask_w, mask_b).items()
        for (i, j), index in _indices(mask.shape)
        if mask[i, j]
    }
    return _compare(
        FINITE_DIFFERENCES, point, _as_dict(grads_w, grads_b), FD_RTOL, FD_ATOL, flagged
    )


def _user_comparisons(
    prepared: _Prepared, backprop: Backprop, rtol: float, atol: float
) -> list[Comparison]:
    comparisons = []
    for point in prepared.points:
        p = point.arrays
        try:
            grads_w, grads_b = call_backprop(backprop, p.weights, p.biases, p.x, p.y)
        except UserBackpropError as exc:
            raise UserBackpropError(f"at {_at(point.label)}: {exc}") from None
        comparisons.append(_compare(USER, point, _as_dict(grads_w, grads_b), rtol, atol))
    return comparisons


# ----------------------------------------------------------------------------- documented values


def _literals(spec: NetworkSpec) -> dict[str, list[list[Decimal]]]:
    """The ``[expected]`` numbers as written (``0.3680`` keeps its 4 places), by matrix entry.

    Falls back to the shortest decimal of each exact rational when the text is unavailable.
    """
    assert spec.expected is not None
    result = {key: _shortest(matrix) for key, matrix in spec.expected.values}
    try:
        table = tomllib.loads(spec.text, parse_float=Decimal).get("expected", {})
    except tomllib.TOMLDecodeError:
        return result
    for key, matrix in spec.expected.values:
        grid = _grid(table.get(key), key, spec.batched)
        if grid is None:
            continue
        rows, cols = matrix.shape
        try:
            decimals = [[Decimal(grid[i][j]) for j in range(cols)] for i in range(rows)]
        except (IndexError, TypeError, ValueError, ArithmeticError):
            continue
        if all(
            Fraction(decimals[i][j]) == Fraction(int(matrix[i, j].p), int(matrix[i, j].q))
            for i in range(rows)
            for j in range(cols)
        ):
            result[key] = decimals
    return result


def _grid(value: Any, key: str, batched: bool) -> list[list[Any]] | None:
    """A documented value as rows and columns, mirroring how the spec reads it."""
    if value is None:
        return None
    if key == "loss":
        return [[value]]
    if key.startswith("dW"):
        return value if isinstance(value, list) else None
    if not isinstance(value, list):
        return None
    if key.startswith("db") or not batched:
        return [v if isinstance(v, list) else [v] for v in value]
    return [list(column) for column in zip(*value, strict=True)]


def _shortest(matrix: ImmutableMatrix) -> list[list[Decimal]]:
    """The shortest decimal that spells each rational (up to 30 places)."""

    def text(value: Rational) -> Decimal:
        for places in range(30):
            scaled = value * 10**places
            if scaled.is_integer:
                return Decimal(int(scaled)).scaleb(-places)
        return Decimal(str(value.evalf(17)))

    return [[text(matrix[i, j]) for j in range(matrix.cols)] for i in range(matrix.rows)]


def _significant(value: Decimal) -> int:
    """Significant digits as written: 4 for 0.2208, 3 for 0.0552, 4 for 0.3680."""
    digits = list(value.as_tuple().digits)
    while len(digits) > 1 and digits[0] == 0:
        digits.pop(0)
    return len(digits)


def _digits_matched(exact: Number, documented: Decimal, written: int) -> int:
    """The largest k <= written with |documented - exact| <= half a unit in significant digit k."""
    with mpmath.workdps(PRECISION):
        value = _mp(exact)
        error = abs(mpmath.mpf(str(documented)) - value)
        if value == 0:
            return written if error == 0 else 0
        leading = int(mpmath.floor(mpmath.log10(abs(value))))
        for k in range(written, 0, -1):
            if error <= mpmath.mpf(10) ** (leading - k + 1) / 2:
                return k
    return 0


def _within(exact: Number, documented: Rational, bound: Rational) -> bool:
    """|exact - documented| <= bound: exactly for a rational, else at 60 digits."""
    if isinstance(exact, Rational):
        return bool(abs(exact - documented) <= bound)
    with mpmath.workdps(PRECISION):
        return bool(abs(_mp(exact) - _mp(documented)) <= _mp(bound))


def _documented(derivation: Derivation, exact: Table) -> Documented | None:
    spec = derivation.spec
    expected = spec.expected
    if expected is None:
        return None
    literals = _literals(spec)
    atol, rtol = expected.atol, expected.rtol
    entries = []
    needed = mpmath.mpf(0)
    for key, matrix in expected.values:
        for (i, j), index in _indices(matrix.shape):
            documented, literal, value = matrix[i, j], literals[key][i][j], exact[key][i][j]
            with mpmath.workdps(PRECISION):
                difference = _mp(documented) - _mp(value)
                needed = max(needed, abs(difference) - _mp(rtol) * abs(_mp(documented)))
                relative = float(abs(difference) / abs(_mp(value))) if value != 0 else 0.0
            bound = atol + rtol * abs(documented)
            written = _significant(literal)
            entries.append(
                DocumentedEntry(
                    _entry_name(key, index),
                    _plain(literal),
                    _text(value),
                    _real(difference),
                    _real(bound),
                    _within(value, documented, bound),
                    written,
                    _digits_matched(value, literal, written),
                    _should_read(value, int(literal.as_tuple().exponent)),
                    relative,
                )
            )
    rounded = _rounded_prediction(derivation, exact, literals, entries)
    return Documented(atol, rtol, tuple(entries), needed, rounded)


def _real(value: Real | Rational) -> Real:
    """A float where float64 holds ``value`` (to a relative 1e-16), else a PRECISION-digit mpf."""
    number = float(value)
    if _float_holds(value, number):
        return number
    with mpmath.workdps(PRECISION):
        return _mp(value) if isinstance(value, Rational) else +value


def _rounded_prediction(
    derivation: Derivation,
    exact: Table,
    literals: dict[str, list[list[Decimal]]],
    entries: list[DocumentedEntry],
) -> RoundedPrediction | None:
    """Do the documented gradients follow from ŷ rounded to a few decimal places?

    Recompute the deltas and gradients exactly with ŷ replaced by its rounded value, and test
    whether every documented gradient entry is that recomputed value at its written precision.
    Only asked when some documented entry is not the exact value correctly rounded.
    """
    if not any(e.misread or not e.ok for e in entries):
        return None
    gradient_keys = [k for k in literals if k.startswith("d")]
    if not gradient_keys:
        return None
    candidates: list[int] = []
    for key in ("yhat", f"db{len(derivation.network.layers)}"):
        if key in literals:
            candidates.append(
                max(-int(d.as_tuple().exponent) for row in literals[key] for d in row)
            )
    candidates += [p for p in range(1, 7) if p not in candidates]
    yhat = [v for row in exact["yhat"] for v in row]
    output = list(derivation.network.output.activation)
    by_name = {e.entry: e for e in entries}
    for places in (p for p in candidates if p >= 1):
        rounded = [_round(v, -places) for v in yhat]
        override = {s: Rational(Fraction(v)) for s, v in zip(output, rounded, strict=True)}
        recomputed = exact_numbers(
            derivation.network,
            derivation.gradients,
            derivation.options.relu_prime_at_zero,
            override,
        )
        reproduced = [
            _entry_name(key, index)
            for key in gradient_keys
            for (i, j), index in _indices((len(literals[key]), len(literals[key][0])))
            if _round(recomputed[key][i][j], int(literals[key][i][j].as_tuple().exponent))
            == literals[key][i][j]
        ]
        if len(reproduced) == sum(
            len(m) * len(m[0]) for k, m in literals.items() if k in gradient_keys
        ):
            telling = sorted(reproduced, key=lambda n: (by_name[n].ok, not by_name[n].misread))
            return RoundedPrediction(
                places,
                tuple(f"{v:f}" for v in rounded),
                tuple(_text(v) for v in yhat),
                len(reproduced),
                (telling[0], by_name[telling[0]].documented) if telling else None,
            )
    return None


def _documented_comparison(documented: Documented, exact: Table) -> Comparison:
    failures = tuple(
        EntryFailure(
            DOCUMENTED, DOCUMENTED_POINT, e.entry, e.documented, e.exact, e.difference, e.tolerance
        )
        for e in documented.entries
        if not e.ok
    )
    max_abs = max((float(abs(e.difference)) for e in documented.entries), default=0.0)
    return Comparison(
        DOCUMENTED,
        DOCUMENTED_POINT,
        len(documented.entries),
        max_abs,
        max((e.relative for e in documented.entries), default=0.0),
        float(documented.rtol),
        float(documented.atol),
        failures,
    )


# ----------------------------------------------------------------------------- the check


@lru_cache(maxsize=8)
def _derive(spec: NetworkSpec, text: str, convention: Rational) -> Derivation:
    """A cached derivation (``text`` is part of the key: specs compare without it)."""
    return derive(spec, Options(relu_prime_at_zero=convention))


def _derivation(spec: NetworkSpec | Derivation | str | Path, convention: Rational) -> Derivation:
    if isinstance(spec, Derivation):
        if spec.options.relu_prime_at_zero == convention:
            return spec
        options = replace(spec.options, relu_prime_at_zero=convention)
        return replace(
            spec, values=evaluate(spec.network, spec.gradients, convention), options=options
        )
    if not isinstance(spec, NetworkSpec):
        spec = load_spec(spec)
    try:
        return _derive(spec, spec.text, convention)
    except TypeError:  # pragma: no cover - an unhashable spec
        return derive(spec, Options(relu_prime_at_zero=convention))


def check(
    spec: NetworkSpec | Derivation | str | Path = "seed",
    *,
    backprop: Backprop | str | None = None,
    random_points: int = 8,
    seed: int = 0,
    relu_prime_at_zero: Rational | str | float = Rational(0),
    rtol: float = RTOL,
    atol: float = ATOL,
) -> CheckReport:
    """Compare the exact gradients of ``spec`` with every oracle, at the documented point and at
    ``random_points`` random points.

    Args:
        spec: a spec, a derivation, a TOML path or a built-in example name.
        backprop: the user's ``backprop(weights, biases, x, y) -> (grads_W, grads_b)``, or a
            ``path.py:function`` / ``package.module:function`` target to import (which runs it).
        random_points: how many random points besides the documented one (reproducible).
        seed: the random seed of those points.
        relu_prime_at_zero: the value of ReLU'(0): 0, 1/2 or 1.
        rtol: relative tolerance of float64 gradients against the exact values.
        atol: absolute tolerance of float64 gradients against the exact values.

    Returns:
        The report; ``report.ok`` is true when every comparison holds.

    Raises:
        SpecError: the spec is invalid.
        UserBackpropError: the user's backprop cannot be loaded, raises, or returns the wrong
            shapes, list lengths, NaN or inf.

    Example:
        >>> report = check("seed-notebook", random_points=0)
        >>> report.ok, [f.entry for f in report.failures()][:2]
        (False, ['dW2[0,1]', 'dW2[0,2]'])
    """
    if random_points < 0:
        raise SymbackpropError(f"random_points must be >= 0; got {random_points}")
    if not (rtol >= 0 and atol >= 0):
        raise SymbackpropError(f"rtol and atol must be >= 0; got rtol={rtol}, atol={atol}")
    convention = Rational(relu_prime_at_zero)
    Options(relu_prime_at_zero=convention)  # validates the convention
    derivation = _derivation(spec, convention)
    function = load_backprop(backprop) if isinstance(backprop, str) else backprop
    prepared = _prepare(derivation, random_points, seed, rtol, atol)
    comparisons = list(prepared.comparisons)
    if function is not None:
        comparisons += _user_comparisons(prepared, function, rtol, atol)
    exact = prepared.points[0].exact
    documented = _documented(derivation, exact)
    if documented is not None:
        comparisons.append(_documented_comparison(documented, exact))
    comparisons.sort(key=lambda c: _ORDER.index(c.name))
    notes = list(prepared.notes)
    if derivation.values.kinks:
        notes.append(
            f"pre-activation {', '.join(derivation.values.kinks)} is exactly 0 at the documented "
            f"point: gradient entries that depend on the convention ReLU'(0) = {convention} are "
            "not judged there against float64 results"
        )
    settings = {
        "random_points": random_points,
        "seed": seed,
        "relu_prime_at_zero": str(convention),
        "rtol": rtol,
        "atol": atol,
        "finite_difference_rtol": FD_RTOL,
        "finite_difference_atol": FD_ATOL,
        "finite_difference_step": f"{DEFAULT_RELATIVE_STEP:.3g} * max(1, |theta|)",
        "backprop": _function_name(function),
    }
    if derivation.spec.training is not None:
        kept = "" if derivation.spec.training.update_biases else ", biases not updated"
        settings["training"] = f" (learning rate {derivation.spec.training.learning_rate}{kept})"
    report = CheckReport(
        ok=all(c.ok for c in comparisons),
        comparisons=tuple(comparisons),
        title=_title(derivation),
        documented=documented,
        settings=settings,
        notes=tuple(notes),
        updated=_updated(derivation),
    )
    return replace(report, diagnosis=tuple(_diagnosis(report)))


def _updated(derivation: Derivation) -> tuple[tuple[str, str, str], ...]:
    """The parameters after the spec's gradient-descent step, exactly and as decimals."""
    rows = []
    for key, matrix in (derivation.updated or {}).items():
        for i in range(matrix.rows):
            for j in range(matrix.cols):
                value = matrix[i, j]
                index = (i,) if matrix.cols == 1 else (i, j)
                rows.append(
                    (
                        _entry_name(key, index),
                        str(derivation.exact_form(value)),
                        derivation.decimal(value),
                    )
                )
    return tuple(rows)


_ORDER = [LAMBDIFIED, REFERENCE, USER, FINITE_DIFFERENCES, DOCUMENTED]


def _function_name(function: Backprop | None) -> str | None:
    if function is None:
        return None
    module = getattr(function, "__module__", None) or ""
    name = getattr(function, "__qualname__", None) or repr(function)
    return f"{module}.{name}" if module and not module.startswith("_symbackprop_user") else name


def _title(derivation: Derivation) -> str:
    from .render.common import title

    return title(derivation)


# ----------------------------------------------------------------------------- diagnosis


def _by_name(report: CheckReport) -> dict[str, list[Comparison]]:
    groups: dict[str, list[Comparison]] = {}
    for c in report.comparisons:
        groups.setdefault(c.name, []).append(c)
    return groups


def _oracle_label(name: str) -> str:
    return {
        LAMBDIFIED: "the lambdified closed forms",
        REFERENCE: "the reference NumPy backprop",
        USER: "your backprop",
        FINITE_DIFFERENCES: "central finite differences",
    }[name]


def _diagnosis(report: CheckReport) -> list[str]:
    lines: list[str] = []
    groups = _by_name(report)
    count = report.settings.get("random_points", 0)
    where = "at the documented point" + (f" and at {count} random points" if count else "")
    agree = [
        n for n in _ORDER[:-1] if n in groups and all(c.ok and not c.skipped for c in groups[n])
    ]
    disagree = [n for n in _ORDER[:-1] if n in groups and not all(c.ok for c in groups[n])]
    documented = report.documented
    if documented is not None:
        lines += _documented_lines(documented)
    if agree:
        names = [_oracle_label(n) for n in agree]
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        verb = "agrees" if len(names) == 1 else "all agree"
        lines.append(f"{listed[0].upper()}{listed[1:]} {verb} with the exact values {where}.")
    for name in disagree:
        failing = [c for c in groups[name] if not c.ok]
        points = ", ".join(c.point for c in failing[:3]) + (" ..." if len(failing) > 3 else "")
        entries = sum(len(c.failures) for c in failing)
        lines.append(
            f"{_oracle_label(name)[0].upper()}{_oracle_label(name)[1:]} disagrees with the exact "
            f"values in {entries} entries ({points})."
        )
    if documented is not None and documented.failures and REFERENCE in agree:
        lines.append(
            "So the NumPy backprop (the notebook's delta recursion) was right; it is the "
            "hand-computed values that are off."
        )
    if USER in disagree and REFERENCE in agree and LAMBDIFIED in agree:
        lines.append(
            "The reference backprop and the closed forms agree with each other and with the exact "
            "values, so the difference is in your backprop."
        )
    return lines


def _documented_lines(documented: Documented) -> list[str]:
    lines = []
    failures = documented.failures
    total = len(documented.entries)
    if failures:
        names = ", ".join(e.entry for e in failures)
        lines.append(
            f"{len(failures)} of {total} documented entries are out of tolerance: {names}."
        )
    else:
        lines.append(f"All {total} documented entries are within tolerance.")
    lines.append(
        f"The table as a whole would need atol >= {_round_up(documented.loosest_atol)} "
        f"(with rtol = {_rational_text(documented.rtol)}); it has atol = "
        f"{_rational_text(documented.atol)}."
    )
    misread = sorted((e for e in documented.entries if e.misread), key=lambda e: e.ok)
    if misread:
        shown = ", ".join(f"{e.entry} {e.should_read} (not {e.documented})" for e in misread[:4])
        more = f", and {len(misread) - 4} more (column 'should read')" if len(misread) > 4 else ""
        lines.append(
            f"At the precision it was written in, {len(misread)} of {total} entries should read "
            f"differently: {shown}{more}."
        )
    coarse = [e for e in failures if not e.misread]
    if coarse:
        shown = ", ".join(f"{e.entry} = {e.documented}" for e in coarse)
        lines.append(
            f"Correctly rounded but written too coarsely for atol = "
            f"{_rational_text(documented.atol)}: {shown}."
        )
    rounded = documented.rounded_prediction
    if rounded is not None:
        values = (
            rounded.rounded[0] if len(rounded.rounded) == 1 else f"({', '.join(rounded.rounded)})"
        )
        exact = rounded.exact[0] if len(rounded.exact) == 1 else f"({', '.join(rounded.exact)})"
        example = f" (e.g. {rounded.example[0]} = {rounded.example[1]})" if rounded.example else ""
        lines.append(
            f"The hand values are consistent with ŷ rounded to {rounded.rounded[0]}: recomputing "
            f"the gradients exactly from ŷ = {values} instead of {exact} reproduces all "
            f"{rounded.reproduced} documented gradient entries as written{example}."
        )
    return lines


def _round_up(value: mpmath.mpf) -> str:
    """``value`` rounded up to 2 significant digits: 1.839e-4 -> '1.9e-4'."""
    number = _decimal(value, 20) if value > 0 else None
    if number is None:
        return "0" if value <= 0 else _text(value)
    exponent = number.adjusted() - 1
    scaled = (number.scaleb(-exponent) - Decimal("1e-9")).to_integral_value(ROUND_CEILING)
    return _rational_text(scaled.scaleb(exponent))


def _rational_text(value: Rational | Decimal) -> str:
    """A tolerance as a person writes it: 1e-4, 2.5e-6, 0.01 (exactly, at any magnitude)."""
    if not isinstance(value, Decimal):
        value = _decimal(Rational(value), 20) or Decimal(0)
    if value != 0 and not Decimal("1e-3") <= abs(value) < Decimal("1e6"):
        rounded = _decimal(Rational(Fraction(value)), 3) or value
        return f"{_g(rounded.scaleb(-rounded.adjusted()))}e{rounded.adjusted()}"
    return _g(_decimal(Rational(Fraction(value)), 6) if value else value)


def _g(value: Decimal | None) -> str:
    """A Decimal without trailing zeros, in fixed notation: 2.50 -> '2.5', 1.0E+5 -> '100000'."""
    return f"{(value or Decimal(0)).normalize():f}"


# ----------------------------------------------------------------------------- rendering


def _aggregate(comparisons: list[Comparison]) -> tuple[int, float, float, int, int, int]:
    entries = sum(c.entries for c in comparisons)
    max_abs = max((c.max_abs_error for c in comparisons), default=0.0)
    max_rel = max((c.max_rel_error for c in comparisons), default=0.0)
    failing_points = sum(1 for c in comparisons if not c.ok)
    failing_entries = sum(len(c.failures) for c in comparisons)
    flagged = sum(len(c.flagged) for c in comparisons)
    return entries, max_abs, max_rel, failing_points, failing_entries, flagged


def _verdict(comparisons: list[Comparison], several: bool) -> str:
    if all(c.skipped for c in comparisons):
        return "skipped"
    entries, _, _, points, failing, flagged = _aggregate(comparisons)
    if failing:
        where = f" at {points} of {len(comparisons)} points" if several else ""
        text = f"FAIL: {failing} of {entries} entries{where}"
    else:
        text = "ok"
    if flagged:
        text += f" ({flagged} not judged: kink)"
    return text


def _table(groups: list[list[Comparison]], several: bool) -> list[str]:
    lines = [
        f"  {'comparison':<30} {'entries':>7}  {'max abs err':>11}  {'max rel err':>11}  verdict"
    ]
    for comparisons in groups:
        entries, max_abs, max_rel, *_ = _aggregate(comparisons)
        lines.append(
            f"  {comparisons[0].name:<30} {entries:>7}  {max_abs:>11.1e}  {max_rel:>11.1e}  "
            f"{_verdict(comparisons, several)}"
        )
    return lines


def _failure_table(comparisons: list[Comparison]) -> str:
    failing = [c for c in comparisons if c.failures]
    total = sum(len(c.failures) for c in failing)
    if not total:
        return "no failing entries"
    lines = [f"{total} failing entries"]
    header = f"  {'entry':<10} {'value':>18} {'exact':>18} {'difference':>11} {'tolerance':>10}"
    for c in failing:
        lines += [f"{c.name} at {_at(c.point)}:", header]
        for f in c.failures:
            lines.append(
                f"  {f.entry:<10} {f.value:>18} {f.exact:>18} {_sci(f.difference):>11} "
                f"{_sci(f.tolerance, ''):>10}"
            )
    return "\n".join(lines)


def _report_text(report: CheckReport) -> str:
    s = report.settings
    lines = [f"symbackprop check of {report.title}"]
    if s.get("backprop"):
        lines.append(f"your backprop: {s['backprop']}")
    lines += [
        f"ReLU'(0) = {s['relu_prime_at_zero']}; pass when |value - exact| <= atol + rtol*|exact|, "
        f"exact values at {PRECISION} digits",
        f"  float64 gradients: rtol = {s['rtol']:g}, atol = {s['atol']:g}; finite differences "
        f"(step {s['finite_difference_step']}): rtol = {s['finite_difference_rtol']:g}, "
        f"atol = {s['finite_difference_atol']:g}",
        "",
    ]
    lines += [f"note: {n}" for n in report.notes] + ([""] if report.notes else [])
    at_point = [
        [c for c in report.comparisons if c.name == name and c.point == DOCUMENTED_POINT]
        for name in _ORDER
    ]
    lines.append("At the documented point")
    lines += _table([g for g in at_point if g], several=False)
    count = s.get("random_points", 0)
    if count:
        random_groups = [
            [c for c in report.comparisons if c.name == name and c.point != DOCUMENTED_POINT]
            for name in _ORDER
        ]
        lines += ["", f"At {count} random points (seed {s['seed']})"]
        lines += _table([g for g in random_groups if g], several=True)
    if report.documented is not None:
        lines += ["", *_documented_table(report.documented)]
    failures = report.failures()
    lines += [""]
    if failures:
        lines.append(f"Failing entries ({len(failures)})")
        for c in report.comparisons:
            if c.failures:
                lines.append(f"  {c.name} at {_at(c.point)}:")
                lines += [f"    {f.to_text()}" for f in c.failures]
        lines.append("")
    if report.updated:
        training = report.settings.get("training", "")
        lines.append(f"After one gradient-descent step{training}")
        lines += [f"  {entry:<12} = {exact}  ≈ {value}" for entry, exact, value in report.updated]
        lines.append("")
    if report.diagnosis:
        lines.append("Diagnosis")
        lines += [f"  - {line}" for line in report.diagnosis]
        lines.append("")
    failing = sorted({c.name for c in report.comparisons if not c.ok}, key=_ORDER.index)
    if report.ok:
        lines.append("Result: ok (exit status 0)")
    else:
        lines.append(
            f"Result: FAIL, {len(failures)} failing entries in: {', '.join(failing)} "
            "(exit status 1)"
        )
    return "\n".join(lines) + "\n"


def _documented_table(documented: Documented) -> list[str]:
    lines = [
        f"Documented values (atol = {_rational_text(documented.atol)}, rtol = "
        f"{_rational_text(documented.rtol)}: pass when |exact - documented| <= "
        "atol + rtol*|documented|)",
        f"  {'entry':<10} {'documented':>11} {'exact':>16} {'difference':>11} {'tolerance':>10}"
        f"  {'digits':>7}  {'should read':>11}  verdict",
    ]
    for e in documented.entries:
        lines.append(
            f"  {e.entry:<10} {e.documented:>11} {e.exact:>16} {_sci(e.difference):>11} "
            f"{_sci(e.tolerance, ''):>10}  {f'{e.digits_matched} of {e.digits_written}':>7}  "
            f"{e.should_read:>11}  {'ok' if e.ok else 'FAIL'}"
        )
    return lines


def _json(report: CheckReport) -> dict[str, Any]:
    def number(value: Real) -> float | str | None:
        """A float, the text of a finite value beyond float64, or None for inf and NaN."""
        if isinstance(value, float):
            return value if math.isfinite(value) else None
        return _sci(value, "") if mpmath.isfinite(value) else None

    def failure(f: EntryFailure) -> dict[str, Any]:
        return {
            "comparison": f.comparison,
            "point": f.point,
            "entry": f.entry,
            "value": f.value,
            "exact": f.exact,
            "difference": number(f.difference),
            "tolerance": number(f.tolerance),
        }

    document: dict[str, Any] = {
        "ok": report.ok,
        "title": report.title,
        "settings": report.settings,
        "notes": list(report.notes),
        "updated": {
            entry: {"exact": exact, "value": value} for entry, exact, value in report.updated
        }
        or None,
        "comparisons": [
            {
                "name": c.name,
                "point": c.point,
                "ok": c.ok,
                "entries": c.entries,
                "max_abs_error": number(c.max_abs_error),
                "max_rel_error": number(c.max_rel_error),
                "rtol": number(c.rtol),
                "atol": number(c.atol),
                "failures": [failure(f) for f in c.failures],
                "not_judged": list(c.flagged),
                "skipped": c.skipped,
            }
            for c in report.comparisons
        ],
        "failures": [failure(f) for f in report.failures()],
        "documented": None,
        "diagnosis": list(report.diagnosis),
    }
    documented = report.documented
    if documented is not None:
        rounded = documented.rounded_prediction
        document["documented"] = {
            "atol": str(documented.atol),
            "rtol": str(documented.rtol),
            "loosest_atol": number(_real(documented.loosest_atol)),
            "entries": [
                {
                    "entry": e.entry,
                    "documented": e.documented,
                    "exact": e.exact,
                    "difference": number(e.difference),
                    "tolerance": number(e.tolerance),
                    "ok": e.ok,
                    "digits_written": e.digits_written,
                    "digits_matched": e.digits_matched,
                    "should_read": e.should_read,
                }
                for e in documented.entries
            ],
            "rounded_prediction": None
            if rounded is None
            else {
                "places": rounded.places,
                "yhat_rounded": list(rounded.rounded),
                "yhat_exact": list(rounded.exact),
                "entries_reproduced": rounded.reproduced,
            },
        }
    return document
