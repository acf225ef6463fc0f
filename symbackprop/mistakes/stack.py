"""Name the mistake in a stack: the layer catalogue's entries, one layer at a time.

A stack's mistake is a layer's: :mod:`symbackprop.layercheck.mistakes` predicts the wrong
gradients one layer's backward (or one hidden activation's) returns from its input, its
parameters and dJ/d(its output). Here that prediction replaces the step in a backprop of
the whole stack (the reference's, :func:`~symbackprop.reference_layers.backprop`, through its
hook, at points where it agrees with the exact values), so that the mistaken dx flows into
the layers before it. A mistake names a parameter only if it reproduces the user's numbers
there at every point. Which layer kinds map to which check-layer kind is :data:`STEPS`, one
entry per kind.

What does not map, and why:

- ``avg_pool2d`` and ``flatten`` (:data:`NOT_MAPPED`): check-layer has no such kind (and no
  catalogued mistake would apply to a reshape).
- The entries of :data:`WRONG_SHAPE`, such as temporal affine's db not summed over time: the
  array they predict has another shape than the stack's, which ``check`` rejects as bad input.
- A conv2d or max_pool2d with different strides along the two axes: check-layer's ``conv``
  and ``max_pool`` take one stride.
- An ``lstm`` with a nonzero ``c0``: check-layer's ``lstm`` starts from c_0 = 0 (its
  ``lstm_step`` takes prev_c, but it is one step, not a sequence).
- Hidden activations other than ReLU (tanh, sigmoid, ...): check-layer has only ``relu``.
- The loss: it is not a layer step of the reference backprop (its output error comes before
  the hook's first call), so ``softmax_loss``, ``svm_loss`` and ``temporal_softmax_loss``
  entries are not tried; the whole-network ids (``sign``, ``scale``) still name a mistake
  that reaches every parameter.
- ``rnn_step`` and ``lstm_step``: a stack's recurrent layer is a whole sequence, so it maps to
  ``rnn`` and ``lstm``; with ``return_sequence = false`` the upstream gradient is dJ/dh of
  the last step, zeros before it.
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
#: Ids whose arrays have another shape than the stack's: a gradient of that shape is bad input
#: (exit status 2) and a dx of that shape cannot enter the layer before, so a stack never
#: shows them (``check-layer`` does).
WRONG_SHAPE = (
    "affine-dx-not-reshaped",
    "conv-dx-missing-padding-crop",
    "temporal-affine-db-not-summed-over-time",
)
#: Digits of the predictions (float64 inputs, so float64 tolerances are what counts).
DIGITS = 30


@dataclass(frozen=True)
class Step:
    """How one stack layer kind (or ``"relu"``, an activation) is a check-layer kind."""

    kind: str
    sizes: SizesOf
    #: check-layer gradient name -> the stem of the stack parameter (``dw`` -> ``W``), or the
    #: key of a recurrent layer's initial state (``dh0`` -> ``h0``).
    stems: tuple[tuple[str, str], ...] = ()
    #: stack parameter stem -> the check-layer input it is (``W`` -> ``w``); others as named.
    names: tuple[tuple[str, str], ...] = (("W", "w"),)
    #: More check-layer inputs, as float arrays, from the layer, its input x and dJ/d(its
    #: output): dropout's mask, an embedding's one-hot words, an RNN's h0 and dh of every step.
    more: Callable[[StackLayer, Array, Array], dict[str, Array]] = lambda layer, x, dz: {}


def _batch(layer: StackLayer, x: Array) -> dict[str, tuple[int, ...]]:
    return {"N": (x.shape[0],), "D": tuple(x.shape[1:])}


def _dense(layer: StackLayer, x: Array) -> dict[str, tuple[int, ...]]:
    return {**_batch(layer, x), "M": (layer.options["units"],)}


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


def _mask(layer: StackLayer, x: Array, dz: Array) -> dict[str, Array]:
    mask = np.broadcast_to(np.asarray(layer.options["mask"], dtype=np.float64), x.shape)
    return {"mask": (mask != 0).astype(np.float64)}


def _words(layer: StackLayer, x: Array) -> dict[str, tuple[int, ...]]:
    n, t = x.shape
    o = layer.options
    return {"N": (n,), "T": (t,), "V": (o["vocabulary"],), "D": (o["dim"],)}


def _onehot(layer: StackLayer, x: Array, dz: Array) -> dict[str, Array]:
    return {"onehot": np.eye(layer.options["vocabulary"])[x.astype(int)]}


def _temporal(layer: StackLayer, x: Array) -> dict[str, tuple[int, ...]]:
    n, t, d = x.shape
    return {"N": (n,), "T": (t,), "D": (d,), "M": (layer.options["units"],)}


def _attention(layer: StackLayer, x: Array) -> dict[str, tuple[int, ...]]:
    n, t, d = x.shape
    o = layer.options
    return {"N": (n,), "T": (t,), "D": (d,), "d": (o["dim"],), "causal": (int(o["causal"]),)}


def _recurrent(layer: StackLayer, x: Array) -> dict[str, tuple[int, ...]] | None:
    if np.any(np.asarray(layer.options.get("c0", 0), dtype=np.float64) != 0):
        return None  # check-layer's lstm starts from c_0 = 0
    n, t, d = x.shape
    return {"N": (n,), "T": (t,), "D": (d,), "H": (layer.options["units"],)}


def _states(layer: StackLayer, x: Array, dz: Array) -> dict[str, Array]:
    """h0, and dJ/dh of every step: the upstream gradient, or only the last step's."""
    dh = dz
    if not layer.options["return_sequence"]:
        dh = np.zeros((*x.shape[:2], dz.shape[-1]))
        dh[:, -1] = dz
    return {"h0": np.asarray(layer.options["h0"], dtype=np.float64), "dout": dh}


_RECURRENT = (("dWx", "Wx"), ("dWh", "Wh"), ("db", "b"), ("dh0", "h0"))


#: Stack layer kind -> its check-layer kind. Adding a kind is one entry.
STEPS: dict[str, Step] = {
    "dense": Step("affine", _dense, (("dw", "W"), ("db", "b"))),
    "conv2d": Step("conv", _conv, (("dw", "W"), ("db", "b"))),
    "max_pool2d": Step("max_pool", _pool),
    "batchnorm": Step("batchnorm", _features, (("dgamma", "gamma"), ("dbeta", "beta"))),
    "layernorm": Step("layernorm", _features, (("dgamma", "gamma"), ("dbeta", "beta"))),
    "dropout": Step("dropout", _batch, more=_mask),
    "embedding": Step("word_embedding", _words, (("dW", "We"),), (("We", "W"),), _onehot),
    "temporal_dense": Step("temporal_affine", _temporal, (("dw", "W"), ("db", "b"))),
    "attention": Step("attention", _attention, (("dWq", "Wq"), ("dWk", "Wk"), ("dWv", "Wv"))),
    "rnn": Step("rnn", _recurrent, _RECURRENT, (), _states),
    "lstm": Step("lstm", _recurrent, _RECURRENT, (), _states),
    "relu": Step("relu", _batch),
}


#: Stack layer kinds without a step, and why.
NOT_MAPPED = {
    "avg_pool2d": "check-layer has no average-pooling kind",
    "flatten": "a reshape: check-layer has no such kind, and no catalogued mistake applies",
}


def named_in_stacks(kind: str) -> list[str]:
    """The catalogue ids a stack layer kind (or ``"relu"``) can be named by, registry order;
    ``transposed`` (named by its shape, for every kind) aside."""
    step = STEPS[kind]
    skip = (*_BY_SHAPE, *WRONG_SHAPE)
    return [m.id for m in catalogue(lookup(step.kind)) if m.id not in skip]


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
        keys, names = self.target.parameter_keys, dict(self.step.names)
        arrays = {"x": x, "dout": dz, **self.step.more(self.target, x, dz)}
        for stem, key in keys.items():
            if key in self.params:
                arrays[names.get(stem, stem)] = np.asarray(self.params[key])
        shapes = lookup(self.step.kind).inputs(self.sizes)
        if "b" in shapes and "b" not in arrays:  # a layer without bias: b = 0
            arrays["b"] = np.zeros(shapes["b"])
        exact = {"dx": _mp(dx)}
        for name, stem in self.step.stems:
            key = keys.get(stem, stem)
            exact[name] = _mp(grads[key] if key in grads else np.zeros(shapes[name[1:]]))
        return Case(
            {k: _rational(np.asarray(v, dtype=np.float64)) for k, v in arrays.items()}, exact
        )

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
            stem = stems.get(name)
            key = None if stem is None else keys.get(stem, stem)
            if key in grads:
                changed[key] = _floats(value).reshape(grads[key].shape)
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
        if entry.id in _BY_SHAPE or entry.id in WRONG_SHAPE:
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
        where = _where(layer, activation)
        for mistake, variant in _variants(step.kind, sizes):
            left = set(failing)
            for i, point in enumerate(points):
                grads = _hooked(layers, (layer, step, sizes, activation), variant, point, options)
                left = set() if grads is None else {p for p in left if matches(i, p, grads[p])}
                if not left:
                    break
            if left:
                found[(mistake, (("layer", where), *variant.detail))] = left
    return _grouped(found, len(points), source)


def _where(layer: StackLayer, activation: bool) -> str:
    """The layer a step's mistake is named at: ``layer 1 (conv2d)``, or ``... relu``."""
    return f"{layer.label}" + (f" {layer.activation.name}" if activation else "")


def _hooked(
    layers: Sequence[dict[str, Any]],
    found: tuple[StackLayer, Step, Sizes, bool],
    variant: Variant,
    point: StackPointData,
    options: Mapping[str, Any],
) -> dict[str, Array] | None:
    """The reference backprop with the step ``found`` (layer, step, sizes, is-activation)
    replaced by ``variant``; None where the variant's arithmetic fails."""
    layer, step, sizes, activation = found
    hook = _Replace(layer, step, sizes, variant, activation, point.parameters)
    try:
        with np.errstate(all="ignore"):
            return reference_layers.backprop(
                list(layers), point.parameters, point.x, point.y, hook=hook, **options
            )
    except (ValueError, ArithmeticError, KeyError, IndexError):
        return None


def indistinguishable_stack(
    spec: StackSpec,
    layers: Sequence[dict[str, Any]],
    points: Sequence[StackPointData],
    options: Mapping[str, Any],
    rtol: float,
    atol: float,
) -> list[MistakeMatch]:
    """Layer mistakes that give the exact gradients at the documented point (``points[0]``)
    but not at some random point: the documented point cannot tell them from a correct
    backprop (gamma = 1 hides a missing gamma)."""
    weak: dict[tuple[str, tuple[tuple[str, str], ...]], None] = {}
    for found in _steps(spec, points[0].x) if len(points) > 1 else ():
        layer, step, sizes, activation = found
        where = _where(layer, activation)
        for mistake, variant in _variants(step.kind, sizes):
            same = (_exact_with(layers, found, variant, p, options, (rtol, atol)) for p in points)
            if next(same) and not all(same):
                weak.setdefault((mistake, (("layer", where), *variant.detail)), None)
    return [StackMistakeMatch((), m, d, "", "documented point") for m, d in weak]


def _exact_with(
    layers: Sequence[dict[str, Any]],
    found: tuple[StackLayer, Step, Sizes, bool],
    variant: Variant,
    point: StackPointData,
    options: Mapping[str, Any],
    tolerances: tuple[float, float],
) -> bool:
    """Whether the backprop with ``variant`` in the step ``found`` gives the exact gradients at
    ``point``, to float64 tolerances."""
    grads = _hooked(layers, found, variant, point, options)
    return grads is not None and all(
        k in grads and _close(np.asarray(grads[k]), _floats(v), *tolerances)
        for k, v in point.exact.items()
    )


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
