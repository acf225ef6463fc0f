"""The points a layer is checked at: exact dyadic rationals, the same numbers in float64.

Every drawn value is k/16 for an integer k in [-32, 32], so the float64 arrays the user's code
gets are exactly the rationals the ground truth uses. A kind with edge conventions (ReLU at 0,
tied pooling maxima, an SVM margin of 0) gets an edge point first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sympy import Integer, Rational

from ..layers.base import tensor
from .exact import Exact
from .kinds import DENOMINATOR, Kind, Sizes

#: The largest numerator drawn: values lie in [-2, 2].
LIMIT = 2 * DENOMINATOR
EDGE_POINT = "edge point"


@dataclass(frozen=True, eq=False)
class Point:
    """A point: its label, what its edge is (if any), exact values and float64 arrays.

    ``exact`` holds object arrays of rationals (``x``, ``w``, ``dout`` (one upstream gradient
    per output: ``dnext_h``, ``dnext_c``), and for a loss the
    one-hot ``t``; word indices one-hot as ``onehot``); ``arrays`` holds float64 arrays and,
    for a loss, the integer labels ``y`` (and a ``mask``), for an embedding the indices ``x``.
    """

    label: str
    edge: str
    exact: dict[str, np.ndarray]
    arrays: dict[str, np.ndarray]


def _rationals(ints: np.ndarray) -> np.ndarray:
    return tensor(ints.shape, lambda i: Rational(int(ints[i]), DENOMINATOR))


def _draw(
    kind: Kind, sizes: Sizes, exact: Exact, rng: np.random.Generator, label: str, edge: bool
) -> Point:
    ints: dict[str, np.ndarray] = {
        name: rng.integers(-LIMIT, LIMIT + 1, shape) for name, shape in kind.inputs(sizes).items()
    }
    if kind.loss:
        *steps, c = ints["x"].shape
        ints["y"] = np.asarray(rng.integers(0, c, steps))
    else:
        for name, output in exact.outputs.items():
            ints[f"d{name}"] = np.asarray(rng.integers(-LIMIT, LIMIT + 1, output.shape))
    for name, numerators in kind.avoid:
        _redraw(rng, ints[name], numerators)
    what = kind.edge(rng, ints, sizes) if edge and kind.edge is not None else ""
    labels: np.ndarray | None = ints.pop("y", None)
    values = {name: _rationals(v) for name, v in ints.items()}
    arrays = {name: v.astype(np.float64) / DENOMINATOR for name, v in ints.items()}
    if labels is not None:
        _targets(kind, rng, ints["x"].shape, labels, values, arrays)
    if kind.words is not None:
        _words(kind, sizes, rng, values, arrays)
    return Point(label, what, values, arrays)


def _one_hot(indices: np.ndarray, classes: int) -> np.ndarray:
    """0/1 integers of shape (*indices.shape, classes)."""
    t = np.zeros((*indices.shape, classes), dtype=int)
    np.put_along_axis(t, indices[..., None], 1, axis=-1)
    return t


def _integers(t: np.ndarray) -> np.ndarray:
    return tensor(t.shape, lambda i: Integer(int(t[i])))


def _targets(
    kind: Kind,
    rng: np.random.Generator,
    shape: tuple[int, ...],
    labels: np.ndarray,
    values: dict[str, np.ndarray],
    arrays: dict[str, np.ndarray],
) -> None:
    """The one-hot ``t`` (zero where a ``masked`` loss's mask is 0), ``y`` and the mask."""
    t = _one_hot(labels, shape[-1])
    if kind.masked:
        mask = rng.integers(0, 2, labels.shape)
        mask.reshape(-1)[0] = 1  # at least one step counts
        values["onehot_y"] = _integers(t)  # the targets with the mask ignored
        t = t * mask[..., None]
        arrays["mask"] = mask.astype(bool)
        values["mask"] = _integers(mask)
    values["t"] = _integers(t)
    arrays["y"] = labels.astype(np.int64)


def _words(
    kind: Kind,
    sizes: Sizes,
    rng: np.random.Generator,
    values: dict[str, np.ndarray],
    arrays: dict[str, np.ndarray],
) -> None:
    """Word indices ``x`` in [0, V), the last repeating the first, and their one-hot form."""
    assert kind.words is not None
    shape, vocabulary = kind.words(sizes)
    x = rng.integers(0, vocabulary, shape)
    x.reshape(-1)[-1] = x.reshape(-1)[0]  # a repeated index, whose gradients add up
    arrays["x"] = x.astype(np.int64)
    values["onehot"] = _integers(_one_hot(x, vocabulary))


def _redraw(rng: np.random.Generator, ints: np.ndarray, numerators: tuple[int, ...]) -> None:
    """Draw the entries of ``ints`` that are one of ``numerators`` again, until none is."""
    bad = np.isin(ints, numerators)
    while bad.any():
        ints[bad] = rng.integers(-LIMIT, LIMIT + 1, int(bad.sum()))
        bad = np.isin(ints, numerators)


def draw_points(kind: Kind, sizes: Sizes, exact: Exact, count: int, seed: int) -> list[Point]:
    """The edge point (for a kind with one) and ``count`` random points."""
    rng = np.random.default_rng(seed)
    points = []
    if kind.edge is not None:
        points.append(_draw(kind, sizes, exact, rng, EDGE_POINT, True))
    for k in range(1, count + 1):
        points.append(_draw(kind, sizes, exact, rng, f"random point {k}", False))
    return points
