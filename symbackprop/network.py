"""NetworkSpec -> SymbolicNetwork: named symbols and the forward definitions.

Every intermediate quantity is a named symbol with a definition in terms of the previous layer's
symbols only: z = W a + b, a = f(z), yhat = f_out(z^(L)), J_s = loss(yhat, y) and
J = (1/m) sum_s J_s (+ l2 sum W^2). Nothing is ever expanded into one big expression here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sympy import Add, Expr, ImmutableMatrix, Integer, Rational, Symbol, zeros

from . import notation
from .activations import ACTIVATIONS, Activation
from .losses import LOSSES, Loss
from .spec import NetworkSpec


@dataclass(frozen=True)
class Layer:
    """One layer l (0-based ``index``): its symbols, matrices of shape (n_l, m), and definitions."""

    index: int
    weights: ImmutableMatrix
    biases: ImmutableMatrix | None
    pre_activation: ImmutableMatrix
    activation: ImmutableMatrix
    z_definition: ImmutableMatrix
    a_definition: ImmutableMatrix
    function: Activation
    options: dict[str, Any]

    @property
    def size(self) -> int:
        return int(self.weights.rows)


@dataclass(frozen=True)
class SymbolicNetwork:
    """The whole network as named symbols and one-level definitions."""

    spec: NetworkSpec
    x: ImmutableMatrix
    y: ImmutableMatrix
    layers: tuple[Layer, ...]
    sample_losses: tuple[Symbol, ...]
    sample_loss_definitions: tuple[Expr, ...]
    loss_definition: Expr
    wide: bool
    loss_entry: Loss

    @property
    def output(self) -> Layer:
        return self.layers[-1]

    @property
    def inputs(self) -> ImmutableMatrix:
        """The activations feeding layer 1: x."""
        return self.x

    def previous_activation(self, index: int) -> ImmutableMatrix:
        """a^(l-1) for 0-based layer ``index`` (x for the first layer)."""
        return self.x if index == 0 else self.layers[index - 1].activation

    def parameters(self) -> list[tuple[str, ImmutableMatrix]]:
        """``[("W1", W^(1)), ("b1", b^(1)), ...]`` in layer order (biases omitted when absent)."""
        pairs: list[tuple[str, ImmutableMatrix]] = []
        for layer in self.layers:
            pairs.append((notation.parameter_key("W", layer.index), layer.weights))
            if layer.biases is not None:
                pairs.append((notation.parameter_key("b", layer.index), layer.biases))
        return pairs

    def definitions(self) -> dict[Symbol, Expr]:
        """Every intermediate symbol mapped to its one-level definition."""
        defs: dict[Symbol, Expr] = {}
        for layer in self.layers:
            defs.update(zip(layer.pre_activation, layer.z_definition, strict=True))
            defs.update(zip(layer.activation, layer.a_definition, strict=True))
        defs.update(zip(self.sample_losses, self.sample_loss_definitions, strict=True))
        defs[notation.LOSS] = self.loss_definition
        return defs


def _symbols(rows: int, cols: int, make: Any) -> ImmutableMatrix:
    return ImmutableMatrix(rows, cols, lambda i, j: make(i, j))


def build_network(spec: NetworkSpec) -> SymbolicNetwork:
    """Build the named symbols and forward definitions of ``spec``.

    >>> net = build_network(load_spec("seed"))   # doctest: +SKIP
    >>> net.layers[0].z_definition[0]
    W^(1)_11*x_1 + W^(1)_12*x_2 + b^(1)_1
    """
    wide = max(spec.layers) > 9
    m = spec.samples
    sample = (lambda s: s) if spec.batched else (lambda s: None)
    x = _symbols(spec.layers[0], m, lambda j, s: notation.network_input(j, sample(s), wide))
    y = _symbols(spec.layers[-1], m, lambda k, s: notation.target(k, sample(s), wide))
    layers: list[Layer] = []
    previous = x
    for l, act in enumerate(spec.activations):
        layer = _layer(spec, l, previous, act.name, dict(act.options), sample, wide)
        layers.append(layer)
        previous = layer.activation
    loss_entry = LOSSES[spec.loss.name]
    per_sample = [
        loss_entry.per_sample(list(previous[:, s]), list(y[:, s]), dict(spec.loss.options))
        for s in range(m)
    ]
    j_s, loss = _reduce(spec, per_sample)
    # the penalty's sum over every weight costs seconds at MNIST size: built only when used
    weights_l2 = (
        spec.l2 * Add(*[w**2 for layer in layers for w in layer.weights]) if spec.l2 else 0
    )
    return SymbolicNetwork(
        spec,
        x,
        y,
        tuple(layers),
        j_s,
        tuple(per_sample) if j_s else (),
        loss + weights_l2,
        wide,
        loss_entry,
    )


def _layer(
    spec: NetworkSpec,
    l: int,
    previous: ImmutableMatrix,
    name: str,
    options: dict[str, Any],
    sample: Any,
    wide: bool,
) -> Layer:
    n, n_prev, m = spec.layers[l + 1], spec.layers[l], spec.samples
    output = l == spec.depth - 1
    w = _symbols(n, n_prev, lambda i, j: notation.weight(l, i, j, wide))
    b = _symbols(n, 1, lambda i, _: notation.bias(l, i, wide)) if spec.biases is not None else None
    z = _symbols(n, m, lambda i, s: notation.pre_activation(l, i, sample(s), wide))
    make_a = (
        notation.prediction if output else (lambda i, s, wide: notation.activation(l, i, s, wide))
    )
    a = _symbols(n, m, lambda i, s: make_a(i, sample(s), wide=wide))
    shift = b * ImmutableMatrix.ones(1, m) if b is not None else zeros(n, m)
    z_def = ImmutableMatrix(w * previous + shift)
    function = ACTIVATIONS[name]
    a_def = ImmutableMatrix.hstack(
        *[ImmutableMatrix(function.apply(list(z[:, s]), options)) for s in range(m)]
    )
    return Layer(l, w, b, z, a, z_def, a_def, function, options)


def _reduce(spec: NetworkSpec, per_sample: list[Expr]) -> tuple[tuple[Symbol, ...], Expr]:
    """J from the per-sample losses: J = J_1 for one sample, else (1/m) sum J_s or sum J_s."""
    if len(per_sample) == 1 and not spec.batched:
        return (), per_sample[0]
    j_s = tuple(notation.sample_loss(s) for s in range(len(per_sample)))
    scale = Rational(1, len(j_s)) if spec.loss.reduction == "mean" else Integer(1)
    return j_s, scale * Add(*j_s)
