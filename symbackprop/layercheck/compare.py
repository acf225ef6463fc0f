"""One returned array against its exact values, entry by entry.

An entry passes when |value - exact| <= atol + rtol |exact|, as in ``check``; the difference is
taken in mpmath, so an exact value beyond float64 is still judged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mpmath
import numpy as np

from .. import notation
from ..checking.compare import EntryFailure
from ..checking.precision import PRECISION, number_text, real


@dataclass(frozen=True)
class ArrayResult:
    """One array (``out``, ``loss``, ``dx``, ...) at one point.

    ``shape`` says how the user's shape differs, when it does (then every entry fails).
    """

    name: str
    point: str
    entries: int
    max_abs_error: float
    max_rel_error: float
    failures: tuple[EntryFailure, ...] = ()
    shape: str | None = None

    @property
    def ok(self) -> bool:
        return not self.failures and self.shape is None


def _entry(name: str, shape: tuple[int, ...], index: tuple[int, ...]) -> str:
    return name if not shape else notation.entry_name(name, index)


def compare(
    name: str, point: str, user: np.ndarray, exact: np.ndarray, rtol: float, atol: float
) -> ArrayResult:
    """``user`` (float64) against ``exact`` (mpmath numbers) in the same shape."""
    if user.shape != exact.shape:
        shape = f"shape {user.shape} instead of {exact.shape}"
        return ArrayResult(name, point, exact.size, math.inf, math.inf, (), shape)
    failures = []
    max_abs = max_rel = 0.0
    with mpmath.workdps(PRECISION):
        for index in np.ndindex(*exact.shape):
            value, truth = float(user[index]), exact[index]
            difference = mpmath.mpf(value) - truth
            max_abs = max(max_abs, float(abs(difference)))
            if truth != 0:
                max_rel = max(max_rel, float(abs(difference) / abs(truth)))
            tolerance = atol + rtol * abs(truth)
            if not abs(difference) <= tolerance:
                failures.append(
                    EntryFailure(
                        name,
                        point,
                        _entry(name, exact.shape, index),
                        f"{value:.12g}",
                        number_text(truth),
                        real(difference),
                        real(tolerance),
                    )
                )
    return ArrayResult(name, point, exact.size, max_abs, max_rel, tuple(failures))


def matches(user: np.ndarray, predicted: np.ndarray, rtol: float, atol: float) -> bool:
    """Whether ``user`` equals ``predicted`` (exact numbers) within the tolerance everywhere."""
    if user.shape != predicted.shape:
        return False
    with mpmath.workdps(PRECISION):
        return all(
            abs(mpmath.mpf(float(user[i])) - predicted[i]) <= atol + rtol * abs(predicted[i])
            for i in np.ndindex(*user.shape)
        )
