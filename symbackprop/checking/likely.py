"""The likely mistake: the catalogue (:mod:`symbackprop.mistakes`) against a check's failures.

For the user's backprop, a catalogued mistake counts when it reproduces a failing parameter
at the documented point and at every random point; for an ``[expected]`` table, when it
reproduces the documented entries as written. Whatever the catalogue does not reproduce is
listed as unexplained, never guessed. The documented point is also tested for weakness: the
catalogued mistakes that give the exact gradients there, but not at some random point.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import mpmath
import numpy as np

from ..derivation import Derivation
from ..mistakes.diagnose import (
    MAX_PARAMETERS,
    MistakeMatch,
    diagnose_backprop,
    diagnose_documented,
    indistinguishable,
    parameter_count,
    turned_back,
)
from ..mistakes.stack import (
    StackPointData,
    as_written,
    close_to_user,
    diagnose_stack,
    indistinguishable_stack,
)
from ..stack_spec import StackSpec
from .compare import USER, Comparison, Prepared, failing_parameters
from .documented import Documented
from .stack_documented import documented_literals


@dataclass(frozen=True)
class Likely:
    """What the catalogue says about a check."""

    mistakes: tuple[MistakeMatch, ...] = ()
    #: (source, parameters) that fail and that no catalogued mistake reproduces.
    unexplained: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: Catalogued mistakes that the documented point cannot tell from a correct backprop.
    weak: tuple[MistakeMatch, ...] = ()
    note: str | None = None


def likely_mistakes(
    prepared: Prepared,
    user: Sequence[dict[str, np.ndarray]] | None,
    comparisons: Sequence[Comparison],
    documented: Documented | None,
    rtol: float,
    atol: float,
) -> Likely:
    """The catalogue against the user's failing parameters and the documented table."""
    derivation = prepared.derivation
    count = parameter_count(derivation.spec)
    if count > MAX_PARAMETERS:
        return Likely(note=_too_large(count))
    specs = [p.spec for p in prepared.points]
    convention = derivation.options.relu_prime_at_zero
    mistakes: list[MistakeMatch] = []
    unexplained: list[tuple[str, tuple[str, ...]]] = []
    failing = failing_parameters([c for c in comparisons if c.name == USER])
    exact = [_exact(point.numbers) for point in prepared.points]
    if user is not None and failing:
        back, turned, still = turned_back(user, exact, failing, rtol, atol)
        found = [] if turned is None else [turned]
        if still:
            found += diagnose_backprop(specs, back, still, convention, rtol, atol)
        mistakes += found
        unexplained += _left("backprop", failing, found)
    if documented is not None:
        found, left = _documented(derivation, documented)
        mistakes += found
        unexplained += left
    weak = indistinguishable(specs, exact, convention, rtol, atol)
    return Likely(tuple(mistakes), tuple(unexplained), tuple(weak))


def _exact(numbers: dict[str, list[list[mpmath.mpf]]]) -> dict[str, np.ndarray]:
    """The exact gradients of a point as object arrays keyed ``"W1"``, ``"b1"``, ..."""
    return {key[1:]: np.array(rows, dtype=object) for key, rows in numbers.items()}


def _documented(
    derivation: Derivation, documented: Documented
) -> tuple[list[MistakeMatch], list[tuple[str, tuple[str, ...]]]]:
    """The parameters with an entry that is not the exact value as written (a value only
    written too coarsely is no mistake) against the catalogue."""
    failing = _misread(documented)
    if not failing:
        return [], []
    literals = documented.literals
    convention = derivation.options.relu_prime_at_zero
    found = diagnose_documented(derivation.spec, literals, failing, convention)
    return found, _left("documented", failing, found)


def _left(
    source: str, failing: list[str], found: Sequence[MistakeMatch]
) -> list[tuple[str, tuple[str, ...]]]:
    explained = {p for m in found for p in m.parameters}
    left = tuple(p for p in failing if p not in explained)
    return [(source, left)] if left else []


def _too_large(count: int) -> str:
    return (
        f"the mistake catalogue was not tried: {count} parameters, above its limit of "
        f"{MAX_PARAMETERS}"
    )


def stack_likely(
    spec: StackSpec,
    layers: Sequence[dict[str, Any]],
    options: Mapping[str, Any],
    points: Sequence[StackPointData],
    comparisons: Sequence[Comparison],
    documented: Documented | None,
    rtol: float,
    atol: float,
) -> Likely:
    """The layer catalogue against a stack's failing parameters (the user's backprop) and its
    misread ``[expected]`` entries (reproduced as written, at the documented point).

    ``points[i].user`` holds the user's gradients keyed ``"W1"``; ``exact`` below comes from
    the comparisons' own failures: a parameter fails when some entry of it does."""
    failing = failing_parameters([c for c in comparisons if c.name == USER])
    found: list[MistakeMatch] = []
    unexplained: list[tuple[str, tuple[str, ...]]] = []
    if failing and points:
        exact = [dict(p.exact) for p in points]
        back, turned, still = turned_back([p.user for p in points], exact, failing, rtol, atol)
        found += [] if turned is None else [turned]
        if still:
            data = [replace(p, user=u) for p, u in zip(points, back, strict=True)]
            matches = close_to_user(data, rtol, atol)
            found += diagnose_stack(spec, layers, data, still, options, matches)
        unexplained += _left("backprop", failing, found)
    if documented is not None and points:
        misread = _misread(documented)
        if misread:
            matches = as_written(documented_literals(spec))
            mine = diagnose_stack(
                spec, layers, points[:1], misread, options, matches, "documented"
            )
            found += mine
            unexplained += _left("documented", misread, mine)
    count = sum(int(np.size(v)) for v in points[0].parameters.values()) if points else 0
    if count > MAX_PARAMETERS:
        note = (
            f"the weak test points were not looked for: {count} parameters, above the limit "
            f"of {MAX_PARAMETERS}"
        )
        return Likely(tuple(found), tuple(unexplained), note=note)
    weak = indistinguishable_stack(spec, layers, points, options, rtol, atol) if points else []
    return Likely(tuple(found), tuple(unexplained), tuple(weak))


def _misread(documented: Documented) -> list[str]:
    """The parameters with an entry that is not the exact value as written (a value only
    written too coarsely is no mistake)."""
    return list(
        {
            e.entry.split("[")[0][1:]: None
            for e in documented.entries
            if e.entry.startswith("d") and e.misread
        }
    )
