"""Hand-written NumPy forward and backward passes for stacks of layers: the second opinion.

Convolution, pooling, flatten and dense layers, written as naive explicit loops in the style of
CS231n's ``conv_forward_naive``: clarity beats speed; batch norm, layer norm and dropout are in
:mod:`symbackprop.reference_norm`. Like ``reference.py`` this module imports
nothing from the symbolic side; it reuses only the activation and loss tables of
``reference.py`` (its public building blocks, which work on columns).

Shapes: the batch axis comes first. ``x`` is ``(m, C, H, W)`` for convolution and pooling or
``(m, n)`` for dense layers; ``y`` is ``(m, n_out)``. A conv kernel ``W{n}`` is
``(F, C, kh, kw)`` with bias ``(F,)``; a dense ``W{n}`` is ``(units, in_features)`` with bias
``(units,)``. The n-th layer with parameters owns ``W{n}`` and ``b{n}`` (no ``b{n}`` key: no
bias). Layer dicts arrive validated and normalised (``kernel``, ``stride`` and ``size`` as pairs).

Conventions: conv2d is cross-correlation with zero padding ``P`` on every side; max-pool sends
the gradient to the first maximum of its window in row-major order; avg-pool spreads it as
``1/(h w)``; flatten is row-major over ``(C, H, W)``.

Example:
    >>> layers = [{"type": "conv2d", "filters": 1, "kernel": (2, 2), "stride": (1, 1),
    ...            "padding": 0, "activation": None}, {"type": "max_pool2d", "size": (2, 2),
    ...            "stride": (2, 2)}]
    >>> params = {"W1": np.ones((1, 1, 2, 2))}
    >>> x = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> [a.tolist() for _, a in forward(layers, params, x)]
    [[[[[8.0, 12.0], [20.0, 24.0]]]], [[[[24.0]]]]]
"""

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike

import symbackprop.reference_norm as reference_norm
import symbackprop.reference_recurrent as reference_recurrent
import symbackprop.reference_sequence as reference_sequence
from symbackprop.reference import (
    Array,
    ResolvedActivation,
    output_delta,
    output_loss,
    resolve_activation,
)

Layer = Mapping[str, Any]
Params = Mapping[str, ArrayLike]

__all__ = ["Layer", "backprop", "forward", "loss", "max_pool_ties"]

_WITH_PARAMETERS = (
    "conv2d",
    "dense",
    "batchnorm",
    "layernorm",
    *reference_sequence.KINDS,
    *reference_recurrent.KINDS,
)
_NORMALISATIONS = ("batchnorm", "layernorm")
#: The initial states of recurrent layers, data whose gradients :func:`backprop` can report.
STATES = ("h0", "c0")


# --- Preparation: parameter names and activations per layer ---------------------------------


def _parameter_numbers(layers: Sequence[Layer]) -> list[int | None]:
    """The ``n`` of ``W{n}``/``b{n}`` for each layer, ``None`` for layers without parameters."""
    numbers: list[int | None] = []
    count = 0
    for layer in layers:
        if layer["type"] in _WITH_PARAMETERS:
            count += 1
            numbers.append(count)
        else:
            numbers.append(None)
    return numbers


def _activations(layers: Sequence[Layer]) -> list[ResolvedActivation | None]:
    """Resolved activation of each layer; the last always has one (identity if linear)."""
    n = len(layers)
    resolved: list[ResolvedActivation | None] = []
    for position, layer in enumerate(layers, start=1):
        entry = layer.get("activation")
        if entry is None and position == n:
            entry = "identity"
        resolved.append(None if entry is None else resolve_activation(entry, position, n))
    return resolved


def _weights(params: Params, number: int | None) -> tuple[Array, Array | None]:
    """``W{n}`` and ``b{n}`` as float64 arrays (``None`` when the bias key is missing)."""
    w = np.asarray(params[f"W{number}"], dtype=np.float64)
    b = params.get(f"b{number}")
    return w, None if b is None else np.asarray(b, dtype=np.float64)


def _columns(t: Array) -> Array:
    """``(m, ...)`` -> ``(features, m)``: one sample per column, as ``reference.py`` wants."""
    return t.reshape(t.shape[0], -1).T


def _uncolumns(cols: Array, shape: tuple[int, ...]) -> Array:
    return cols.T.reshape(shape)


# --- The layers: forward and backward, one pair each ----------------------------------------


def _pad(x: Array, p: int) -> Array:
    return np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))


def _conv_forward(layer: Layer, w: Array, b: Array | None, x: Array) -> Array:
    """out[n,f,i,j] = b[f] + sum_{c,p,q} W[f,c,p,q] xpad[n,c,i sh+p,j sw+q]."""
    (kh, kw), (sh, sw), pad = layer["kernel"], layer["stride"], layer["padding"]
    # windows[n, c, i, j, p, q] = xpad[n, c, i sh + p, j sw + q]; finite differences call
    # this thousands of times, so the sum is one einsum rather than four Python loops.
    windows = sliding_window_view(_pad(x, pad), (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    out = np.einsum("ncijpq,fcpq->nfij", windows, w)
    return out if b is None else out + np.asarray(b, dtype=np.float64)[None, :, None, None]


def _conv_backward(layer: Layer, w: Array, x: Array, g: Array) -> tuple[Array, Array, Array]:
    """From g = dJ/dout: (dJ/dW, dJ/db, dJ/dx), scattering each g[n,f,i,j] over its window."""
    (kh, kw), (sh, sw), pad = layer["kernel"], layer["stride"], layer["padding"]
    xp = _pad(x, pad)
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    db = np.zeros(w.shape[0])
    m, filters, out_h, out_w = g.shape
    for n in range(m):
        for f in range(filters):
            for i in range(out_h):
                for j in range(out_w):
                    rows = slice(i * sh, i * sh + kh)
                    cols = slice(j * sw, j * sw + kw)
                    dw[f] += g[n, f, i, j] * xp[n, :, rows, cols]
                    dxp[n, :, rows, cols] += g[n, f, i, j] * w[f]
                    db[f] += g[n, f, i, j]
    dx = dxp[:, :, pad : pad + x.shape[2], pad : pad + x.shape[3]]
    return dw, db, dx


def _windows(layer: Layer, x: Array) -> list[tuple[tuple[int, int, int, int], Array]]:
    """Every pooling window as ((n, c, i, j), view of x), in row-major order of the output."""
    (h, w), (sh, sw) = layer["size"], layer["stride"]
    m, channels, height, width = x.shape
    found = []
    for n in range(m):
        for c in range(channels):
            for i in range((height - h) // sh + 1):
                for j in range((width - w) // sw + 1):
                    window = x[n, c, i * sh : i * sh + h, j * sw : j * sw + w]
                    found.append(((n, c, i, j), window))
    return found


def _pool_forward(layer: Layer, x: Array) -> Array:
    """Max or mean of every window."""
    (h, w), (sh, sw) = layer["size"], layer["stride"]
    windows = sliding_window_view(x, (h, w), axis=(2, 3))[:, :, ::sh, ::sw]
    reduce = np.max if layer["type"] == "max_pool2d" else np.mean
    return reduce(windows, axis=(4, 5))


def _pool_backward(layer: Layer, x: Array, g: Array) -> Array:
    """dJ/dx: to the first maximum (np.argmax, row-major) or spread evenly as 1/(h w)."""
    (h, w), (sh, sw) = layer["size"], layer["stride"]
    dx = np.zeros_like(x)
    for (n, c, i, j), window in _windows(layer, x):
        target = dx[n, c, i * sh : i * sh + h, j * sw : j * sw + w]  # a view: writes land in dx
        if layer["type"] == "max_pool2d":
            p, q = np.unravel_index(np.argmax(window), window.shape)
            target[p, q] += g[n, c, i, j]
        else:
            target += g[n, c, i, j] / (h * w)
    return dx


def _dense_forward(w: Array, b: Array | None, x: Array) -> Array:
    """z[n, u] = sum_k W[u, k] x[n, k] + b[u]."""
    return x @ w.T if b is None else x @ w.T + b


def _norm_forward(
    layer: Layer, params: Params, number: int | None, x: Array
) -> tuple[Array, tuple[Any, ...]]:
    """A normalisation or dropout layer's output and its cache for the backward pass."""
    kind = layer["type"]
    if kind == "dropout":
        mask = np.asarray(layer["mask"], dtype=np.float64)
        return reference_norm.dropout_forward(x, float(layer["p"]), mask)
    gamma = np.asarray(params[f"gamma{number}"], dtype=np.float64)
    beta = np.asarray(params[f"beta{number}"], dtype=np.float64)
    if kind == "batchnorm":
        eps, unbiased = float(layer["eps"]), bool(layer["unbiased"])
        return reference_norm.batchnorm_forward(x, gamma, beta, eps, unbiased)
    return reference_norm.layernorm_forward(x, gamma, beta, float(layer["eps"]))


def _linear_forward(layer: Layer, params: Params, number: int | None, x: Array) -> Array:
    """The pre-activation z of one layer (for pooling and flatten, its output)."""
    kind = layer["type"]
    if kind in reference_sequence.KINDS:
        assert number is not None
        return reference_sequence.layer_forward(layer, params, number, x)
    if kind in reference_recurrent.KINDS:
        assert number is not None
        return reference_recurrent.layer_forward(layer, params, number, x)
    if kind == "flatten":
        return x.reshape(x.shape[0], -1)
    if kind in ("max_pool2d", "avg_pool2d"):
        return _pool_forward(layer, x)
    if kind in (*_NORMALISATIONS, "dropout"):
        return _norm_forward(layer, params, number, x)[0]
    w, b = _weights(params, number)
    return _conv_forward(layer, w, b, x) if kind == "conv2d" else _dense_forward(w, b, x)


def _linear_backward(
    layer: Layer, params: Params, number: int | None, x: Array, g: Array
) -> tuple[Array, dict[str, Array]]:
    """From g = dJ/dz of one layer: dJ/d(its input) and the gradients of its parameters."""
    kind = layer["type"]
    if kind in reference_sequence.KINDS:
        assert number is not None
        return reference_sequence.layer_backward(layer, params, number, x, g)
    if kind in reference_recurrent.KINDS:
        assert number is not None
        return reference_recurrent.layer_backward(layer, params, number, x, g)
    if kind == "flatten":
        return g.reshape(x.shape), {}
    if kind in ("max_pool2d", "avg_pool2d"):
        return _pool_backward(layer, x, g), {}
    if kind == "dropout":
        return reference_norm.dropout_backward(g, _norm_forward(layer, params, number, x)[1]), {}
    if kind in _NORMALISATIONS:
        cache = _norm_forward(layer, params, number, x)[1]
        backward = getattr(reference_norm, f"{kind}_backward")
        dx, dgamma, dbeta = backward(g, cache)
        return dx, {f"gamma{number}": dgamma, f"beta{number}": dbeta}
    w, b = _weights(params, number)
    if kind == "conv2d":
        dw, db, dx = _conv_backward(layer, w, x, g)
    else:
        dw, db, dx = g.T @ x, np.sum(g, axis=0), g @ w
    grads = {f"W{number}": dw}
    if b is not None:
        grads[f"b{number}"] = db
    return dx, grads


# --- The network: forward, loss, backward, ties ---------------------------------------------


def _apply(activation: ResolvedActivation | None, z: Array) -> Array:
    return z if activation is None else _uncolumns(activation.apply(_columns(z)), z.shape)


def forward(layers: Sequence[Layer], params: Params, x: ArrayLike) -> list[tuple[Array, Array]]:
    """Run the stack, keeping each layer's pre-activation and output.

    Args:
        layers: Validated layer dicts (see the module docstring).
        params: ``W{n}``/``b{n}`` arrays for the layers with parameters.
        x: Inputs ``(m, *input_shape)``.

    Returns:
        One ``(z, a)`` pair per layer, batch axis first; ``z is a`` for pooling and flatten.

    Raises:
        ValueError: For an unknown activation or softmax on a hidden layer.
    """
    a = np.asarray(x, dtype=np.float64)
    numbers = _parameter_numbers(layers)
    pairs = []
    for layer, number, activation in zip(layers, numbers, _activations(layers), strict=True):
        z = _linear_forward(layer, params, number, a)
        a = _apply(activation, z)
        pairs.append((z, a))
    return pairs


def loss(
    layers: Sequence[Layer],
    params: Params,
    x: ArrayLike,
    y: ArrayLike,
    *,
    loss: str = "cross_entropy",
    reduction: str = "mean",
    half: bool = False,
) -> float:
    """The loss at the last layer, through ``reference.output_loss`` on columns.

    Args:
        layers: As in :func:`forward`.
        params: As in :func:`forward`.
        x: As in :func:`forward`.
        y: Targets ``(m, n_out)``.
        loss: ``"cross_entropy"``, ``"binary_cross_entropy"`` or ``"squared_error"``.
        reduction: ``"mean"`` or ``"sum"`` over the samples.
        half: Squared error only: with the factor 1/2.

    Returns:
        The scalar loss.

    Raises:
        ValueError: As ``reference.loss``.
    """
    z, a = forward(layers, params, x)[-1]
    output = _activations(layers)[-1]
    assert output is not None  # the last layer always has one
    if loss == "temporal_cross_entropy":
        return reference_sequence.sequence_loss(a, np.asarray(y, dtype=np.float64), reduction)[0]
    target = np.asarray(y, dtype=np.float64).T
    return output_loss(loss, output, _columns(z), _columns(a), target, half, reduction)


def backprop(
    layers: Sequence[Layer],
    params: Params,
    x: ArrayLike,
    y: ArrayLike,
    *,
    loss: str = "cross_entropy",
    reduction: str = "mean",
    half: bool = False,
    relu_prime_at_zero: float = 0.0,
    data: dict[tuple[int, str], Array] | None = None,
    hook: "Hook | None" = None,
) -> dict[str, Array]:
    """Gradients of :func:`loss` with respect to every parameter, layer by layer backwards.

    Args:
        layers: As in :func:`forward`.
        params: As in :func:`forward`.
        x: As in :func:`forward`.
        y: As in :func:`loss`.
        loss: As in :func:`loss`.
        reduction: As in :func:`loss`.
        half: As in :func:`loss`.
        relu_prime_at_zero: The value used for ReLU'(0).
        data: If given, filled with the gradients of the layers' initial states: keyed
            (layer position, 1-based, and ``h0`` or ``c0``).
        hook: Called after each layer's backward, and after each hidden activation's, with
            what that step computed; it returns what goes on instead (the mistake catalogue
            replaces one step by a mistaken one, :mod:`symbackprop.mistakes.stack`).

    Returns:
        A dict with the keys and shapes of ``params``.

    Raises:
        ValueError: As :func:`loss`.
    """
    inputs = np.asarray(x, dtype=np.float64)
    pairs = forward(layers, params, inputs)
    activations = _activations(layers)
    numbers = _parameter_numbers(layers)
    c = float(relu_prime_at_zero)
    z, a = pairs[-1]
    output = activations[-1]
    assert output is not None  # the last layer always has one
    if loss == "temporal_cross_entropy":  # the scores are the output, no activation
        delta = reference_sequence.sequence_loss(z, np.asarray(y, dtype=np.float64), reduction)[1]
    else:
        target = np.asarray(y, dtype=np.float64).T
        cols = output_delta(loss, output, _columns(z), _columns(a), target, half, reduction, c)
        delta = _uncolumns(cols, z.shape)
    grads: dict[str, Array] = {}
    for k in range(len(layers) - 1, -1, -1):
        layer_input = inputs if k == 0 else pairs[k - 1][1]
        g, layer_grads = _linear_backward(layers[k], params, numbers[k], layer_input, delta)
        if hook is not None:
            g, layer_grads = hook.layer(k, layer_input, delta, g, layer_grads)
        grads.update(layer_grads)
        if data is not None:  # a recurrent layer's dh0, dc0: keyed h0, c0 there
            data.update(((k + 1, key), v) for key, v in layer_grads.items() if key in STATES)
        if k > 0:
            dz = _activation_backward(activations[k - 1], *pairs[k - 1], g, c)
            delta = dz if hook is None else hook.activation(k - 1, *pairs[k - 1], g, dz)
    return {key: grads[key] for key in params}


class Hook(Protocol):
    """What :func:`backprop` lets a caller replace: one layer's or one activation's backward."""

    def layer(
        self, k: int, x: Array, dz: Array, dx: Array, grads: dict[str, Array]
    ) -> tuple[Array, dict[str, Array]]:
        """Layer ``k`` got input ``x`` and dJ/dz; it computed ``dx`` and ``grads``."""
        ...

    def activation(self, k: int, z: Array, a: Array, da: Array, dz: Array) -> Array:
        """Layer ``k``'s activation a = f(z) turned dJ/da into ``dz``."""
        ...


def _activation_backward(
    activation: ResolvedActivation | None, z: Array, a: Array, g: Array, c: float
) -> Array:
    """dJ/dz from g = dJ/da, on columns."""
    if activation is None:
        return g
    cols = activation.vjp(_columns(z), _columns(a), _columns(g), c)
    return _uncolumns(cols, z.shape)


def max_pool_ties(
    layers: Sequence[Layer], params: Params, x: ArrayLike
) -> list[tuple[int, tuple[int, ...]]]:
    """The max-pool windows whose maximum is attained more than once.

    Args:
        layers: As in :func:`forward`.
        params: As in :func:`forward`.
        x: As in :func:`forward`.

    Returns:
        ``(layer, (sample, channel, i, j))`` pairs: the 1-based layer position and the index of
        the pooled output, in layer order and then row-major order.
    """
    inputs = np.asarray(x, dtype=np.float64)
    pairs = forward(layers, params, inputs)
    ties: list[tuple[int, tuple[int, ...]]] = []
    for k, layer in enumerate(layers):
        if layer["type"] != "max_pool2d":
            continue
        layer_input = inputs if k == 0 else pairs[k - 1][1]
        for index, window in _windows(layer, layer_input):
            if np.count_nonzero(window == np.max(window)) > 1:
                ties.append((k + 1, index))
    return ties
