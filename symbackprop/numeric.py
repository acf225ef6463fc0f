"""Lambdify the symbolic network: float64 NumPy functions generated from the SymPy definitions.

Nothing here writes a NumPy formula by hand. Every stage is ``sympy.lambdify`` (with
common-subexpression elimination) of one set of one-level definitions, in pipeline order:

    z^(l) = W^(l) a^(l-1) + b^(l),  a^(l) = f(z^(l)),  ...,  J,
    delta^(L), delta^(L-1), ..., delta^(1),  dJ/dW^(l), dJ/db^(l)

so a 16-32-32-10 network lambdifies in a fraction of a second: no whole-network expression is
ever built. Named functions (ReLU, sigma, ReLU', ...) are replaced by their elementary
definitions first, with ReLU'(0) set by the chosen convention.

An activation that is invariant under a common shift of its column (softmax: every output
depends on all of z, and sum_k da_i/dz_k = 0) is evaluated with the column shifted by its
maximum. That is an identity of the definition, so the result is the same function; it only keeps
exp() from overflowing when the output saturates.

The module also draws random points for a network (:func:`random_points`): exact rational
parameters and inputs, with some ReLU units inactive, some outputs near saturation, and no
pre-activation of a kinked layer within :data:`KINK_MARGIN` of its kink.

>>> from symbackprop import derive
>>> values = lambdify_network(derive("seed")).evaluate(load_point(derive("seed").spec))
>>> round(float(values.gradients["W2"][0, 1]), 8)
0.22091255
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction

import numpy as np
from numpy.typing import NDArray
from sympy import (
    Dummy,
    Expr,
    Float,
    ImmutableMatrix,
    Integer,
    Rational,
    Symbol,
    cancel,
    expand,
)
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.pycode import MpmathPrinter

from .activations import NAMED_FUNCTIONS
from .codegen import Function, compile_expressions
from .derivation import Derivation
from .gradients import Gradients
from .losses import LOSSES
from .network import Layer, SymbolicNetwork
from .spec import NetworkSpec

Array = NDArray[np.float64]

#: No pre-activation of a kinked layer (ReLU, leaky ReLU) lies closer than this to 0 at a random
#: point, so float64 evaluation and finite differences stay on one side of the kink.
KINK_MARGIN = Rational(1, 20)
#: Saturated random points scale the output layer so its pre-activations span about this much:
#: softmax then puts about exp(-9) ~ 1e-4 on the least likely class.
SATURATION_SPREAD = 9.0


# ----------------------------------------------------------------------------- points


@dataclass(frozen=True)
class Point:
    """A network's parameters and data as float64 arrays, in the notebook's shapes.

    ``weights[l]`` is (n_l, n_{l-1}), ``biases[l]`` is (n_l, 1) (or ``biases`` is None),
    ``x`` is (n_0, m) and ``y`` is (n_L, m).
    """

    weights: tuple[Array, ...]
    biases: tuple[Array, ...] | None
    x: Array
    y: Array


def _floats(matrix: ImmutableMatrix) -> Array:
    return np.array(matrix.tolist(), dtype=np.float64).reshape(matrix.shape)


def load_point(spec: NetworkSpec) -> Point:
    """The documented point of ``spec``, each exact number rounded once to float64."""
    return Point(
        tuple(_floats(w) for w in spec.weights),
        None if spec.biases is None else tuple(_floats(b) for b in spec.biases),
        _floats(spec.x),
        _floats(spec.y),
    )


# ----------------------------------------------------------------------------- stages


def elementary(expr: Expr, convention: Expr) -> Expr:
    """Replace every named function (ReLU, sigma, ReLU', ...) by its elementary definition.

    Functions with their own NumPy code (softplus, as ``logaddexp``) are kept for the printer.

    >>> from sympy import Symbol
    >>> from symbackprop.activations import ReLU
    >>> elementary(ReLU(Symbol("z")), Rational(0))
    Max(0, z)
    """
    return expr.replace(
        lambda e: isinstance(e, NAMED_FUNCTIONS) and not e.native_numpy,
        lambda e: e.elementary(convention),
    )


def float64_constants(expr: Expr) -> Expr:
    """Rational constants beyond 2**53 (a slope of 10**300) as float64-valued Floats.

    The printer would emit them as Python integers or integer fractions, which NumPy turns into
    object arrays (or which overflow); float64 is what the lambdified code computes in anyway.

    >>> from sympy import Symbol
    >>> float64_constants(10**300 * Symbol("z"))
    1.0000000000000001e+300*z
    """
    big = {r: Float(float(r), 17) for r in expr.atoms(Rational) if max(abs(r.p), r.q) > 2**53}
    return expr.xreplace(big) if big else expr


@dataclass(frozen=True)
class Stage:
    """One lambdified set of definitions: ``key`` (an (rows, cols) array) = f(inputs).

    ``outputs`` names the symbols the results define (for later stages), or is empty for a
    final result such as a gradient. ``maxima`` lists (shift symbol, column symbols): each shift
    symbol is set to the maximum of its column before the call.
    """

    key: str
    shape: tuple[int, int]
    inputs: tuple[Symbol, ...]
    outputs: tuple[Symbol, ...]
    function: Function
    maxima: tuple[tuple[Symbol, tuple[Symbol, ...]], ...] = ()

    def run(self, values: dict[Symbol, float]) -> Array:
        """Evaluate with ``values`` (adding this stage's outputs to it); return the array."""
        for shift, column in self.maxima:
            values[shift] = max(values[s] for s in column)
        results = self.function([values[s] for s in self.inputs])
        flat = np.array([float(r) for r in results], dtype=np.float64)
        values.update(zip(self.outputs, flat, strict=False))
        return flat.reshape(self.shape)


def _stage(
    key: str,
    matrix: ImmutableMatrix,
    convention: Expr,
    outputs: Iterable[Symbol] = (),
    maxima: Sequence[tuple[Symbol, tuple[Symbol, ...]]] = (),
    shift: dict[Symbol, Expr] | None = None,
    cse: bool = False,
) -> Stage:
    """One matrix of one-level definitions, lambdified; ``cse`` shares repeated subexpressions
    (the sum of a softmax), which the other definitions do not have."""
    expressions = [float64_constants(elementary(e, convention)) for e in matrix]
    if shift:
        expressions = [e.xreplace(shift) for e in expressions]
    inputs = sorted(set().union(*[e.free_symbols for e in expressions]), key=str)
    function = compile_expressions(inputs, expressions, numpy_printer(), "numpy", shared=cse)
    return Stage(key, matrix.shape, tuple(inputs), tuple(outputs), function, tuple(maxima))


#: lambdify's printer settings, without sorting the terms of sums (slow for wide layers).
_UNSORTED = {
    "fully_qualified_modules": False,
    "inline": True,
    "allow_unknown_functions": True,
    "user_functions": {},
    "order": "none",
}


def numpy_printer() -> NumPyPrinter:
    """lambdify's NumPy printer, without sorting the terms of sums (slow for wide layers)."""
    return NumPyPrinter(dict(_UNSORTED))


def mpmath_printer(printer_class: type[MpmathPrinter] = MpmathPrinter) -> MpmathPrinter:
    """lambdify's mpmath printer (or a subclass of it), without sorting the terms of sums."""
    return printer_class(dict(_UNSORTED))


def shift_invariant(layer: Layer, column: int = 0) -> bool:
    """Whether the activation of ``layer`` is unchanged by z -> z - c on a whole column.

    True for softmax, whose outputs each depend on every z of the column; elementwise
    activations are never shift invariant and are not tested.

    >>> from symbackprop import derive
    >>> [shift_invariant(layer) for layer in derive("seed").network.layers]
    [False, True]
    """
    zs = list(layer.pre_activation[:, column])
    definitions = list(layer.a_definition[:, column])
    if not all(set(zs) <= d.free_symbols for d in definitions):
        return False
    c = Dummy("c")
    shifted = {z: z - c for z in zs}
    return all(cancel(expand(d.xreplace(shifted) - d, power_exp=True)) == 0 for d in definitions)


def _activation_stage(layer: Layer, key: str, convention: Expr) -> Stage:
    matrix = layer.a_definition
    if not shift_invariant(layer):
        return _stage(key, matrix, convention, layer.activation, cse=True)
    maxima, shift = [], {}
    for s in range(matrix.cols):
        column = tuple(layer.pre_activation[:, s])
        peak = Dummy(f"max_{s}")
        maxima.append((peak, column))
        shift.update({z: z - peak for z in column})
    return _stage(key, matrix, convention, layer.activation, maxima, shift, cse=True)


@dataclass(frozen=True)
class NumericValues:
    """Float64 values at one point, keyed like :class:`~symbackprop.exact.ExactValues`.

    ``forward`` holds ``z1, a1, ..., yhat`` and ``loss``; ``gradients`` holds ``W1, b1, ...``.
    """

    forward: dict[str, Array]
    gradients: dict[str, Array]


@dataclass(frozen=True)
class NumericNetwork:
    """The lambdified network: forward stages, the loss, delta stages, gradient stages."""

    network: SymbolicNetwork
    convention: Rational
    forward_stages: tuple[Stage, ...]
    loss_stages: tuple[Stage, ...]
    backward_stages: tuple[Stage, ...]
    gradient_stages: tuple[Stage, ...]

    def inputs(self, point: Point) -> dict[Symbol, float]:
        """The symbol -> value table of a point's data and parameters."""
        net = self.network
        pairs = [(net.x, point.x), (net.y, point.y)]
        for layer, w in zip(net.layers, point.weights, strict=True):
            pairs.append((layer.weights, w))
        if point.biases is not None:
            pairs += [
                (layer.biases, b)
                for layer, b in zip(net.layers, point.biases, strict=True)
                if layer.biases is not None
            ]
        values: dict[Symbol, float] = {}
        for symbols, array in pairs:
            values.update(zip(symbols, np.asarray(array, dtype=np.float64).ravel(), strict=True))
        return values

    def evaluate(self, point: Point) -> NumericValues:
        """Every forward value, the loss and every gradient at ``point``, in float64."""
        values = self.inputs(point)
        forward: dict[str, Array] = {}
        gradients: dict[str, Array] = {}
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            for stage in (*self.forward_stages, *self.loss_stages):
                forward[stage.key] = stage.run(values)
            for stage in self.backward_stages:
                stage.run(values)
            for stage in self.gradient_stages:
                gradients[stage.key] = stage.run(values)
        return NumericValues(forward, gradients)


def lambdify_network(
    derivation: Derivation | None = None,
    *,
    network: SymbolicNetwork | None = None,
    gradients: Gradients | None = None,
    convention: Rational | None = None,
) -> NumericNetwork:
    """Lambdify every one-level definition of a derivation, stage by stage.

    Args:
        derivation: the derivation; or give ``network`` and ``gradients`` instead.
        network: the symbolic network (when no derivation is given).
        gradients: its gradients (when no derivation is given).
        convention: ReLU'(0); default the derivation's, else 0.

    Returns:
        The lambdified network; call :meth:`NumericNetwork.evaluate` on a :class:`Point`.

    Example:
        >>> from symbackprop import derive
        >>> numeric = lambdify_network(derive("seed"))
        >>> [stage.key for stage in numeric.forward_stages]
        ['z1', 'a1', 'z2', 'yhat']
    """
    if derivation is not None:
        network, gradients = derivation.network, derivation.gradients
        if convention is None:
            convention = derivation.options.relu_prime_at_zero
    if network is None or gradients is None:
        raise TypeError("lambdify_network needs a derivation, or a network and its gradients")
    c = Rational(0) if convention is None else Rational(convention)
    forward: list[Stage] = []
    for layer in network.layers:
        number = layer.index + 1
        forward.append(_stage(f"z{number}", layer.z_definition, c, layer.pre_activation))
        key = "yhat" if layer is network.output else f"a{number}"
        forward.append(_activation_stage(layer, key, c))
    losses: list[Stage] = []
    if network.sample_losses:
        per_sample = ImmutableMatrix([list(network.sample_loss_definitions)])
        losses.append(_stage("per_sample_loss", per_sample, c, network.sample_losses))
    losses.append(_stage("loss", ImmutableMatrix([[network.loss_definition]]), c))
    backward = [
        _stage(f"delta{l + 1}", definitions, c, gradients.deltas[l])
        for l, definitions in reversed(list(enumerate(gradients.delta_definitions)))
    ]
    finals = [_stage(key, matrix, c) for key, matrix in gradients.by_key().items()]
    return NumericNetwork(
        network, c, tuple(forward), tuple(losses), tuple(backward), tuple(finals)
    )


# ----------------------------------------------------------------------------- random points


def _rational(value: float, denominator: int = 100) -> Rational:
    """``value`` rounded to a multiple of 1/denominator, as an exact rational."""
    return Rational(Fraction(round(value * denominator), denominator))


def _matrix(values: Array) -> ImmutableMatrix:
    return ImmutableMatrix(
        values.shape[0], values.shape[1], lambda i, j: _rational(float(values[i, j]))
    )


def _targets(spec: NetworkSpec, rng: np.random.Generator) -> ImmutableMatrix:
    """Targets of the same kind as the spec's: one-hot, in [0, 1], or any numbers."""
    y = spec.y
    n, m = y.shape
    one_hot = all(v in (0, 1) for v in y) and all(sum(y[:, s]) == 1 for s in range(m))
    if one_hot:
        classes = rng.integers(0, n, m)
        new = ImmutableMatrix(n, m, lambda i, s: Integer(int(i == classes[s])))
    elif all(v in (0, 1) for v in y):
        new = ImmutableMatrix(rng.integers(0, 2, (n, m)).tolist())
    elif all(0 <= v <= 1 for v in y):
        new = _matrix(rng.uniform(0.0, 1.0, (n, m)))
    else:
        new = _matrix(rng.uniform(-1.0, 1.0, (n, m)))
    return new if LOSSES[spec.loss.name].check_target(new) is None else y


def _clear_of_kinks(z: Array, margin: float) -> NDArray[np.bool_]:
    """Per unit (row): whether every sample is at least ``margin`` away from 0."""
    return np.all(np.abs(z) >= margin, axis=1)


class _Draw:
    """Builds one random point layer by layer, evaluating with the lambdified stages."""

    def __init__(self, numeric: NumericNetwork, rng: np.random.Generator, saturate: bool) -> None:
        self.numeric, self.rng, self.saturate = numeric, rng, saturate
        self.spec = numeric.network.spec

    def weights(self, rows: int, cols: int) -> Array:
        bound = float(np.sqrt(6.0 / cols))  # He-uniform: keeps ReLU activations of order 1
        return self.rng.uniform(-bound, bound, (rows, cols))

    def biases(self, rows: int) -> Array:
        return self.rng.uniform(-0.5, 0.5, (rows, 1))

    def pre_activation(
        self, stage: Stage, values: dict[Symbol, float], layer: Layer, w: Array, b: Array | None
    ) -> Array:
        values.update(zip(layer.weights, w.ravel(), strict=True))
        if b is not None and layer.biases is not None:
            values.update(zip(layer.biases, b.ravel(), strict=True))
        return stage.run(values)

    def point(self) -> NetworkSpec:
        spec, net = self.spec, self.numeric.network
        x = _matrix(self.rng.uniform(-1.0, 1.0, spec.x.shape))
        values = self.numeric.inputs(load_point(spec))
        values.update(zip(net.x, _floats(x).ravel(), strict=True))
        weights, biases = [], []
        stages = self.numeric.forward_stages
        for layer in net.layers:
            z_stage, a_stage = stages[2 * layer.index], stages[2 * layer.index + 1]
            rows, cols = layer.weights.shape
            w = np.round(self.weights(rows, cols), 2)
            b = np.round(self.biases(rows), 2) if layer.biases is not None else None
            z = self.pre_activation(z_stage, values, layer, w, b)
            if layer is net.output and self.saturate:
                # softmax saturates with the spread of its column, elementwise outputs with |z|
                size = np.ptp(z, axis=0) if a_stage.maxima else np.abs(z)
                spread = max(float(size.max()), 1e-3)
                scale = SATURATION_SPREAD / spread
                w = np.round(w * scale, 2)
                b = None if b is None else np.round(b * scale, 2)
                z = self.pre_activation(z_stage, values, layer, w, b)
            if layer.function.has_kink:
                w, b, z = self.clear_kinks(z_stage, values, layer, w, b, z)
            a_stage.run(values)
            weights.append(_matrix(w))
            biases.append(None if b is None else _matrix(b))
        return replace(
            spec,
            weights=tuple(weights),
            biases=None if spec.biases is None else tuple(biases),  # type: ignore[arg-type]
            x=x,
            y=_targets(spec, self.rng),
            expected=None,
        )

    def clear_kinks(
        self,
        stage: Stage,
        values: dict[Symbol, float],
        layer: Layer,
        w: Array,
        b: Array | None,
        z: Array,
    ) -> tuple[Array, Array | None, Array]:
        """Redraw units too close to the kink; make sure some are inactive and some active."""
        margin = float(KINK_MARGIN)  # z is computed from the rounded (exact) numbers
        rows, cols = w.shape
        for _ in range(200):
            bad = np.flatnonzero(~_clear_of_kinks(z, margin))
            if bad.size == 0:
                break
            for i in bad:
                w[i] = np.round(self.weights(1, cols)[0], 2)
                if b is not None:
                    b[i] = np.round(self.biases(1)[0], 2)
            z = self.pre_activation(stage, values, layer, w, b)
        if rows > 1:
            flips: set[int] = set()
            if not np.any(z < 0):  # every unit active: switch one off
                flips.add(int(np.argmin(z.min(axis=1))))
            if np.any(np.all(z < 0, axis=0)):  # a sample with every unit off: switch one on
                flips.add(int(np.argmax(z.max(axis=1))))
            for unit in flips:  # negating a unit's row negates its z: the margin is kept
                w[unit] = -w[unit]
                if b is not None:
                    b[unit] = -b[unit]
            z = self.pre_activation(stage, values, layer, w, b)
        return w, b, z


def random_points(numeric: NumericNetwork, count: int, seed: int = 0) -> list[NetworkSpec]:
    """``count`` random points for the network of ``numeric``, reproducible through ``seed``.

    Each is the spec with new exact (two-decimal) weights, biases and inputs and new valid
    targets; ``expected`` is dropped. Every other point has its output layer scaled so that the
    outputs are near saturation. No pre-activation of a kinked layer is within
    :data:`KINK_MARGIN` of 0, and kinked hidden layers have inactive as well as active units.

    Args:
        numeric: the lambdified network (used to evaluate pre-activations while drawing).
        count: how many points.
        seed: the random seed.

    Returns:
        The points as specs, ready for :func:`~symbackprop.exact.evaluate`.
    """
    rng = np.random.default_rng(seed)
    return [_Draw(numeric, rng, saturate=k % 2 == 1).point() for k in range(count)]
