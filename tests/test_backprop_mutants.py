"""Every deliberately wrong backprop in ``backprop_mutants`` disagrees with the reference."""

import itertools
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from backprop_mutants import MUTANTS, correct_backprop

from symbackprop import reference

SEED_POINT = (
    [np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]), np.array([[0.7, 0.8, 0.9], [1.0, 1.1, 1.2]])],
    [np.array([[0.1], [0.1], [0.1]]), np.array([[0.2], [0.2]])],
    np.array([[1.0], [0.5]]),
    np.array([[0.0], [1.0]]),
)
SEED_SIZES = (2, 3, 2)
SQUARE_SIZES = (3, 4, 4, 2)  # W^2 is 4x4, so square-only mutations apply
RTOL, ATOL = 1e-7, 1e-10


def _random_point(rng: np.random.Generator, sizes: tuple[int, ...], m: int):
    """Normal weights and inputs, small biases, one-hot targets; m samples."""
    weights = [rng.normal(0.0, 1.0, (n, p)) for p, n in itertools.pairwise(sizes)]
    biases = [rng.normal(0.0, 0.3, (n, 1)) for n in sizes[1:]]
    x = rng.normal(0.0, 1.0, (sizes[0], m))
    y = np.eye(sizes[-1])[:, rng.integers(0, sizes[-1], m)]
    return weights, biases, x, y


def _points(seed: int):
    """The seed point, 8 random points on each architecture, and batches of 4 on both."""
    rng = np.random.default_rng(seed)
    yield SEED_POINT
    for sizes in (SEED_SIZES, SQUARE_SIZES):
        for _ in range(8):
            yield _random_point(rng, sizes, m=1)
        for _ in range(4):
            yield _random_point(rng, sizes, m=4)


def _expected(weights, biases, x, y):
    activations = [*(["relu"] * (len(weights) - 1)), "softmax"]
    return reference.backprop(
        weights, biases, x, y, activations=activations, loss="cross_entropy", reduction="mean"
    )


def _disagrees(mutant, point) -> bool:
    """True if ``mutant`` raises a shape error or any gradient differs in shape or value."""
    try:
        got_w, got_b = mutant(*point)
    except (ValueError, IndexError):
        return True
    want_w, want_b = _expected(*point)
    got, want = [*got_w, *got_b], [*want_w, *want_b]
    if len(got) != len(want) or any(
        np.shape(g) != w.shape for g, w in zip(got, want, strict=False)
    ):
        return True
    return not all(np.allclose(g, w, rtol=RTOL, atol=ATOL) for g, w in zip(got, want, strict=True))


def _caught(mutant, seed: int = 20240601) -> bool:
    return any(_disagrees(mutant, point) for point in _points(seed))


def test_corpus_is_large_enough() -> None:
    assert len(MUTANTS) >= 14


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_is_caught(name: str) -> None:
    assert _caught(MUTANTS[name])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_correct_backprop_is_not_caught(seed: int) -> None:
    assert not _caught(correct_backprop, seed)


@pytest.mark.parametrize("m", [1, 4])
def test_correct_backprop_matches_reference(m: int) -> None:
    point = _random_point(np.random.default_rng(m), SQUARE_SIZES, m)
    got_w, got_b = correct_backprop(*point)
    want_w, want_b = _expected(*point)
    for got, want in zip([*got_w, *got_b], [*want_w, *want_b], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
