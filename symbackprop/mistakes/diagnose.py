"""Which catalogued mistake reproduces the numbers that disagree, parameter by parameter.

For every variant of every catalogue entry, the gradients that mistake gives are computed at
40 digits at each point, and compared with the user's float64 numbers with the check's
tolerances. A variant explains a parameter only if it reproduces it at every point: a match at
the documented point alone does not count. Documented values are reproduced "as written": the
variant's value rounded to the digits the table gives equals the documented decimal.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import mpmath
import numpy as np
from sympy import Rational

from ..spec import NetworkSpec
from .catalogue import MISTAKES, Variant
from .program import DIGITS, TEXTBOOK, Gradients, Memo, Net, Program, load_net, run

#: Above this many parameters the catalogue is not tried (each variant is a 40-digit backprop).
MAX_PARAMETERS = 5000
#: Mistakes that say nothing about a test point's power: a rounding is never exact.
_NOT_WEAKNESSES = ("rounded-intermediate",)


@dataclass(frozen=True)
class MistakeMatch:
    """A catalogued mistake that reproduces the numbers of ``parameters`` at ``points``."""

    parameters: tuple[str, ...]
    mistake: str
    detail: tuple[tuple[str, str], ...]
    points: str
    source: str = "backprop"

    @property
    def summary(self) -> str:
        return MISTAKES[self.mistake].summary

    def detail_text(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in self.detail)


def parameter_count(spec: NetworkSpec) -> int:
    weights = sum(int(w.rows * w.cols) for w in spec.weights)
    return weights + (0 if spec.biases is None else sum(int(b.rows) for b in spec.biases))


def _variants() -> Iterator[tuple[str, Callable[[NetworkSpec], Iterator[Variant]]]]:
    for entry in MISTAKES.values():
        yield entry.id, entry.variants


class _Points:
    """The points at working precision, loaded once, with the true gradients."""

    def __init__(self, specs: Sequence[NetworkSpec], convention: Rational) -> None:
        self.specs = specs
        self.convention = convention
        self._nets: dict[int, Net] = {}
        self._memos: dict[int, Memo] = {}

    def net(self, i: int) -> Net:
        if i not in self._nets:
            self._nets[i] = load_net(self.specs[i], self.convention)
        return self._nets[i]

    def run(self, program: Program, i: int) -> Gradients | None:
        """The gradients of ``program`` at point ``i``, or None where its arithmetic fails (a
        mistaken formula may divide by zero or overflow where the right one does not)."""
        try:
            return run(program, self.net(i), self._memos.setdefault(i, Memo()))
        except (ArithmeticError, ValueError):
            return None


#: How far, relative to the magnitudes involved, float64 screening keeps from a tolerance's
#: edge: entries nearer than this to it are decided at :data:`DIGITS` digits.
_SCREEN_MARGIN = 64 * float(np.finfo(np.float64).eps)


_TINY = float(np.finfo(np.float64).tiny)  # above the error of a subnormal float


def _float(value: object) -> float:
    """``value`` as a float; NaN (decided at full precision) where it is none, e.g. complex."""
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def _close(expected: np.ndarray, actual: np.ndarray, rtol: float, atol: float) -> bool:
    """Whether every float of ``actual`` is within ``atol + rtol |v|`` of the exact ``v`` of
    ``expected`` (mpmath numbers): decided in float64 where that is far from the tolerance's
    edge (the rounding of ``v`` and of the float arithmetic is far below the margin), and at
    :data:`DIGITS` digits for the entries near it or beyond float64's range."""
    if expected.shape != actual.shape:
        return False
    u = np.asarray(actual, dtype=np.float64).ravel()
    if not np.isfinite(u).all():
        return False
    exact = expected.ravel()
    with np.errstate(all="ignore"):
        v = np.array([_float(e) for e in exact], dtype=np.float64)
        difference, tolerance = np.abs(u - v), atol + rtol * np.abs(v)
        margin = _SCREEN_MARGIN * (np.abs(u) + np.abs(v) + tolerance) + _TINY
        unclear = ~np.isfinite(v) | ~(np.abs(difference - tolerance) > margin)
    if (difference[~unclear] > tolerance[~unclear]).any():
        return False
    with mpmath.workdps(DIGITS):
        for k in np.flatnonzero(unclear):
            e = exact[k]
            if not abs(mpmath.mpf(float(u[k])) - e) <= atol + rtol * abs(e):
                return False
    return True


def _group(found: Found, points: str, source: str) -> list[MistakeMatch]:
    """One match per (mistake, detail), with the parameters it explains, in catalogue order."""
    groups: dict[tuple[str, tuple[tuple[str, str], ...]], list[str]] = {}
    for (parameter, mistake), detail in found.items():
        groups.setdefault((mistake, detail), []).append(parameter)
    order = list(MISTAKES)
    return [
        MistakeMatch(tuple(params), mistake, detail, points, source)
        for (mistake, detail), params in sorted(
            groups.items(), key=lambda kv: order.index(kv[0][0])
        )
    ]


def _reproducing(
    points: _Points,
    candidates: set[str],
    matches: Callable[[int, str, np.ndarray], bool],
    count: int,
) -> Iterator[tuple[str, tuple[tuple[str, str], ...], set[str]]]:
    """(mistake, detail, parameters) for each variant reproducing some candidate at every point."""
    spec = points.specs[0]
    for mistake, variants in _variants():
        for variant in variants(spec):
            left = set(candidates)
            program = variant.change(TEXTBOOK)
            for i in range(count):
                grads = points.run(program, i)
                if grads is None:
                    break
                left = {p for p in left if p in grads and matches(i, p, grads[p])}
                if not left:
                    break
            else:
                if left:
                    yield mistake, variant.detail, left


def diagnose_backprop(
    specs: Sequence[NetworkSpec],
    user: Sequence[Mapping[str, np.ndarray]],
    failing: Iterable[str],
    convention: Rational,
    rtol: float,
    atol: float,
) -> list[MistakeMatch]:
    """The catalogued mistakes that reproduce the user's failing parameters at every point.

    ``user[i]`` holds the user's gradients at ``specs[i]`` keyed ``"W1"``, ``"b1"`` ... in the
    notebook's shapes (or in the user's shape, where it differs).
    """
    points = _Points(specs, convention)

    def matches(i: int, parameter: str, values: np.ndarray) -> bool:
        return _close(values, np.asarray(user[i][parameter]), rtol, atol)

    found = _explain(_reproducing(points, set(failing), matches, len(specs)))
    return _group(found, f"{len(specs)}/{len(specs)}", "backprop")


Found = dict[tuple[str, str], tuple[tuple[str, str], ...]]


def _explain(reproducing: Iterable[tuple[str, tuple[tuple[str, str], ...], set[str]]]) -> Found:
    """(parameter, mistake) -> the detail of the variant that explains it: per mistake, the
    variant that reproduces the most parameters (one mistake explains them all), then the
    first in catalogue order. Different mistakes with the same numbers are all kept."""
    ranked = sorted(enumerate(reproducing), key=lambda item: (-len(item[1][2]), item[0]))
    found: Found = {}
    for _, (mistake, detail, parameters) in ranked:
        for p in sorted(parameters):
            found.setdefault((p, mistake), detail)
    return found


def diagnose_documented(
    spec: NetworkSpec,
    literals: Mapping[str, list[list[Decimal | None]]],
    failing: Iterable[str],
    convention: Rational,
) -> list[MistakeMatch]:
    """The catalogued mistakes whose gradients, at the documented point, read as the table does."""
    points = _Points([spec], convention)

    def matches(i: int, parameter: str, values: np.ndarray) -> bool:
        written = literals.get(f"d{parameter}")
        return written is not None and _as_written(values, written)

    found = _explain(_reproducing(points, set(failing), matches, 1))
    return _group(found, "1/1", "documented")


def _as_written(values: np.ndarray, written: list[list[Decimal | None]]) -> bool:
    if values.shape != (len(written), len(written[0])):
        return False
    with mpmath.workdps(DIGITS):
        for i, row in enumerate(written):
            for j, literal in enumerate(row):
                if literal is None:  # not documented
                    continue
                unit = mpmath.mpf(10) ** int(literal.as_tuple().exponent)
                rounded = mpmath.nint(values[i, j] / unit) * unit
                if abs(rounded - mpmath.mpf(str(literal))) > unit / 4:
                    return False
    return True


def indistinguishable(
    specs: Sequence[NetworkSpec],
    exact: Sequence[Mapping[str, np.ndarray]],
    convention: Rational,
    rtol: float,
    atol: float,
) -> list[MistakeMatch]:
    """Mistakes that give the exact gradients (``exact[i]``, keyed ``"W1"``) at the documented
    point (``specs[0]``) but not at some random point: the documented point cannot tell them
    from a correct backprop."""
    if len(specs) < 2:
        return []
    points = _Points(specs, convention)
    weak: list[MistakeMatch] = []
    for mistake, variants in _variants():
        if mistake in _NOT_WEAKNESSES:
            continue
        for variant in variants(specs[0]):
            program = variant.change(TEXTBOOK)
            if not _same(points.run(program, 0), exact[0], rtol, atol):
                continue
            if any(
                not _same(points.run(program, i), exact[i], rtol, atol)
                for i in range(1, len(specs))
            ):
                weak.append(MistakeMatch((), mistake, variant.detail, "", "documented point"))
                break
    return weak


def _same(
    variant: Gradients | None, exact: Mapping[str, np.ndarray], rtol: float, atol: float
) -> bool:
    """Whether the variant's gradients are the exact ones, to float64 tolerances."""
    if variant is None or variant.keys() != exact.keys():
        return False
    return all(_close(exact[k], variant[k].astype(float), rtol, atol) for k in variant)


def turned_back(
    user: Sequence[Mapping[str, np.ndarray]],
    exact: Sequence[Mapping[str, np.ndarray]],
    failing: Iterable[str],
    rtol: float,
    atol: float,
) -> tuple[list[dict[str, np.ndarray]], MistakeMatch | None, list[str]]:
    """The user's gradients with each one returned in the transposed shape (at every point,
    as code does) turned back; the ``transposed`` match for those; the failing parameters that
    are still wrong once turned back, for the rest of the catalogue."""
    failing = list(failing)
    turned = [
        p
        for p in failing
        if all(
            np.shape(u[p]) != np.shape(e[p]) and np.shape(u[p])[::-1] == np.shape(e[p])
            for u, e in zip(user, exact, strict=True)
        )
    ]
    if not turned:
        return [dict(u) for u in user], None, failing
    back = [{k: (v.T if k in turned else v) for k, v in u.items()} for u in user]
    right = {
        p
        for p in turned
        if all(_close(e[p], u[p], rtol, atol) for u, e in zip(back, exact, strict=True))
    }
    count = f"{len(user)}/{len(user)}"
    match = MistakeMatch(tuple(turned), "transposed", (("where", "the returned gradient"),), count)
    return back, match, [p for p in failing if p not in right]
