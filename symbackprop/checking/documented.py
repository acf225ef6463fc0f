"""The ``[expected]`` table against the exact values, and what explains its differences.

Documented values are compared with numpy.isclose semantics, decided exactly (at 60 significant
digits, never against a float), and diagnosed: the digits each entry matches, the loosest
``atol`` the table needs, what each entry should read at its written precision, and whether the
hand values follow from a rounded ŷ.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal
from fractions import Fraction
from typing import Any, TypeAlias

import mpmath
from sympy import ImmutableMatrix, Rational

from .. import notation
from ..derivation import Derivation
from ..spec import NetworkSpec
from .compare import DOCUMENTED, DOCUMENTED_POINT, Comparison, EntryFailure
from .exact_tables import Table, exact_numbers, indices
from .precision import DIGITS, PRECISION, Number, Real, mp, number_text, plain, real
from .updated import learning_rate_reproducing, updated_numbers

#: Documented numbers as written, by key; None marks an entry the source does not give.
Literals: TypeAlias = dict[str, list[list[Decimal | None]]]


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
    #: The documented numbers as written, by key, with None where an entry is not documented.
    literals: Literals = field(default_factory=dict)
    #: Whether each entry's tolerance is half a unit in its last printed digit.
    printed: bool = False
    #: Misread values after the step that the update-order slip reproduces as written.
    update_order: tuple[str, ...] = ()
    #: Another learning rate that gives every misread updated parameter as written.
    learning_rate: Fraction | None = None

    @property
    def failures(self) -> list[DocumentedEntry]:
        return [e for e in self.entries if not e.ok]


def diagnose_documented(derivation: Derivation, exact: Table) -> Documented | None:
    """The ``[expected]`` table of ``derivation.spec`` against ``exact``; None without one."""
    expected = derivation.spec.expected
    if expected is None:
        return None
    written = written_values(derivation.spec)
    if any(key.split("[")[0].endswith("_updated") for key in written):
        exact = {**exact, **updated_numbers(derivation, exact)}
    literals = _grids(written, exact)
    atol, rtol = expected.atol, expected.rtol
    cells = [
        (notation.entry_name(key, index), Rational(Fraction(literal)), literal, exact[key][i][j])
        for key, grid in literals.items()
        for (i, j), index in indices((len(grid), len(grid[0])))
        if (literal := grid[i][j]) is not None
    ]
    entries = [
        _entry(name, d, literal, v, atol, rtol, expected.printed) for name, d, literal, v in cells
    ]
    with mpmath.workdps(PRECISION):
        excess = [abs(mp(d) - mp(v)) - mp(rtol) * abs(mp(d)) for _, d, _, v in cells]
        needed = max([mpmath.mpf(0), *excess])
    rounded = _rounded_prediction(derivation, exact, literals, entries)
    late = _update_order(derivation, exact, literals, entries)
    rate = learning_rate_reproducing(
        derivation,
        exact,
        {
            e.entry: Decimal(e.documented)
            for e in entries
            if e.misread and "_updated[" in e.entry and not e.entry.startswith("loss")
        },
    )
    return Documented(
        atol, rtol, tuple(entries), needed, rounded, literals, expected.printed, late, rate
    )


def _grids(written: dict[str, list[list[Decimal]]], exact: Table) -> Literals:
    """The written values by whole key: entries given one by one (``dW2[0,0]``) fill holes."""
    grids: Literals = {}
    for key, grid in written.items():
        base, at = notation.split_entry(key)
        if at is None:
            grids[key] = [list(row) for row in grid]
            continue
        shape = exact[base]
        target = grids.setdefault(base, [[None] * len(shape[0]) for _ in shape])
        i, j = (at[0], 0) if len(at) == 1 else at
        target[i][j] = grid[0][0]
    return grids


def _entry(
    name: str,
    documented: Rational,
    literal: Decimal,
    value: Number,
    atol: Rational,
    rtol: Rational,
    printed: bool = False,
) -> DocumentedEntry:
    """The documented value (as a rational and as written) against the exact ``value``.

    ``printed`` adds half a unit in the last written digit to the tolerance.
    """
    with mpmath.workdps(PRECISION):
        difference = mp(documented) - mp(value)
        relative = float(abs(difference) / abs(mp(value))) if value != 0 else 0.0
    bound = atol + rtol * abs(documented)
    if printed:
        bound += Rational(1, 2) * Rational(10) ** int(literal.as_tuple().exponent)
    written = _significant(literal)
    return DocumentedEntry(
        name,
        plain(literal),
        number_text(value),
        real(difference),
        real(bound),
        _within(value, documented, bound),
        written,
        _digits_matched(value, literal, written),
        _should_read(value, int(literal.as_tuple().exponent)),
        relative,
    )


def _rounded_prediction(
    derivation: Derivation,
    exact: Table,
    literals: Literals,
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
    yhat = [v for row in exact["yhat"] for v in row]
    output = list(derivation.network.output.activation)
    by_name = {e.entry: e for e in entries}
    total = sum(d is not None for k in gradient_keys for row in literals[k] for d in row)
    for places in _candidate_places(derivation, literals):
        rounded = [_round(v, -places) for v in yhat]
        override = {s: Rational(Fraction(v)) for s, v in zip(output, rounded, strict=True)}
        recomputed = exact_numbers(
            derivation.network,
            derivation.gradients,
            derivation.options.relu_prime_at_zero,
            override,
        )
        reproduced = _reproduced(recomputed, literals, gradient_keys)
        if len(reproduced) == total:
            telling = sorted(reproduced, key=lambda n: (by_name[n].ok, not by_name[n].misread))
            return RoundedPrediction(
                places,
                tuple(f"{v:f}" for v in rounded),
                tuple(number_text(v) for v in yhat),
                len(reproduced),
                (telling[0], by_name[telling[0]].documented) if telling else None,
            )
    return None


def _update_order(
    derivation: Derivation, exact: Table, literals: Literals, entries: list[DocumentedEntry]
) -> tuple[str, ...]:
    """The misread ``*_updated`` entries that the update-order slip reproduces as written."""
    misread = {e.entry for e in entries if e.misread and "_updated[" in e.entry}
    if not misread:
        return ()
    late = updated_numbers(derivation, exact, late=True)
    keys = [k for k in literals if k in late]
    return tuple(n for n in _reproduced(late, literals, keys) if n in misread)


def _candidate_places(derivation: Derivation, literals: Literals) -> list[int]:
    """The decimal places ŷ may have been rounded to: as written for ŷ and db_L first, then 1-6."""
    candidates: list[int] = []
    for key in ("yhat", f"db{len(derivation.network.layers)}"):
        if key in literals:
            candidates.append(
                max(
                    -int(d.as_tuple().exponent)
                    for row in literals[key]
                    for d in row
                    if d is not None
                )
            )
    candidates += [p for p in range(1, 7) if p not in candidates]
    return [p for p in candidates if p >= 1]


def _reproduced(recomputed: Table, literals: Literals, gradient_keys: list[str]) -> list[str]:
    """The documented gradient entries that are the ``recomputed`` values as written."""
    return [
        notation.entry_name(key, index)
        for key in gradient_keys
        for (i, j), index in indices((len(literals[key]), len(literals[key][0])))
        if (literal := literals[key][i][j]) is not None
        and _round(recomputed[key][i][j], int(literal.as_tuple().exponent)) == literal
    ]


def documented_comparison(documented: Documented) -> Comparison:
    """The documented table as one more comparison, at the documented point."""
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


def written_values(spec: NetworkSpec) -> dict[str, list[list[Decimal]]]:
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
    if key.startswith("loss") or notation.split_entry(key)[1] is not None:
        return [[value]]
    if key.startswith(("dW", "W")):
        return value if isinstance(value, list) else None
    if not isinstance(value, list):
        return None
    if key.startswith(("db", "b")) or not batched:
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
        value = mp(exact)
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
        return bool(abs(mp(exact) - mp(documented)) <= mp(bound))


def _round(value: Number, exponent: int) -> Decimal:
    """``value`` rounded half to even to a multiple of 10**exponent (exactly for rationals)."""
    if isinstance(value, Rational):
        units = round(Fraction(int(value.p), int(value.q)) / Fraction(10) ** exponent)
    else:
        with mpmath.workdps(PRECISION):
            units = int(mpmath.nint(mp(value) / mpmath.mpf(10) ** exponent))
    exact = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)
    return Decimal(units).scaleb(exponent, exact)


def _should_read(value: Number, exponent: int) -> str:
    """``value`` as it reads at the written precision, cut to :data:`DIGITS` significant digits."""
    rounded = _round(value, exponent)
    if len(rounded.as_tuple().digits) > DIGITS:  # far from the documented value anyway
        rounded = Context(prec=DIGITS, Emax=MAX_EMAX, Emin=MIN_EMIN).plus(rounded)
    return plain(rounded)
