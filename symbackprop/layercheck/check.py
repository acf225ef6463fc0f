"""``check-layer``: one CS231n layer-function pair against the exact forward and gradients.

At each point the user's forward runs on the drawn inputs and its output is compared with the
exact forward; the user's backward runs on the drawn ``dout`` and the forward's cache, and each
returned gradient is compared with the exact gradient of J = sum(dout * out). A loss function
returns (loss, dx), compared directly. Failing arrays are then matched against the catalogue.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from sympy import Rational

from ..defaults import ATOL, RTOL
from ..isolation import ChildError, Isolated, run_child
from ..layers.base import tensor
from . import user
from .compare import ArrayResult, compare
from .diagnose import diagnose, weak_points
from .exact import Exact, build, evaluate
from .kinds import Kind, Sizes, lookup
from .mistakes import Case, catalogue
from .points import Point, draw_points
from .report import LayerReport
from .sizes import parse_shape

#: Random points by default (after the edge point of a kind that has one).
RANDOM_POINTS = 5


@dataclass(frozen=True)
class Functions:
    """The user's functions and how errors name them: ``affine_forward in layers.py``.

    With ``isolated`` (the module's target), ``forward`` and ``backward`` are None: the module is
    imported and the functions named ``forward_name`` and ``backward_name`` are called in one
    child process (:mod:`symbackprop.isolation`)."""

    forward: Callable[..., Any] | None
    backward: Callable[..., Any] | None
    forward_name: str
    backward_name: str | None
    where: str
    isolated: Isolated | None = None

    def label(self, backward: bool, point: str) -> str:
        name = self.backward_name if backward else self.forward_name
        return f"{name} in {self.where} (at {point})" if self.where else f"{name} (at {point})"

    def who(self) -> str:
        """Both functions, for errors that are not about one call."""
        names = "/".join(n for n in (self.forward_name, self.backward_name) if n)
        return f"{names} in {self.where}" if self.where else names


def _copies(point: Point) -> dict[str, np.ndarray]:
    return {k: v.copy() for k, v in point.arrays.items()}


def _run_loss(kind: Kind, f: Functions, sizes: Sizes, point: Point) -> dict[str, np.ndarray]:
    assert f.forward is not None
    args = kind.arguments(_copies(point), sizes)
    return user.loss_arrays(f.forward, f.label(False, point.label), args)


def _run_layer(
    kind: Kind, f: Functions, sizes: Sizes, point: Point, exact: Exact
) -> dict[str, np.ndarray]:
    """The user's arrays: ``out``, ``dx``, ..."""
    assert f.forward is not None and f.backward is not None
    return user.layer_arrays(
        (f.forward, f.backward),
        (f.label(False, point.label), f.label(True, point.label)),
        kind.arguments(_copies(point), sizes),
        _upstreams(kind, point),
        tuple(f"d{g}" for g in kind.gradients),
        _shapes(exact),
    )


def _upstreams(kind: Kind, point: Point) -> tuple[np.ndarray, ...]:
    """The backward's upstream gradients at ``point``: ``dout``, or one per output."""
    return tuple(point.arrays[name].copy() for name in kind.upstreams)


def _shapes(exact: Exact) -> dict[str, tuple[int, ...]]:
    """Each output's name and shape, in the order the forward returns them."""
    return {name: output.shape for name, output in exact.outputs.items()}


def _isolated(
    kind: Kind, f: Functions, sizes: Sizes, points: list[Point], exact: Exact
) -> list[dict[str, np.ndarray]]:
    """:func:`_run_loss` or :func:`_run_layer` at every point, in one child process."""
    assert f.isolated is not None
    calls = [
        {
            "labels": (f.label(False, p.label), f.label(True, p.label)),
            "args": kind.arguments(_copies(p), sizes),
            "douts": () if kind.loss else _upstreams(kind, p),
            "outputs": _shapes(exact),
            "names": tuple(f"d{g}" for g in kind.gradients),
        }
        for p in points
    ]
    payload = {
        "module": f.isolated.target,
        "forward": f.forward_name,
        "backward": f.backward_name,
        "points": calls,
    }
    try:
        return run_child("layer", payload, f.who(), f.isolated.timeout).results
    except ChildError as exc:
        raise user.LayerFunctionError(str(exc), exc.traceback) from None


def _user_arrays(
    kind: Kind, f: Functions, sizes: Sizes, points: list[Point], exact: Exact
) -> list[dict[str, np.ndarray]]:
    """The user's arrays at every point (a loss's ``loss`` one number)."""
    if f.isolated is not None:
        every = _isolated(kind, f, sizes, points, exact)
    elif kind.loss:
        every = [_run_loss(kind, f, sizes, p) for p in points]
    else:
        every = [_run_layer(kind, f, sizes, p, exact) for p in points]
    if kind.loss:
        for point, arrays in zip(points, every, strict=True):
            if arrays["loss"].size != 1:
                raise user.LayerFunctionError(
                    f"{f.label(False, point.label)} returned a loss of shape "
                    f"{arrays['loss'].shape}; expected a number"
                )
            arrays["loss"] = arrays["loss"].reshape(1)
    return every


def _exact_at(
    exact: Exact, point: Point, observed: Mapping[str, np.ndarray]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The point's exact inputs (with any observed ones) and the exact results there."""
    values = dict(point.exact)
    values.update(
        (k, tensor(v.shape, lambda i, v=v: Rational(float(v[i])))) for k, v in observed.items()
    )
    return values, evaluate(exact, values)


def check_functions(
    kind_name: str,
    functions: Functions,
    shape: str | Mapping[str, object] | None = None,
    random_points: int = RANDOM_POINTS,
    seed: int = 0,
    rtol: float = RTOL,
    atol: float = ATOL,
) -> LayerReport:
    """Check ``functions`` as the kind ``kind_name``; see :func:`check_layer`."""
    kind = lookup(kind_name)
    sizes = parse_shape(kind, shape)
    exact = build(kind, sizes)
    points = draw_points(kind, sizes, exact, random_points, seed)
    results: list[ArrayResult] = []
    cases, users = [], []
    for point, arrays in zip(
        points, _user_arrays(kind, functions, sizes, points, exact), strict=True
    ):
        observed = {}
        if not kind.loss and kind.observed is not None:
            observed = kind.observed(point.arrays, arrays[kind.outputs[0]])
        values, numbers = _exact_at(exact, point, observed)
        if kind.loss:
            numbers["loss"] = numbers.pop("out")
        results += [compare(k, point.label, v, numbers[k], rtol, atol) for k, v in arrays.items()]
        cases.append(Case(values, numbers))
        users.append(arrays)
    failing = [r.name for r in results if not r.ok and r.name not in kind.outputs]
    failing = list(dict.fromkeys(failing))
    matches, unexplained = diagnose(kind, sizes, cases, users, failing, rtol, atol)
    weak = weak_points(kind, sizes, cases, [p.label for p in points], rtol, atol)
    _reject_unexplained_shapes(functions, results, unexplained)
    return LayerReport(
        kind,
        functions.forward_name,
        functions.backward_name,
        functions.where,
        dict(sizes),
        exact,
        points,
        rtol,
        atol,
        results,
        matches,
        unexplained,
        [m.id for m in catalogue(kind)],
        weak,
    )


def _reject_unexplained_shapes(
    functions: Functions, results: list[ArrayResult], unexplained: list[str]
) -> None:
    """A wrong shape that no catalogued mistake explains is bad input (exit status 2)."""
    for r in results:
        if r.shape is not None and r.name in unexplained:
            raise user.LayerFunctionError(
                f"{functions.label(True, r.point)} returned {r.name} of {r.shape}"
            )
