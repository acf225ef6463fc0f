"""The batched finite differences: the same points, quotients and kink flags as the scalar
loop, from the reference loss on stacked copies, in a number of calls that does not grow with
the entries."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from symbackprop import reference
from symbackprop.finite_differences import (
    CHUNK_FLOATS,
    batched_central_differences,
    batched_kink_mask,
    central_differences,
    differences_and_kinks,
    kink_mask,
    perturbation,
)

EPS = float(np.finfo(np.float64).eps)
Array = np.ndarray


@dataclass
class Problem:
    """A random dense network at a point, in the reference's arguments."""

    weights: list[Array]
    biases: list[Array] | None
    x: Array
    y: Array
    options: dict[str, Any]

    def loss(self, weights: list[Array], biases: list[Array] | None) -> Any:
        return reference.loss(weights, biases, self.x, self.y, **self.options)

    def kinks(self, weights: list[Array], biases: list[Array] | None) -> list[Array]:
        return reference.kink_pre_activations(weights, biases, self.x, self.options["activations"])

    def evaluate(self, weights: list[Array], biases: list[Array] | None) -> tuple[Any, list]:
        return reference.loss_and_kinks(weights, biases, self.x, self.y, **self.options)

    def arrays(self) -> list[tuple[int, int, Array]]:
        """``(group, layer, array)`` for every parameter array, weights first."""
        found = [(0, l, w) for l, w in enumerate(self.weights)]
        return found + [(1, l, b) for l, b in enumerate(self.biases or [])]


#: (hidden activations, output activation, loss, biases, samples, l2, reduction, kink)
CASES = [
    (["relu"], "softmax", "cross_entropy", True, 1, 0.0, "mean", True),
    (["relu", "relu"], "softmax", "cross_entropy", True, 3, 0.0, "mean", True),
    (["leaky_relu", "tanh"], "softmax", "cross_entropy", False, 2, 0.1, "sum", True),
    (["sigmoid"], "sigmoid", "binary_cross_entropy", True, 4, 0.0, "mean", False),
    (["softplus"], "identity", "squared_error", False, 1, 0.05, "mean", False),
    (["tanh", "relu"], "relu", "squared_error", True, 5, 0.01, "sum", True),
    ([("leaky_relu", {"slope": 0.2})], "sigmoid", "squared_error", True, 2, 0.0, "mean", True),
    ([], "softmax", "cross_entropy", True, 6, 0.3, "mean", False),
]


def _problem(case: tuple, seed: int) -> Problem:
    hidden, output, loss, has_biases, m, l2, reduction, kink = case
    rng = np.random.default_rng(seed)
    sizes = [int(n) for n in rng.integers(2, 6, size=len(hidden) + 2)]
    weights = [rng.uniform(-1, 1, (sizes[l + 1], sizes[l])) for l in range(len(sizes) - 1)]
    biases = (
        [rng.uniform(-1, 1, (sizes[l + 1], 1)) for l in range(len(sizes) - 1)]
        if has_biases
        else None
    )
    x = rng.uniform(-1, 1, (sizes[0], m))
    if loss == "cross_entropy":
        y = np.eye(sizes[-1])[:, rng.integers(0, sizes[-1], m)]
    else:
        y = rng.uniform(0.1, 0.9, (sizes[-1], m))
    if kink:  # unit 0 of the first ReLU-like layer exactly at its kink, in every sample
        names = [a if isinstance(a, str) else a[0] for a in [*hidden, output]]
        first = next(l for l, name in enumerate(names) if name in ("relu", "leaky_relu"))
        weights[first][0, :] = 0.0
        if biases is not None:
            biases[first][0, 0] = 0.0
    options = {
        "activations": [*hidden, output],
        "loss": loss,
        "l2": l2,
        "reduction": reduction,
    }
    return Problem(weights, biases, x, y, options)


PROBLEMS = [
    pytest.param(
        _problem(case, seed), id=f"{'-'.join(map(str, case[0])) or 'none'}-{case[2]}-{seed}"
    )
    for case in CASES
    for seed in (1, 2)
]


def _entries(arrays: list[Array] | None) -> list[Array]:
    return list(arrays or [])


@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("budget", [1, 37, CHUNK_FLOATS])
def test_batched_differences_equal_the_scalar_ones(problem: Problem, budget: int) -> None:
    """To float64 rounding: a last-bit change of a loss moves a quotient by about
    eps |J| / (theta+ - theta-), here allowed four times over."""
    scalar_w, scalar_b = central_differences(problem.loss, problem.weights, problem.biases)
    (batch_w, batch_b), _ = differences_and_kinks(
        problem.evaluate, problem.weights, problem.biases, budget=budget
    )
    assert (batch_b is None) == (problem.biases is None)
    at = abs(float(problem.loss(problem.weights, problem.biases)))
    for (_, _, array), scalar, batch in zip(
        problem.arrays(), scalar_w + _entries(scalar_b), batch_w + _entries(batch_b), strict=True
    ):
        assert batch.shape == array.shape
        for index in np.ndindex(array.shape):
            lo, hi = perturbation(float(array[index]))
            rounding = 4 * EPS * max(at, 1.0) / (hi - lo)
            assert abs(batch[index] - scalar[index]) <= rounding, (index, batch, scalar)


@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("budget", [1, CHUNK_FLOATS])
def test_batched_kink_flags_equal_the_scalar_ones(problem: Problem, budget: int) -> None:
    scalar_w, scalar_b = kink_mask(problem.kinks, problem.weights, problem.biases)
    _, (batch_w, batch_b) = differences_and_kinks(
        problem.evaluate, problem.weights, problem.biases, budget=budget
    )
    only_w, only_b = batched_kink_mask(problem.kinks, problem.weights, problem.biases)
    for scalar, batch, only in zip(
        scalar_w + _entries(scalar_b),
        batch_w + _entries(batch_b),
        only_w + _entries(only_b),
        strict=True,
    ):
        np.testing.assert_array_equal(batch, scalar)
        np.testing.assert_array_equal(only, scalar)


def test_the_kink_cases_do_flag_something() -> None:
    """The exact kinks built into CASES are seen, so the flag comparison is not all-False."""
    flagged = []
    for param in PROBLEMS:
        p = param.values[0]
        assert isinstance(p, Problem)
        w, b = kink_mask(p.kinks, p.weights, p.biases)
        flagged.append(any(np.any(f) for f in w + _entries(b)))
    assert flagged == [case[7] for case in CASES for _ in (1, 2)]


def test_batched_central_differences_alone_equal_the_scalar_ones() -> None:
    problem = _problem(CASES[2], 5)
    scalar_w, _ = central_differences(problem.loss, problem.weights, problem.biases)
    batch_w, batch_b = batched_central_differences(problem.loss, problem.weights, problem.biases)
    assert batch_b is None
    for scalar, batch in zip(scalar_w, batch_w, strict=True):
        np.testing.assert_allclose(batch, scalar, rtol=0, atol=1e-9)


def _copies(array: Array, count: int, seed: int) -> Array:
    """``count`` copies of ``array``, each with one entry changed at random."""
    rng = np.random.default_rng(seed)
    stacked = np.repeat(array[None], count, axis=0)
    for copy in stacked:
        copy[np.unravel_index(rng.integers(array.size), array.shape)] += rng.normal()
    return stacked


@pytest.mark.parametrize("problem", PROBLEMS)
def test_the_batched_loss_is_the_loss_of_every_copy(problem: Problem) -> None:
    """reference.loss and kink_pre_activations on stacked copies, against one call per copy."""
    for group, layer, array in problem.arrays():
        stacked = _copies(array, 5, seed=layer + 10 * group)
        weights, biases = list(problem.weights), _entries(problem.biases) or None
        (weights if group == 0 else biases or [])[layer] = stacked
        losses = problem.loss(weights, biases)
        value, kinks = problem.evaluate(weights, biases)
        assert np.shape(losses) == (5,)
        np.testing.assert_array_equal(value, losses)
        for p in range(5):
            plain_w, plain_b = list(problem.weights), _entries(problem.biases) or None
            (plain_w if group == 0 else plain_b or [])[layer] = stacked[p]
            expected = problem.loss(plain_w, plain_b)
            assert isinstance(expected, float)
            assert abs(losses[p] - expected) <= 4 * EPS * abs(expected)
            plain_kinks = problem.kinks(plain_w, plain_b)
            assert len(kinks) == len(plain_kinks)
            for z, plain in zip(kinks, plain_kinks, strict=True):
                copy = np.broadcast_to(z, (5, *plain.shape))[p]
                np.testing.assert_allclose(copy, plain, rtol=4 * EPS, atol=4 * EPS)


def test_a_plain_point_still_gives_a_float() -> None:
    problem = _problem(CASES[0], 3)
    value, kinks = problem.evaluate(problem.weights, problem.biases)
    assert isinstance(value, float) and isinstance(
        problem.loss(problem.weights, problem.biases), float
    )
    assert value == problem.loss(problem.weights, problem.biases)
    assert [z.shape for z in kinks] == [
        z.shape for z in problem.kinks(problem.weights, problem.biases)
    ]


@pytest.mark.parametrize(("scale", "finite"), [(1e153, True), (1e155, False)])
def test_without_l2_the_penalty_is_still_zero_times_the_sum_of_squares(
    scale: float, finite: bool
) -> None:
    """l2 = 0 skips the squares only where their sum cannot overflow: 0 * inf is NaN, as
    before (tanh saturates, so the data term stays finite)."""
    weights = [np.array([[scale, 0.5], [0.25, -scale]]), np.array([[1.0, -1.0]])]
    x, y = np.array([[1.0], [0.5]]), np.array([[0.3]])
    options = {"activations": ["tanh", "identity"], "loss": "squared_error", "l2": 0.0}
    with np.errstate(over="ignore", invalid="ignore"):
        value = reference.loss(weights, None, x, y, **options)
        squares = sum(float(np.sum(w**2)) for w in weights)
    assert math.isfinite(squares) == finite
    assert math.isfinite(value) == finite
    stacked = [np.stack([weights[0], weights[0] / scale]), weights[1]]
    with np.errstate(over="ignore", invalid="ignore"):
        both = reference.loss(stacked, None, x, y, **options)
    assert math.isfinite(both[0]) == finite and math.isfinite(both[1])


class Counting:
    """An evaluation that counts its calls and records how many floats each one received."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.calls = 0
        self.largest = 0

    def __call__(self, weights: list[Array], biases: list[Array] | None) -> tuple[Any, list]:
        self.calls += 1
        stacked = [a for a in (*weights, *(biases or ())) if a.ndim > 2]
        self.largest = max([self.largest, *(a.size for a in stacked)])
        return self.problem.evaluate(weights, biases)


def _wide_problem(width: int) -> Problem:
    rng = np.random.default_rng(0)
    weights = [rng.uniform(-1, 1, (width, 20)), rng.uniform(-1, 1, (3, width))]
    biases = [rng.uniform(-1, 1, (width, 1)), rng.uniform(-1, 1, (3, 1))]
    x, y = rng.uniform(-1, 1, (20, 2)), np.eye(3)[:, [0, 2]]
    return Problem(weights, biases, x, y, {"activations": ["relu", "softmax"]})


@pytest.mark.parametrize("width", [10, 40, 160])
def test_calls_grow_with_the_arrays_not_with_the_entries(width: int) -> None:
    """One call for the point, then one per array while it fits the budget: 5 calls for
    4 arrays, at 243 entries as at 3,843. The scalar loop makes two per entry."""
    problem = _wide_problem(width)
    counting = Counting(problem)
    differences_and_kinks(counting, problem.weights, problem.biases, budget=1 << 25)
    assert counting.calls == 1 + len(problem.arrays())
    entries = sum(a.size for _, _, a in problem.arrays())
    assert entries == 24 * width + 3


@pytest.mark.parametrize("budget", [500, 2_000, 10_000])
def test_chunks_keep_the_copies_under_the_budget(budget: int) -> None:
    """With a small budget the calls are one per chunk, ceil(entries / chunk) per array, and
    no call receives more stacked floats than the budget allows."""
    problem = _wide_problem(40)
    counting = Counting(problem)
    differences_and_kinks(counting, problem.weights, problem.biases, budget=budget)
    kink_floats = 40 * 2  # the ReLU layer's pre-activations at the point
    expected = 1
    for _, _, array in problem.arrays():
        chunk = max(1, min(array.size, budget // (2 * (array.size + kink_floats))))
        expected += math.ceil(array.size / chunk)
    assert counting.calls == expected
    assert counting.largest <= max(budget, 2 * max(a.size for _, _, a in problem.arrays()))
    assert counting.calls < sum(2 * a.size for _, _, a in problem.arrays())


def test_the_parameters_are_left_untouched() -> None:
    problem = _problem(CASES[1], 4)
    before = [a.copy() for _, _, a in problem.arrays()]
    differences_and_kinks(problem.evaluate, problem.weights, problem.biases, budget=64)
    for (_, _, array), kept in zip(problem.arrays(), before, strict=True):
        np.testing.assert_array_equal(array, kept)
