"""Name the mistake in a stack: the layer catalogue's entries, one layer at a time.

A stack's mistake is a layer's: :mod:`symbackprop.layercheck.mistakes` predicts the wrong
gradients one layer's backward (or one hidden activation's) returns from its input, its
parameters and dJ/d(its output). Here that prediction replaces the step in a backprop of
the whole stack (the reference's, :func:`~symbackprop.reference_layers.backprop`, through its
hook, at points where it agrees with the exact values), so that the mistaken dx flows into
the layers before it. A mistake names a parameter only if it reproduces the user's numbers
there at every point. Which layer kinds map to which check-layer kind is :data:`STEPS`, one
entry per kind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import mpmath
import numpy as np
from sympy import Rational

from .. import reference_layers
from ..layercheck.kinds import Sizes, lookup
from ..layercheck.mistakes import LAYER_MISTAKES, Case, Variant, catalogue
from ..stack_spec import StackLayer, StackSpec
from .diagnose import MistakeMatch

Array = np.ndarray
#: A step's check-layer values (rationals) and exact arrays from what the reference computed.
Values = Callable[[StackLayer, dict[str, Array]], tuple[dict[str, Array], dict[str, Array]]]
#: The layer's sizes in the check-layer kind's names, from its input.
SizesOf = Callable[[StackLayer, Array], dict[str, tuple[int, ...]] | None]
#: Ids the check's own shape test names (a transposed array is found by its shape).
_BY_SHAPE = ("transposed",)
#: Digits of the predictions (float64 inputs, so float64 tolerances are what counts).
DIGITS = 30


@dataclass(frozen=True)
class Step:
    """How one stack layer kind (or ``"relu"``, an activation) is a check-layer kind."""

    kind: str
    sizes: SizesOf
    #: check-layer gradient name -> the stem of the stack parameter (``dw`` -> ``W``).
    stems: tuple[tuple[str, str], ...] = ()


def _batch(layer: StackLayer, x: Array) -> dict[str, tuple[int, ...]]:
    return {"N": (x.shape[0],), "D": tuple(x.shape[1:])}


def _conv(layer: StackLayer, x: Array) -> dict[str, tuple[int, ...]] | None:
    o = layer.options
    if o["stride"][0] != o["stride"][1]:
        return None
    n, c, h, w = x.shape
    (kh, kw), pad = o["kernel"], o["padding"][0]
    names = ("N", "C", "H", "W", "F", "HH", "WW", "stride", "pad")
    values = (n, c, h, w, o["filters"], kh, kw, o["stride"][0], pad)
    return {k: (v,) for k, v in zip(names, values, strict=True)}


def _pool(layer: StackLayer, x: Array) -> dict[str, tuple[int, ...]] | None:
    o = layer.options
    if o["stride"][0] != o["stride"][1]:
        return None
    n, c, h, w = x.shape
    names = ("N", "C", "H", "W", "pool_height", "pool_width", "stride")
    values = (n, c, h, w, *o["size"], o["stride"][0])
    return {k: (v,) for k, v in zip(names, values, strict=True)}


def _features(layer: StackLayer, x: Array) -> dict[str, tuple[int, ...]] | None:
    return _batch(layer, x) if x.ndim == 2 else None


#: Stack layer kind -> its check-layer kind. Adding a kind is one entry.
STEPS: dict[str, Step] = {
    "dense": Step("affine", _batch, (("dw", "W"), ("db", "b"))),
    "conv2d": Step("conv", _conv, (("dw", "W"), ("db", "b"))),
    "max_pool2d": Step("max_pool", _pool),
    "batchnorm": Step("batchnorm", _features, (("dgamma", "gamma"), ("dbeta", "beta"))),
    "layernorm": Step("layernorm", _features, (("dgamma", "gamma"), ("dbeta", "beta"))),
    "dropout": Step("dropout", _batch),
    "relu": Step("relu", _batch),
}


class StackMistakeMatch(MistakeMatch):
    """A layer catalogue entry that reproduces a stack's numbers."""

    @property
    def summary(self) -> str:
        return LAYER_MISTAKES[self.mistake].summary


def _rational(array: Array) -> Array:
    out = np.empty(array.shape, dtype=object)
    for i in np.ndindex(*array.shape):
        out[i] = Rational(float(array[i]))
    return out


def _mp(array: Array) -> Array:
    out = np.empty(np.shape(array), dtype=object)
    for i in np.ndindex(*np.shape(array)):
        out[i] = mpmath.mpf(float(array[i]))
    return out


def _floats(array: Array) -> Array:
    return np.array([float(v) for v in np.ravel(array)], dtype=np.float64).reshape(array.shape)


@dataclass
class _Replace:
    """The hook that replaces step ``k`` (a layer, or its activation) by ``variant``."""

    target: StackLayer
    step: Step
    sizes: Sizes
    variant: Variant
    at_activation: bool
    params: Mapping[str, Array]

    def layer_case(self, x: Array, dz: Array, dx: Array, grads: dict[str, Array]) -> Case:
        keys = self.target.parameter_keys
        values = {"x": _rational(x), "dout": _rational(dz)}
        exact = {"dx": _mp(dx)}
        for stem, key in keys.items():
            name = {"W": "w", "b": "b"}.get(stem, stem)
            values[name] = _rational(np.asarray(self.params[key]))
            if key in grads:
                exact[f"d{name}"] = _mp(grads[key])
        if "w" in values and "b" not in values:  # a layer without bias: b = 0
            values["b"] = np.full(values["w"].shape[0], Rational(0), dtype=object)
            exact.setdefault("db", np.zeros(values["w"].shape[0], dtype=object) * mpmath.mpf(0))
        if self.target.kind == "dropout":
            mask = np.broadcast_to(np.asarray(self.target.options["mask"]), x.shape)
            values["mask"] = _rational((mask != 0).astype(np.float64))
        return Case(values, exact)

    def layer(
        self, k: int, x: Array, dz: Array, dx: Array, grads: dict[str, Array]
    ) -> tuple[Array, dict[str, Array]]:
        if self.at_activation or k + 1 != self.target.position:
            return dx, grads
        with mpmath.workdps(DIGITS):
            predicted = self.variant.predict(self.layer_case(x, dz, dx, grads))
        stems = dict(self.step.stems)
        keys = self.target.parameter_keys
        changed = dict(grads)
        for name, value in predicted.items():
            if name in stems and keys.get(stems[name]) in grads:
                changed[keys[stems[name]]] = _floats(value).reshape(grads[keys[stems[name]]].shape)
        new_dx = _floats(predicted["dx"]) if "dx" in predicted else dx
        return new_dx, changed

    def activation(self, k: int, z: Array, a: Array, da: Array, dz: Array) -> Array:
        if not self.at_activation or k + 1 != self.target.position:
            return dz
        case = Case({"x": _rational(z), "dout": _rational(da)}, {"dx": _mp(dz), "out": _mp(a)})
        with mpmath.workdps(DIGITS):
            predicted = self.variant.predict(case)
        return _floats(predicted["dx"]) if "dx" in predicted else dz


@dataclass(frozen=True)
class StackPointData:
    """One point: the parameters and data the reference runs on, the user's gradients and the
    exact ones (both keyed ``"W1"``)."""

    parameters: Mapping[str, Array]
    x: Array
    y: Array
    user: Mapping[str, Array]
    exact: Mapping[str, Array]


def _steps(spec: StackSpec, x: Array) -> Iterator[tuple[StackLayer, Step, Sizes, bool]]:
    """(layer, step, sizes, is-activation) for every step the catalogue knows, last first."""
    shapes = [x.shape] + [(x.shape[0], *layer.output_shape) for layer in spec.layers]
    last = spec.layers[-1].position
    for layer in reversed(spec.layers):
        step = STEPS.get(layer.kind)
        inputs = np.zeros(shapes[layer.position - 1])
        sizes = None if step is None else step.sizes(layer, inputs)
        if step is not None and sizes is not None:
            yield layer, step, sizes, False
        act = layer.activation
        if act is not None and act.name == "relu" and layer.position != last:
            yield layer, STEPS["relu"], _batch(layer, inputs), True


def _variants(kind: str, sizes: Sizes) -> Iterator[tuple[str, Variant]]:
    """(id, variant) of every entry of the check-layer catalogue for ``kind``."""
    found = lookup(kind)
    for entry in catalogue(found):
        if entry.id in _BY_SHAPE:
            continue
        for variant in entry.variants(found, sizes):
            yield entry.id, variant


def _close(predicted: Array, user: Array, rtol: float, atol: float) -> bool:
    return predicted.shape == np.shape(user) and bool(
        np.all(np.isfinite(predicted)) and np.allclose(user, predicted, rtol=rtol, atol=atol)
    )


#: Whether the gradient a variant gives parameter ``p`` at point ``i`` reproduces the numbers.
Matches = Callable[[int, str, Array], bool]


def close_to_user(points: Sequence[StackPointData], rtol: float, atol: float) -> Matches:
    """The user's backprop reproduced within the float64 tolerances."""
    return lambda i, p, grads: _close(grads, points[i].user[p], rtol, atol)


def as_written(literals: Mapping[str, Any]) -> Matches:
    """Documented values reproduced as written: the variant's value rounded to the digits of
    each written decimal (``literals["dW1"]``, nested lists of Decimal) equals it."""

    def matches(i: int, p: str, grads: Array) -> bool:
        written = literals.get(f"d{p}")
        if written is None:
            return False
        for index in np.ndindex(*grads.shape):
            try:
                literal = written
                for k in index:
                    literal = literal[k]
                exponent = Decimal(literal).as_tuple().exponent
                value = Decimal(repr(float(grads[index])))
            except (TypeError, IndexError, KeyError, ValueError, ArithmeticError):
                return False
            if not isinstance(exponent, int) or not value.is_finite():
                return False
            unit = Decimal(1).scaleb(exponent)
            if abs((value / unit).to_integral_value() * unit - Decimal(literal)) > unit / 4:
                return False
        return True

    return matches


def diagnose_stack(
    spec: StackSpec,
    layers: Sequence[dict[str, Any]],
    points: Sequence[StackPointData],
    failing: Sequence[str],
    options: Mapping[str, Any],
    matches: Matches,
    source: str = "backprop",
) -> list[MistakeMatch]:
    """The layer mistakes that reproduce the failing parameters (``matches``) at every point,
    each named with its layer."""
    found: dict[tuple[str, tuple[tuple[str, str], ...]], set[str]] = {}
    for layer, step, sizes, activation in _steps(spec, points[0].x):
        where = f"{layer.label}" + (f" {layer.activation.name}" if activation else "")
        for mistake, variant in _variants(step.kind, sizes):
            left = set(failing)
            for i, point in enumerate(points):
                hook = _Replace(layer, step, sizes, variant, activation, point.parameters)
                try:
                    with np.errstate(all="ignore"):
                        grads = reference_layers.backprop(
                            list(layers), point.parameters, point.x, point.y, hook=hook, **options
                        )
                except (ValueError, ArithmeticError, KeyError, IndexError):
                    left = set()
                left = {p for p in left if matches(i, p, grads[p])}
                if not left:
                    break
            if left:
                found[(mistake, (("layer", where), *variant.detail))] = left
    return _grouped(found, len(points), source)


def _grouped(
    found: Mapping[tuple[str, tuple[tuple[str, str], ...]], set[str]], count: int, source: str
) -> list[MistakeMatch]:
    """Per (parameter, mistake), the variant reproducing most parameters; catalogue order."""
    ranked = sorted(enumerate(found.items()), key=lambda item: (-len(item[1][1]), item[0]))
    best: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {}
    for _, ((mistake, detail), parameters) in ranked:
        for p in sorted(parameters):
            best.setdefault((p, mistake), detail)
    groups: dict[tuple[str, tuple[tuple[str, str], ...]], list[str]] = {}
    for (parameter, mistake), detail in best.items():
        groups.setdefault((mistake, detail), []).append(parameter)
    order = list(LAYER_MISTAKES)
    return [
        StackMistakeMatch(tuple(sorted(params)), mistake, detail, f"{count}/{count}", source)
        for (mistake, detail), params in sorted(
            groups.items(), key=lambda kv: order.index(kv[0][0])
        )
    ]
