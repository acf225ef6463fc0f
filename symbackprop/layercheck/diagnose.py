"""Which catalogued mistake reproduces the user's failing arrays, exactly, at every point."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import mpmath
import numpy as np

from ..checking.precision import GUARD, PRECISION
from .compare import matches
from .kinds import Kind, Sizes
from .mistakes import Case, Variant, catalogue


def _reproduced(
    variant: Variant,
    cases: Sequence[Case],
    user: Sequence[dict[str, np.ndarray]],
    failing: Sequence[str],
    rtol: float,
    atol: float,
) -> list[str]:
    """The failing arrays ``variant`` predicts at every point (stops at the first miss)."""
    left = list(failing)
    for case, arrays in zip(cases, user, strict=True):
        predicted = variant.predict(case)
        left = [n for n in left if n in predicted and matches(arrays[n], predicted[n], rtol, atol)]
        if not left:
            break
    return left


def _turned_back(
    cases: Sequence[Case],
    user: Sequence[dict[str, np.ndarray]],
    failing: Sequence[str],
    rtol: float,
    atol: float,
) -> tuple[list[dict[str, np.ndarray]], list[str], list[str]]:
    """The user's arrays with those in the transposed shape at every point turned back; those
    names ('transposed' by their shape alone); the failing names still wrong once turned."""
    turned = [
        n
        for n in failing
        if all(
            u[n].shape != c.exact[n].shape and u[n].shape[::-1] == c.exact[n].shape
            for c, u in zip(cases, user, strict=True)
        )
    ]
    back = [{k: (v.T if k in turned else v) for k, v in u.items()} for u in user]
    right = {
        n
        for n in turned
        if all(matches(u[n], c.exact[n], rtol, atol) for c, u in zip(cases, back, strict=True))
    }
    return back, turned, [n for n in failing if n not in right]


@dataclass(frozen=True)
class LayerMatch:
    """A mistake that reproduces ``arrays`` (``dx``, ``loss``, ...) at every point."""

    arrays: tuple[str, ...]
    mistake: str
    detail: tuple[tuple[str, str], ...]
    points: str
    summary: str


def diagnose(
    kind: Kind,
    sizes: Sizes,
    cases: Sequence[Case],
    user: Sequence[dict[str, np.ndarray]],
    failing: Sequence[str],
    rtol: float,
    atol: float,
) -> tuple[list[LayerMatch], list[str]]:
    """The matches for the ``failing`` arrays, and the failing arrays nothing explains."""
    found: dict[tuple[str, tuple[tuple[str, str], ...]], list[str]] = {}
    summaries = {}
    if not failing:
        return [], []
    with mpmath.workdps(PRECISION + GUARD):
        user, turned, wrong = _turned_back(cases, user, failing, rtol, atol)
        if turned:
            found[("transposed", (("where", "the returned gradient"),))] = turned
        for entry in catalogue(kind):
            summaries[entry.id] = entry.summary
            for variant in entry.variants(kind, sizes):
                for name in _reproduced(variant, cases, user, wrong, rtol, atol):
                    found.setdefault((entry.id, variant.detail), []).append(name)
    total = f"{len(cases)}/{len(cases)}"
    result = [
        LayerMatch(tuple(names), id, detail, total, summaries[id])
        for (id, detail), names in found.items()
    ]
    explained = {n for m in result for n in m.arrays}
    return result, [n for n in failing if n not in explained]


@dataclass(frozen=True)
class WeakPoint:
    """A drawn point where each of ``mistakes`` gives the exact numbers: there a correct
    backward and that mistake cannot be told apart."""

    point: str
    mistakes: tuple[str, ...]


def _floats(array: np.ndarray) -> np.ndarray:
    return np.array([float(v) for v in array.ravel()], dtype=np.float64).reshape(array.shape)


def _invisible(variant: Variant, case: Case, rtol: float, atol: float) -> bool:
    """Whether ``variant`` predicts the exact arrays at ``case`` (float64 tolerances)."""
    try:
        predicted = variant.predict(case)
    except (ArithmeticError, ValueError):
        return False
    return bool(predicted) and all(
        np.shape(v) == np.shape(case.exact[k]) and matches(_floats(v), case.exact[k], rtol, atol)
        for k, v in predicted.items()
    )


def weak_points(
    kind: Kind,
    sizes: Sizes,
    cases: Sequence[Case],
    labels: Sequence[str],
    rtol: float,
    atol: float,
) -> list[WeakPoint]:
    """The points where some catalogued mistake gives the exact numbers, with those mistakes."""
    weak: dict[str, list[str]] = {label: [] for label in labels}
    with mpmath.workdps(PRECISION + GUARD):
        for entry in catalogue(kind):
            for label, case in zip(labels, cases, strict=True):
                variants = entry.variants(kind, sizes)
                if any(_invisible(v, case, rtol, atol) for v in variants):
                    weak[label].append(entry.id)
    return [WeakPoint(label, tuple(ids)) for label, ids in weak.items() if ids]
