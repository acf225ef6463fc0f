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
        for entry in catalogue(kind):
            summaries[entry.id] = entry.summary
            for variant in entry.variants(kind, sizes):
                for name in _reproduced(variant, cases, user, failing, rtol, atol):
                    found.setdefault((entry.id, variant.detail), []).append(name)
    total = f"{len(cases)}/{len(cases)}"
    result = [
        LayerMatch(tuple(names), id, detail, total, summaries[id])
        for (id, detail), names in found.items()
    ]
    explained = {n for m in result for n in m.arrays}
    return result, [n for n in failing if n not in explained]
