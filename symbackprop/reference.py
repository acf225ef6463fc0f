"""Hand-written NumPy backpropagation: the independent second opinion.

This is the notebook the project was born from (column vectors, ``weights``/``biases`` lists,
the delta recursion), generalised to any depth and to several activations and losses. It
imports nothing from the symbolic side on purpose: ``check`` compares the two, so they must not
share a single formula. It keeps its own small table of NumPy activations and derivatives.

Shapes (0-based Python lists, 1-based layers in the maths): ``x`` is ``(n_0, m)`` and ``y`` is
``(n_L, m)``, one sample per column; ``weights[l]`` is ``(n_{l+1}, n_l)`` and ``biases[l]`` is
``(n_{l+1}, 1)``. ``biases`` may be ``None`` for a network without biases.

The loss is ``J = r * sum_s J_s + l2 * sum_l sum(W_l**2)`` with ``r = 1/m`` for
``reduction="mean"`` and ``r = 1`` for ``"sum"``; biases are not regularised.

Stacked copies. :func:`loss`, :func:`loss_and_kinks` and :func:`kink_pre_activations` also take
parameters with leading axes, e.g. ``weights[0]`` of shape ``(P, n_1, n_0)``: P copies of the
network that differ in that array (finite differences perturb one entry per copy). The
matrix products broadcast, softmax runs over axis -2 and sums over the last two axes, so they
return P losses and ``(P, n, m)`` pre-activations.
"""

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

Array = NDArray[np.float64]
ActivationSpec = str | tuple[str, Mapping[str, float]]

__all__ = [
    "ActivationSpec",
    "ResolvedActivation",
    "backprop",
    "forward",
    "kink_pre_activations",
    "loss",
    "loss_and_kinks",
    "notebook_backprop",
    "output_delta",
    "output_loss",
    "resolve_activation",
]


# --- Activation table: z -> f(z) and z -> f'(z), written by hand ---------------------------


def _sigmoid(z: Array) -> Array:
    """Stable logistic function: never evaluates ``exp`` of a large positive number."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softmax(z: Array) -> Array:
    """Softmax over output units (axis -2), one column per sample, shifted by the max."""
    e = np.exp(z - np.max(z, axis=-2, keepdims=True))
    return e / np.sum(e, axis=-2, keepdims=True)


def _log_softmax(z: Array) -> Array:
    """log softmax(z) over axis -2, computed from the logits without forming softmax."""
    shifted = z - np.max(z, axis=-2, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-2, keepdims=True))


def _total(values: Array) -> Array:
    """The sum of one network's ``(n, m)`` entries: over the last two axes, keeping any leading
    axes of stacked copies. Flattened first, so that the order of the additions is that of
    ``np.sum`` of the plain 2-D array."""
    return np.sum(values.reshape(*values.shape[:-2], -1), axis=-1)


def _kink(z: Array, below: float, at_zero: float) -> Array:
    """Derivative of a ReLU-like function: 1 for z > 0, ``below`` for z < 0, ``at_zero`` at 0."""
    return np.where(z > 0, 1.0, np.where(z < 0, below, at_zero))


def _leaky_relu_prime(z: Array, options: Mapping[str, float], c: float) -> Array:
    """Leaky ReLU': 1, slope, and slope + c (1 - slope) at exactly 0 (c = ReLU'(0))."""
    slope = options["slope"]
    return _kink(z, slope, slope + c * (1.0 - slope))


@dataclass(frozen=True)
class _Activation:
    """One row of the table.

    ``derivative(z, options, relu_prime_at_zero)`` is the elementwise f'(z); it is ``None`` for
    softmax, whose Jacobian is not diagonal (handled as a vector-Jacobian product).
    """

    function: Callable[[Array, Mapping[str, float]], Array]
    derivative: Callable[[Array, Mapping[str, float], float], Array] | None
    defaults: Mapping[str, float] = field(default_factory=dict)
    kinked: bool = False


_ACTIVATIONS: dict[str, _Activation] = {
    "identity": _Activation(lambda z, o: z, lambda z, o, c: np.ones_like(z)),
    "relu": _Activation(
        lambda z, o: np.maximum(z, 0.0), lambda z, o, c: _kink(z, 0.0, c), {}, True
    ),
    "leaky_relu": _Activation(
        lambda z, o: np.where(z > 0, z, o["slope"] * z), _leaky_relu_prime, {"slope": 0.01}, True
    ),
    "sigmoid": _Activation(lambda z, o: _sigmoid(z), lambda z, o, c: _sigmoid(z) * _sigmoid(-z)),
    "tanh": _Activation(lambda z, o: np.tanh(z), lambda z, o, c: 1.0 - np.tanh(z) ** 2),
    "softplus": _Activation(lambda z, o: np.logaddexp(0.0, z), lambda z, o, c: _sigmoid(z)),
    "softmax": _Activation(lambda z, o: _softmax(z), None),
}
_ALIASES = {"linear": "identity"}


@dataclass(frozen=True)
class _Layer:
    """A resolved activation: canonical name, table row and complete options."""

    name: str
    activation: _Activation
    options: Mapping[str, float]

    def apply(self, z: Array) -> Array:
        return self.activation.function(z, self.options)

    def vjp(self, z: Array, a: Array, g: Array, relu_prime_at_zero: float) -> Array:
        """g^T (da/dz): elementwise for most activations, s * (g - <s, g>) for softmax."""
        derivative = self.activation.derivative
        if derivative is None:
            return a * (g - np.sum(a * g, axis=-2, keepdims=True))
        return g * derivative(z, self.options, relu_prime_at_zero)


def _resolve_layer(entry: ActivationSpec, layer: int, n_layers: int) -> _Layer:
    """Look up one activation entry (1-based ``layer``) and check its options."""
    name, options = (entry, {}) if isinstance(entry, str) else entry
    canonical = _ALIASES.get(name, name)
    if canonical not in _ACTIVATIONS:
        choices = ", ".join(sorted([*_ACTIVATIONS, *_ALIASES]))
        raise ValueError(
            f"unknown activation {name!r} in layer {layer}; expected one of: {choices}"
        )
    if canonical == "softmax" and layer != n_layers:
        raise ValueError(
            f"softmax is only allowed on the output layer, got it on layer {layer} of {n_layers}"
        )
    activation = _ACTIVATIONS[canonical]
    for key in options:
        if key not in activation.defaults:
            valid = ", ".join(sorted(activation.defaults)) or "none"
            raise ValueError(
                f"unknown option {key!r} for activation {name!r} in layer {layer}; "
                f"expected one of: {valid}"
            )
    return _Layer(canonical, activation, {**activation.defaults, **options})


# --- Loss table: value and gradient with respect to the prediction, summed over samples ----


def _squared_error(a: Array, y: Array, half: bool) -> Array:
    return (0.5 if half else 1.0) * _total((a - y) ** 2)


def _squared_error_grad(a: Array, y: Array, half: bool) -> Array:
    return (1.0 if half else 2.0) * (a - y)


def _binary_cross_entropy(a: Array, y: Array, half: bool) -> Array:
    return -_total(y * np.log(a) + (1.0 - y) * np.log1p(-a))


def _binary_cross_entropy_grad(a: Array, y: Array, half: bool) -> Array:
    return (a - y) / (a * (1.0 - a))


def _cross_entropy_from_logits(z: Array, y: Array) -> Array:
    """-sum_k y_k log softmax(z)_k, through log-softmax so saturation cannot give log(0)."""
    return -_total(y * _log_softmax(z))


def _cross_entropy_logit_grad(z: Array, y: Array) -> Array:
    """dJ_s/dz = softmax(z) sum_k y_k - y, which is yhat - y for one-hot or probability y."""
    return _softmax(z) * np.sum(y, axis=-2, keepdims=True) - y


def _binary_cross_entropy_from_logits(z: Array, y: Array) -> Array:
    """-[y log s(z) + (1-y) log(1-s(z))] = softplus(z) - y z, stable for any z."""
    return _total(np.logaddexp(0.0, z) - y * z)


@dataclass(frozen=True)
class _LogitForm:
    """Stable value and combined delta of a loss when the output layer is ``activation``."""

    activation: str
    value: Callable[[Array, Array], Array]
    delta: Callable[[Array, Array], Array]


@dataclass(frozen=True)
class _Loss:
    """Value/gradient from the prediction ``(a, y, half)``; ``None`` means logits only."""

    value: Callable[[Array, Array, bool], Array] | None
    gradient: Callable[[Array, Array, bool], Array] | None
    logit_form: _LogitForm | None


_LOSSES: dict[str, _Loss] = {
    "cross_entropy": _Loss(
        None,
        None,
        _LogitForm("softmax", _cross_entropy_from_logits, _cross_entropy_logit_grad),
    ),
    "binary_cross_entropy": _Loss(
        _binary_cross_entropy,
        _binary_cross_entropy_grad,
        _LogitForm("sigmoid", _binary_cross_entropy_from_logits, lambda z, y: _sigmoid(z) - y),
    ),
    "squared_error": _Loss(_squared_error, _squared_error_grad, None),
}
_REDUCTIONS = ("mean", "sum")


@dataclass(frozen=True)
class _Objective:
    """A validated loss together with its options and the output layer it applies to."""

    loss: _Loss
    output: _Layer
    half: bool
    reduction: str

    @property
    def logit_form(self) -> _LogitForm | None:
        form = self.loss.logit_form
        return form if form is not None and form.activation == self.output.name else None

    def scale(self, m: int) -> float:
        return 1.0 / m if self.reduction == "mean" else 1.0


def _resolve_loss(name: str, output: _Layer, half: bool, reduction: str) -> _Objective:
    """Check the loss name, reduction and output-layer compatibility."""
    if name not in _LOSSES:
        raise ValueError(f"unknown loss {name!r}; expected one of: {', '.join(sorted(_LOSSES))}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"unknown reduction {reduction!r}; expected one of: mean, sum")
    objective = _Objective(_LOSSES[name], output, half, reduction)
    form = objective.loss.logit_form
    if objective.loss.value is None and form is not None and objective.logit_form is None:
        raise ValueError(
            f"loss {name!r} requires a {form.activation} output layer, got {output.name!r}"
        )
    return objective


# --- Network preparation and the two passes ------------------------------------------------


@dataclass(frozen=True)
class _Network:
    weights: list[Array]
    biases: list[Array] | None
    layers: list[_Layer]


def _prepare(
    weights: Sequence[ArrayLike],
    biases: Sequence[ArrayLike] | None,
    activations: Sequence[ActivationSpec],
) -> _Network:
    """Convert parameters to float64 arrays and resolve the activation of every layer."""
    ws = [np.asarray(w, dtype=np.float64) for w in weights]
    bs = None if biases is None else [np.asarray(b, dtype=np.float64) for b in biases]
    if len(activations) != len(ws):
        raise ValueError(f"got {len(ws)} weight matrices but {len(activations)} activations")
    if bs is not None and len(bs) != len(ws):
        raise ValueError(f"got {len(ws)} weight matrices but {len(bs)} bias vectors")
    for layer, (w, b) in enumerate(zip(ws, bs or [], strict=False), start=1):
        if b.shape[-2:] != (w.shape[-2], 1):
            raise ValueError(
                f"bias of layer {layer} has shape {b.shape}; expected ({w.shape[-2]}, 1)"
            )
    n = len(ws)
    return _Network(ws, bs, [_resolve_layer(e, i, n) for i, e in enumerate(activations, 1)])


def _forward(net: _Network, x: ArrayLike) -> tuple[list[Array], list[Array]]:
    """z^l = W^l a^{l-1} + b^l and a^l = f_l(z^l), for l = 1..L with a^0 = x."""
    a = np.asarray(x, dtype=np.float64)
    pre_activations: list[Array] = []
    activations = [a]
    for k, (w, layer) in enumerate(zip(net.weights, net.layers, strict=True)):
        z = w @ a if net.biases is None else w @ a + net.biases[k]
        a = layer.apply(z)
        pre_activations.append(z)
        activations.append(a)
    return pre_activations, activations


def forward(
    weights: Sequence[ArrayLike],
    biases: Sequence[ArrayLike] | None,
    x: ArrayLike,
    activations: Sequence[ActivationSpec],
) -> tuple[list[Array], list[Array]]:
    """Run the forward pass, keeping every intermediate value like the notebook.

    Args:
        weights: ``W^1..W^L``, ``weights[l]`` of shape ``(n_{l+1}, n_l)``.
        biases: ``b^1..b^L`` as ``(n, 1)`` columns, or ``None`` for no biases.
        x: Inputs of shape ``(n_0, m)``, one sample per column.
        activations: One name per layer, or a ``(name, options)`` pair such as
            ``("leaky_relu", {"slope": 0.1})``.

    Returns:
        ``(pre_activations, activations)``: ``[z^1..z^L]`` and ``[a^0 = x, a^1..a^L]``.

    Raises:
        ValueError: For an unknown activation or option, softmax on a hidden layer, or
            mismatched lengths or bias shapes.

    Example:
        >>> zs, acts = forward([[[1.0, -1.0]]], [[[0.5]]], [[2.0], [1.0]], ["relu"])
        >>> float(zs[0][0, 0]), float(acts[1][0, 0])
        (1.5, 1.5)
    """
    return _forward(_prepare(weights, biases, activations), x)


def kink_pre_activations(
    weights: Sequence[ArrayLike],
    biases: Sequence[ArrayLike] | None,
    x: ArrayLike,
    activations: Sequence[ActivationSpec],
) -> list[Array]:
    """Pre-activations of the layers whose activation has a kink at 0 (ReLU, leaky ReLU).

    Feed this to ``finite_differences.kink_mask`` to see which finite differences straddle a
    kink.

    Args:
        weights: As in :func:`forward`.
        biases: As in :func:`forward`.
        x: As in :func:`forward`.
        activations: As in :func:`forward`.

    Returns:
        The ``z^l`` arrays of the kinked layers, in layer order (empty if there are none).

    Example:
        >>> [z.tolist() for z in kink_pre_activations([[[1.0]]], None, [[-2.0]], ["relu"])]
        [[[-2.0]]]
    """
    net = _prepare(weights, biases, activations)
    return _kinked(net, _forward(net, x)[0])


def _kinked(net: _Network, pre_activations: list[Array]) -> list[Array]:
    """The pre-activations of the ReLU-like layers, in layer order."""
    return [
        z for z, layer in zip(pre_activations, net.layers, strict=True) if layer.activation.kinked
    ]


def _check_target(y: ArrayLike, prediction: Array) -> Array:
    """The target as float64, shaped like one copy of the prediction (its last two axes)."""
    target = np.asarray(y, dtype=np.float64)
    if target.shape != prediction.shape[-2:]:
        raise ValueError(f"target has shape {target.shape}; expected {prediction.shape[-2:]}")
    return target


def _data_loss(objective: _Objective, z: Array, a: Array, y: Array) -> Array:
    """sum_s J_s, from the logits when a stable logit form exists (one per stacked copy)."""
    form = objective.logit_form
    if form is not None:
        return form.value(z, y)
    assert objective.loss.value is not None  # guaranteed by _resolve_loss
    return objective.loss.value(a, y, objective.half)


def _penalty(weights: list[Array], l2: float) -> Array | np.float64:
    """l2 sum_l ||W^l||_F^2, one per stacked copy.

    With l2 = 0 the term is 0 * S: 0 while S is finite, NaN once S overflows (huge weights).
    When the largest weight bounds S far below overflow it is 0 without summing the squares
    (two passes fewer over the copies); otherwise S is summed as for any l2, so the result is
    the same, bit for bit.
    """
    if l2 == 0 and all(_far_from_overflow(w, len(weights)) for w in weights):
        return np.zeros(np.broadcast_shapes(*(w.shape[:-2] for w in weights)))[()]
    return l2 * sum((_total(w**2) for w in weights), np.float64(0.0))


def _far_from_overflow(w: Array, layers: int) -> bool:
    """Whether ``layers`` sums of squares like that of ``w`` surely add up to under 1e300: its
    size times its largest square is below 1e300 / layers. False for NaN."""
    flat = w.reshape(*w.shape[:-2], -1)
    if flat.shape[-1] == 0:
        return True
    largest = np.maximum(np.max(flat, axis=-1), -np.min(flat, axis=-1))
    return bool(np.all(largest < math.sqrt(1e300 / (layers * flat.shape[-1]))))


def _evaluate(
    net: _Network, objective: _Objective, x: ArrayLike, y: ArrayLike, l2: float
) -> tuple[float | Array, list[Array]]:
    """One forward pass: J (a float, or one per stacked copy) and the kinked pre-activations."""
    pre_activations, acts = _forward(net, x)
    target = _check_target(y, acts[-1])
    data = _data_loss(objective, pre_activations[-1], acts[-1], target)
    value = objective.scale(target.shape[1]) * data + _penalty(net.weights, l2)
    return (float(value) if np.ndim(value) == 0 else value), _kinked(net, pre_activations)


def loss(
    weights: Sequence[ArrayLike],
    biases: Sequence[ArrayLike] | None,
    x: ArrayLike,
    y: ArrayLike,
    *,
    activations: Sequence[ActivationSpec],
    loss: str = "cross_entropy",
    half: bool = True,
    reduction: str = "mean",
    l2: float = 0.0,
) -> float | Array:
    """Evaluate ``J = r sum_s J_s + l2 sum_l ||W^l||_F^2``.

    Args:
        weights: As in :func:`forward`.
        biases: As in :func:`forward`.
        x: Inputs ``(n_0, m)``.
        y: Targets ``(n_L, m)``.
        activations: As in :func:`forward`.
        loss: ``"cross_entropy"`` (softmax output), ``"binary_cross_entropy"`` or
            ``"squared_error"``.
        half: Squared error only: ``1/2 sum (yhat - y)^2`` if true, else without the 1/2.
        reduction: ``"mean"`` (r = 1/m) or ``"sum"`` (r = 1) over the samples.
        l2: Weight-decay coefficient (no 1/2; biases excluded).

    Returns:
        The scalar loss as a Python float; for parameters with leading axes of stacked copies
        (see the module docstring), an array of one loss per copy.

    Raises:
        ValueError: For unknown names, incompatible output layer, or bad shapes.

    Example:
        >>> round(loss([[[0.0, 0.0]]], None, [[1.0], [2.0]], [[1.0]],
        ...            activations=["sigmoid"], loss="binary_cross_entropy"), 6)
        0.693147
    """
    net = _prepare(weights, biases, activations)
    objective = _resolve_loss(loss, net.layers[-1], half, reduction)
    return _evaluate(net, objective, x, y, l2)[0]


def loss_and_kinks(
    weights: Sequence[ArrayLike],
    biases: Sequence[ArrayLike] | None,
    x: ArrayLike,
    y: ArrayLike,
    *,
    activations: Sequence[ActivationSpec],
    loss: str = "cross_entropy",
    half: bool = True,
    reduction: str = "mean",
    l2: float = 0.0,
) -> tuple[float | Array, list[Array]]:
    """:func:`loss` and :func:`kink_pre_activations` from one forward pass.

    Finite differences need both at every perturbed point; this runs the network once.
    The arguments are those of :func:`loss`, and parameters may carry leading axes.

    Returns:
        ``(loss, kinks)``: the loss (a float, or one per stacked copy) and the pre-activations
        of the ReLU-like layers, in layer order.

    Example:
        >>> two_copies = [np.array([[[2.0]], [[-1.0]]])]  # W^1 = 2 and W^1 = -1
        >>> value, kinks = loss_and_kinks(two_copies, None, [[1.0]], [[0.0]],
        ...                               activations=["relu"], loss="squared_error")
        >>> value.tolist(), kinks[0].ravel().tolist()
        ([2.0, 0.0], [2.0, -1.0])
    """
    net = _prepare(weights, biases, activations)
    objective = _resolve_loss(loss, net.layers[-1], half, reduction)
    return _evaluate(net, objective, x, y, l2)


def _output_delta(objective: _Objective, z: Array, a: Array, y: Array, c: float) -> Array:
    """delta^L = dJ/dz^L: combined logit gradient, or dJ/dyhat chained through f_L."""
    scale = objective.scale(y.shape[1])
    form = objective.logit_form
    if form is not None:
        return scale * form.delta(z, y)
    assert objective.loss.gradient is not None  # guaranteed by _resolve_loss
    return objective.output.vjp(z, a, scale * objective.loss.gradient(a, y, objective.half), c)


def _backward(
    net: _Network, pre_activations: list[Array], acts: list[Array], delta: Array, c: float
) -> tuple[list[Array], list[Array]]:
    """The delta recursion: delta^l = (W^{l+1})^T delta^{l+1} * f_l'(z^l).

    Returns the data-term gradients dJ/dW^l = delta^l (a^{l-1})^T and
    dJ/db^l = sum over samples of delta^l.
    """
    n = len(net.weights)
    grads_w: list[Array] = [np.empty(0)] * n
    grads_b: list[Array] = [np.empty(0)] * n
    for k in range(n - 1, -1, -1):  # 0-based index of layer k + 1
        grads_w[k] = delta @ acts[k].T
        grads_b[k] = np.sum(delta, axis=1, keepdims=True)
        if k > 0:
            back = net.weights[k].T @ delta
            delta = net.layers[k - 1].vjp(pre_activations[k - 1], acts[k], back, c)
    return grads_w, grads_b


def backprop(
    weights: Sequence[ArrayLike],
    biases: Sequence[ArrayLike] | None,
    x: ArrayLike,
    y: ArrayLike,
    *,
    activations: Sequence[ActivationSpec],
    loss: str = "cross_entropy",
    half: bool = True,
    reduction: str = "mean",
    l2: float = 0.0,
    relu_prime_at_zero: float = 0.0,
) -> tuple[list[Array], list[Array] | None]:
    """Gradients of :func:`loss` with respect to every weight and bias, by hand.

    Args:
        weights: As in :func:`forward`.
        biases: As in :func:`forward` (``None`` for no biases).
        x: Inputs ``(n_0, m)``.
        y: Targets ``(n_L, m)``.
        activations: As in :func:`forward`.
        loss: As in :func:`loss`.
        half: As in :func:`loss`.
        reduction: As in :func:`loss`.
        l2: As in :func:`loss`; adds ``2 l2 W^l`` to each weight gradient.
        relu_prime_at_zero: The value c used for ReLU'(0); leaky ReLU uses
            ``slope + c (1 - slope)`` at 0.

    Returns:
        ``(grads_W, grads_b)`` shaped like ``weights`` and ``biases``; ``grads_b`` is ``None``
        when ``biases`` is.

    Raises:
        ValueError: As :func:`loss`.

    Example:
        >>> gw, gb = backprop([[[2.0]]], [[[0.0]]], [[3.0]], [[1.0]],
        ...                   activations=["identity"], loss="squared_error")
        >>> float(gw[0][0, 0]), float(gb[0][0, 0])
        (15.0, 5.0)
    """
    net = _prepare(weights, biases, activations)
    objective = _resolve_loss(loss, net.layers[-1], half, reduction)
    pre_activations, acts = _forward(net, x)
    target = _check_target(y, acts[-1])
    c = float(relu_prime_at_zero)
    delta = _output_delta(objective, pre_activations[-1], acts[-1], target, c)
    grads_w, grads_b = _backward(net, pre_activations, acts, delta, c)
    grads_w = [g + 2.0 * l2 * w for g, w in zip(grads_w, net.weights, strict=True)]
    return grads_w, None if biases is None else grads_b


def notebook_backprop(
    weights: Sequence[ArrayLike], biases: Sequence[ArrayLike], x: ArrayLike, y: ArrayLike
) -> tuple[list[Array], list[Array] | None]:
    """The notebook's network: ReLU hidden layers, softmax output, cross-entropy, batch mean.

    Args:
        weights: ``W^1..W^L`` (any depth L >= 1).
        biases: ``b^1..b^L`` as ``(n, 1)`` columns.
        x: Inputs ``(n_0, m)``.
        y: One-hot targets ``(n_L, m)``.

    Returns:
        ``(grads_W, grads_b)``, as in the notebook's ``gradients_W`` and ``gradients_b``.

    Example:
        >>> W = [[[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]], [[0.7, 0.8, 0.9], [1.0, 1.1, 1.2]]]
        >>> b = [[[0.1]] * 3, [[0.2]] * 2]
        >>> gw, gb = notebook_backprop(W, b, [[1.0], [0.5]], [[0], [1]])
        >>> round(float(gw[1][0, 1]), 8)
        0.22091255
    """
    hidden: list[ActivationSpec] = ["relu"] * (len(weights) - 1)
    return backprop(weights, biases, x, y, activations=[*hidden, "softmax"])


# --- Building blocks for the other reference modules (reference_layers.py) -----------------
# They expose the tables above, unchanged, on columns (one sample per column).

#: A looked-up activation, as returned by :func:`resolve_activation`.
ResolvedActivation = _Layer


def resolve_activation(
    entry: ActivationSpec, layer: int = 1, n_layers: int = 1
) -> ResolvedActivation:
    """Look up one activation for reuse on columns (one sample per column).

    Args:
        entry: A name or a ``(name, options)`` pair, as in :func:`forward`.
        layer: The 1-based layer it belongs to, for error messages and the softmax check.
        n_layers: The number of layers (softmax is allowed on layer ``n_layers`` only).

    Returns:
        An object with ``name``, ``apply(z)`` and ``vjp(z, a, g, relu_prime_at_zero)``, the
        vector-Jacobian product g^T (da/dz) over axis 0.

    Raises:
        ValueError: As :func:`forward`.

    Example:
        >>> act = resolve_activation("relu")
        >>> act.apply(np.array([[-1.0], [2.0]])).ravel().tolist()
        [0.0, 2.0]
    """
    return _resolve_layer(entry, layer, n_layers)


def output_loss(
    loss: str,
    output: ResolvedActivation,
    z: Array,
    a: Array,
    y: ArrayLike,
    half: bool,
    reduction: str,
) -> float:
    """``r sum_s J_s`` of an output layer given as columns, from the logits where :func:`loss` is.

    Args:
        loss: As in :func:`loss`.
        output: The output layer's activation, from :func:`resolve_activation`.
        z: Its pre-activations ``(n_L, m)``.
        a: Its activations ``(n_L, m)``.
        y: Targets ``(n_L, m)``.
        half: As in :func:`loss`.
        reduction: As in :func:`loss`.

    Returns:
        The data term of the loss (no weight decay).

    Raises:
        ValueError: As :func:`loss`.

    Example:
        >>> z = np.array([[0.0]])
        >>> output_loss("squared_error", resolve_activation("identity"), z, z, [[2.0]], True, "sum")
        2.0
    """
    objective = _resolve_loss(loss, output, half, reduction)
    target = _check_target(y, a)
    return float(objective.scale(target.shape[1]) * _data_loss(objective, z, a, target))


def output_delta(
    loss: str,
    output: ResolvedActivation,
    z: Array,
    a: Array,
    y: ArrayLike,
    half: bool,
    reduction: str,
    relu_prime_at_zero: float = 0.0,
) -> Array:
    """delta^L = dJ/dz^L of :func:`output_loss`, exactly as :func:`backprop` starts from it.

    Args:
        loss: As in :func:`output_loss`.
        output: As in :func:`output_loss`.
        z: As in :func:`output_loss`.
        a: As in :func:`output_loss`.
        y: As in :func:`output_loss`.
        half: As in :func:`output_loss`.
        reduction: As in :func:`output_loss`.
        relu_prime_at_zero: As in :func:`backprop`.

    Returns:
        ``(n_L, m)``: the reduction's 1/m included, weight decay not.

    Raises:
        ValueError: As :func:`loss`.

    Example:
        >>> z = np.array([[0.0]])
        >>> output_delta("squared_error", resolve_activation("identity"), z, z, [[2.0]], True,
        ...              "sum").tolist()
        [[-2.0]]
    """
    objective = _resolve_loss(loss, output, half, reduction)
    target = _check_target(y, a)
    return _output_delta(objective, z, a, target, float(relu_prime_at_zero))
