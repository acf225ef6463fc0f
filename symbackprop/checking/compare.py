"""The float64 oracles against the exact values, entry by entry.

At each point the exact gradients are compared with the lambdified closed forms
(:mod:`symbackprop.numeric`), the hand-written NumPy backprop (:mod:`symbackprop.reference`),
central finite differences of the reference loss (:mod:`symbackprop.finite_differences`), where
entries whose difference quotient straddles a kink are flagged, not judged, and the user's own
backprop (:mod:`symbackprop.userbackprop`), if one is given.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import mpmath
import numpy as np

from .. import notation, reference
from ..derivation import Derivation
from ..errors import UserBackpropError
from ..finite_differences import (
    DEFAULT_RELATIVE_STEP,
    central_difference,
    differences_and_kinks,
    perturbation,
)
from ..isolation import ChildResult, Isolated, run_child
from ..numeric import NumericNetwork, lambdify_network, random_points
from ..progress import progress
from ..spec import NetworkSpec
from ..userbackprop import Backprop, call_backprop, call_dict_backprop, takes_params
from .exact_tables import PointData, indices, point_data
from .precision import PRECISION, Real, number_text, real, sci

#: Tolerances for central finite differences, whose error is about eps^(2/3) ~ 4e-11 relative to
#: the loss and grows with the third derivative at saturated points.
FD_RTOL, FD_ATOL = 1e-5, 1e-6

LAMBDIFIED = "exact vs lambdified"
REFERENCE = "exact vs reference backprop"
USER = "exact vs user backprop"
FINITE_DIFFERENCES = "exact vs finite differences"
DOCUMENTED = "documented vs exact"
DOCUMENTED_POINT = "documented point"
EPSILON = float(np.finfo(np.float64).eps)
#: Why an unresolved finite difference is not judged (a report note).
UNRESOLVED = (
    "finite differences that float64 cannot resolve are not judged: a quotient that is not "
    "finite, that moves by more than half its tolerance when the step is halved, or whose "
    "rounding error 4 eps |loss| / step exceeds half of it (huge parameters make the step "
    "large, or the loss round off)"
)
#: How a failure for a whole array in another shape (a transposed gradient) begins its value.
SHAPE = "shape "
#: The order of comparisons in reports.
ORDER = [LAMBDIFIED, REFERENCE, USER, FINITE_DIFFERENCES, DOCUMENTED]


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
        if self.value.startswith(SHAPE):
            return f"{self.entry}: returned in {self.value}; expected {self.exact}"
        return (
            f"{self.entry}: {_value_word(self.comparison)} {self.value}, exact {self.exact}, "
            f"difference {sci(self.difference)} exceeds tolerance {sci(self.tolerance, '')}"
        )


@dataclass(frozen=True)
class Comparison:
    """One oracle against the exact values at one point.

    ``flagged`` lists entries that were not judged (a finite difference across a kink, or an
    entry that depends on the ReLU'(0) convention at an exact kink), ``unresolved`` the finite
    differences not judged because float64 cannot resolve them; ``skipped`` says why the
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
    #: The finite differences float64 cannot resolve there, not judged (see :data:`UNRESOLVED`).
    unresolved: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.failures


def shape_failures(
    name: str, point: str, key: str, shape: tuple[int, ...], got: tuple[int, ...], atol: float
) -> list[EntryFailure]:
    """A failure for every entry of ``key``, returned in shape ``got`` instead of ``shape``."""
    return [
        EntryFailure(
            name,
            point,
            notation.entry_name(key, i),
            f"{SHAPE}{got}",
            f"{SHAPE}{shape}",
            mpmath.inf,
            atol,
        )
        for i in np.ndindex(*shape)
    ]


def point_phrase(point: str) -> str:
    """'the documented point' or 'random point 3'."""
    return f"the {point}" if point == DOCUMENTED_POINT else point


def _value_word(comparison: str) -> str:
    return "documented" if comparison == DOCUMENTED else "computed"


@dataclass(frozen=True)
class Prepared:
    """Everything that does not depend on the user's backprop, computed once per derivation."""

    derivation: Derivation
    numeric: NumericNetwork
    points: tuple[PointData, ...]
    comparisons: tuple[Comparison, ...]
    notes: tuple[str, ...]


_PREPARED: dict[tuple, Prepared] = {}
_PREPARED_LIMIT = 8


def prepare(derivation: Derivation, count: int, seed: int, rtol: float, atol: float) -> Prepared:
    """The points and the oracle comparisons at them (cached per derivation)."""
    key = (id(derivation), count, seed, rtol, atol)
    cached = _PREPARED.get(key)
    if cached is not None and cached.derivation is derivation:
        return cached
    numeric = lambdify_network(derivation)
    labelled = [(DOCUMENTED_POINT, derivation.spec)] + [
        (f"random point {k}", spec)
        for k, spec in enumerate(random_points(numeric, count, seed), start=1)
    ]
    points = [
        point_data(derivation, label, spec)
        for label, spec in progress(labelled, "exact values at the points")
    ]
    notes: list[str] = []
    with np.errstate(all="ignore"):  # overflow and NaN show in the report as errors
        comparisons = _oracle_comparisons(derivation, numeric, points, rtol, atol, notes)
    prepared = Prepared(derivation, numeric, tuple(points), tuple(comparisons), tuple(notes))
    if len(_PREPARED) >= _PREPARED_LIMIT:
        _PREPARED.pop(next(iter(_PREPARED)))
    _PREPARED[key] = prepared
    return prepared


def _oracle_comparisons(
    derivation: Derivation,
    numeric: NumericNetwork,
    points: list[PointData],
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
    for point in progress(points, "finite differences at the points"):
        comparisons.append(_finite_difference_comparison(derivation, point, notes))
    return comparisons


def _compare(
    name: str,
    point: PointData,
    values: dict[str, np.ndarray],
    rtol: float,
    atol: float,
    flagged: set[str] | None = None,
    unresolved: set[str] | None = None,
) -> Comparison:
    """Compare float64 ``values`` (keyed W1, b1, ...) with the exact numbers, entry by entry;
    ``flagged`` and ``unresolved`` entries are not judged."""
    failures: list[EntryFailure] = []
    skipped = set(point.convention_dependent) | (flagged or set()) | (unresolved or set())
    max_abs = max_rel = 0.0
    entries = 0
    not_judged = []
    with mpmath.workdps(PRECISION):
        for key, numbers in point.numbers.items():
            array = values[key[1:]]
            shape = (len(numbers), len(numbers[0]))
            if array.shape != shape:
                entries += shape[0] * shape[1]
                failures += shape_failures(name, point.label, key, shape, array.shape, atol)
                max_abs = max_rel = math.inf
                continue
            for (i, j), index in indices((len(numbers), len(numbers[0]))):
                entry = notation.entry_name(key, index)
                entries += 1
                if entry in skipped:
                    not_judged.append(entry)
                    continue
                exact = numbers[i][j]
                actual = float(array[i, j])
                difference = mpmath.mpf(actual) - exact
                max_abs = _worst(max_abs, float(abs(difference)))
                if exact != 0:  # in mpmath: an exact 1e-348 is 0.0 as a float
                    max_rel = _worst(max_rel, float(abs(difference) / abs(exact)))
                tolerance = atol + rtol * abs(exact)  # in mpmath: exact may exceed float64
                if not (math.isfinite(actual) and abs(difference) <= tolerance):
                    failures.append(
                        EntryFailure(
                            name,
                            point.label,
                            entry,
                            f"{actual:.12g}",
                            number_text(point.exact[key][i][j]),
                            real(difference),
                            real(tolerance),
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
        tuple(e for e in not_judged if e not in (unresolved or ())),
        unresolved=tuple(e for e in not_judged if e in (unresolved or ())),
    )


def _worst(largest: float, error: float) -> float:
    """The larger error, where NaN is the worst (``max`` would drop it)."""
    return largest if math.isnan(largest) or error <= largest else error


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


def _parameters(point: PointData) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
    p = point.arrays
    return list(p.weights), None if p.biases is None else list(p.biases)


def _reference_comparison(
    derivation: Derivation, point: PointData, rtol: float, atol: float, notes: list[str]
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


def _skipped(name: str, point: PointData, reason: str, notes: list[str]) -> Comparison:
    if reason not in notes:
        notes.append(reason)
    return Comparison(name, point.label, 0, 0.0, 0.0, 0.0, 0.0, skipped=reason)


def _finite_difference_comparison(
    derivation: Derivation, point: PointData, notes: list[str]
) -> Comparison:
    """Central differences of the reference loss; entries straddling a kink are not judged.

    The perturbed points run batched: one forward pass of the reference gives the losses and
    the kink arguments of a chunk of stacked copies (:func:`..finite_differences.
    differences_and_kinks`)."""
    x, y = point.arrays.x, point.arrays.y
    options = _reference_options(point.spec)

    def evaluate(
        weights: list[np.ndarray], biases: list[np.ndarray] | None
    ) -> tuple[Any, list[np.ndarray]]:
        return reference.loss_and_kinks(weights, biases, x, y, **options)

    def loss(weights: list[np.ndarray], biases: list[np.ndarray] | None) -> float:
        return float(evaluate(weights, biases)[0])

    weights, biases = _parameters(point)
    try:
        (grads_w, grads_b), (mask_w, mask_b) = differences_and_kinks(evaluate, weights, biases)
    except (ValueError, TypeError) as exc:
        reason = (
            f"finite differences need the reference loss, which cannot run this network: {exc}"
        )
        return _skipped(FINITE_DIFFERENCES, point, reason, notes)
    flagged = {
        notation.entry_name(f"d{key}", index)
        for key, mask in _as_dict(mask_w, mask_b).items()
        for (i, j), index in indices(mask.shape)
        if mask[i, j]
    }
    values = _as_dict(grads_w, grads_b)
    judged = _compare(FINITE_DIFFERENCES, point, values, FD_RTOL, FD_ATOL, flagged)
    if judged.ok:
        return judged

    at = loss(weights, biases)

    def halved(entry: tuple[int, int, tuple[int, ...]]) -> tuple[float, float]:
        """The quotient at half the step, and the rounding error of the one at the step."""
        group, layer, index = entry
        theta = float((weights if group == 0 else biases or [])[layer][index])
        fine = central_difference(loss, weights, biases, entry, DEFAULT_RELATIVE_STEP / 2)
        return fine, rounding_error(at, theta)

    unresolved = _unresolved(point, values, judged, halved)
    if unresolved and UNRESOLVED not in notes:
        notes.append(UNRESOLVED)
    return _compare(FINITE_DIFFERENCES, point, values, FD_RTOL, FD_ATOL, flagged, unresolved)


def _unresolved(
    point: PointData,
    values: dict[str, np.ndarray],
    judged: Comparison,
    halved: Callable[[tuple[int, int, tuple[int, ...]]], tuple[float, float]],
) -> set[str]:
    """The failing entries of ``judged`` whose quotient float64 does not resolve: not finite
    at the step or at half of it, moving by more than half the tolerance between them (a wrong
    loss gradient moves little; truncation error moves by 3/4 of itself), or with a rounding
    error 4 eps |loss| / step over half the tolerance."""
    failing = {f.entry: f for f in judged.failures}
    unresolved = set()
    for key, array in values.items():
        for (i, j), index in indices(array.shape):
            entry = notation.entry_name(f"d{key}", index)
            if entry not in failing:
                continue
            group = 0 if key.startswith("W") else 1
            fine, rounding = halved((group, int(key[1:]) - 1, (i, j)))
            if not resolved(float(array[i, j]), fine, rounding, failing[entry].tolerance):
                unresolved.add(entry)
    return unresolved


def resolved(coarse: float, fine: float, rounding: float, tolerance: Real) -> bool:
    """Whether float64 resolves a failing difference quotient (see :data:`UNRESOLVED`):
    ``coarse`` and ``fine`` at the step and half of it, ``rounding`` the error bound of
    ``coarse``."""
    half = float(tolerance) / 2
    finite = math.isfinite(coarse) and math.isfinite(fine)
    return finite and abs(coarse - fine) <= half and rounding <= half


def rounding_error(loss: float, theta: float) -> float:
    """The rounding error bound 4 eps |loss| / (theta+ - theta-) of a difference quotient."""
    lo, hi = perturbation(theta)
    return 4 * EPSILON * abs(loss) / (hi - lo) if math.isfinite(loss) else math.inf


def _dict_arguments(point: PointData) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """An MLP's ``(params, x, y)`` for ``backprop(params, x, y)``: flat biases, one sample per
    row."""
    p = point.arrays
    params = {}
    for l, w in enumerate(p.weights):
        params[notation.parameter_key("W", l)] = w
        if p.biases is not None:
            params[notation.parameter_key("b", l)] = p.biases[l].ravel()
    x, y = (p.x.T, p.y.T) if point.spec.batched else (p.x[:, 0], p.y[:, 0])
    return params, x, y


def _dict_convention(
    backprop: Backprop, point: PointData
) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
    """Call a ``backprop(params, x, y)`` on an MLP (:func:`_dict_arguments`)."""
    p = point.arrays
    grads = call_dict_backprop(backprop, *_dict_arguments(point))
    grads_w = [grads[notation.parameter_key("W", l)] for l in range(len(p.weights))]
    if p.biases is None:
        return grads_w, None
    return grads_w, [
        grads[notation.parameter_key("b", l)].reshape(-1, 1) for l in range(len(p.weights))
    ]


def isolated_gradients(prepared: Prepared, isolated: Isolated) -> ChildResult:
    """The user's backprop at every point, run in one child process (:mod:`..isolation`)."""
    points = []
    for point in prepared.points:
        p = point.arrays
        shapes = {notation.parameter_key("b", l): b.shape for l, b in enumerate(p.biases or [])}
        points.append(
            {
                "phrase": point_phrase(point.label),
                "lists": (p.weights, p.biases, p.x, p.y),
                "dicts": _dict_arguments(point),
                "shapes": shapes,
            }
        )
    payload = {"target": isolated.target, "dicts_only": False, "points": points}
    who = f"--backprop {isolated.target}"
    return run_child("backprop", payload, who, isolated.timeout)


def user_gradients(
    prepared: Prepared, backprop: Backprop | Isolated
) -> list[dict[str, np.ndarray]]:
    """The user's backprop at every point, in either convention, keyed ``"W1"``, ``"b1"``, ...;
    its errors name the point. An :class:`~..isolation.Isolated` target runs in a child."""
    if isinstance(backprop, Isolated):
        return isolated_gradients(prepared, backprop).results
    gradients = []
    dicts = takes_params(backprop)
    for point in prepared.points:
        p = point.arrays
        try:
            if dicts:
                grads_w, grads_b = _dict_convention(backprop, point)
            else:
                grads_w, grads_b = call_backprop(backprop, p.weights, p.biases, p.x, p.y)
        except UserBackpropError as exc:
            raise UserBackpropError(f"at {point_phrase(point.label)}: {exc}") from None
        gradients.append(_as_dict(grads_w, grads_b))
    return gradients


def user_comparisons(
    prepared: Prepared, gradients: list[dict[str, np.ndarray]], rtol: float, atol: float
) -> list[Comparison]:
    """The user's gradients (from :func:`user_gradients`) against the exact values."""
    return [
        _compare(USER, point, values, rtol, atol)
        for point, values in zip(prepared.points, gradients, strict=True)
    ]


def failing_parameters(comparisons: Sequence[Comparison]) -> list[str]:
    """The parameters (``"W2"``, ``"b1"``) with a failing entry, in first-seen order."""
    seen = {f.entry.split("[")[0][1:]: None for c in comparisons for f in c.failures}
    return list(seen)
