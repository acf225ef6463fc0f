"""Hand-written NumPy forward and backward passes for stacks of layers, with naive loops.

The independent second opinion for :mod:`symbackprop.graph` and :mod:`symbackprop.chain`: it
imports nothing from the symbolic side and writes every layer's backward pass by hand, in the
style of CS231n's ``conv_backward_naive``. Activations and the loss at the output come from
:mod:`symbackprop.reference`, on columns (one sample per column).

Layers are dicts: ``{"type": "conv2d", "filters", "kernel": (kh, kw), "stride": (sh, sw),
"padding": (ph, pw)}``, ``{"type": "max_pool2d" | "avg_pool2d", "size", "stride"}``,
``{"type": "flatten"}`` and ``{"type": "dense", "units"}``, each with an optional
``"activation"``. Parameters ``W{n}``, ``b{n}`` belong to the n-th conv or dense layer: a
kernel is ``(F, C, kh, kw)``, a dense ``W`` is ``(units, inputs)``, biases are flat. ``x`` is
``(m, *input_shape)`` and ``y`` is ``(m, n_out)``.

>>> layers = [{"type": "flatten"}, {"type": "dense", "units": 1}]
>>> params = {"W1": np.array([[1.0, 2.0]]), "b1": np.array([0.5])}
>>> forward(layers, params, np.array([[[3.0, 4.0]]]))[-1][1].tolist()
[[11.5]]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import reference

Array = NDArray[np.float64]
Layer = Mapping[str, Any]

__all__ = ["backprop", "forward", "loss"]


def _conv_forward(x: Array, w: Array, b: Array | None, layer: Layer) -> Array:
    (sh, sw), (ph, pw) = layer["stride"], layer["padding"]
    m, _, height, width = x.shape
    f, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    rows, cols = (height + 2 * ph - kh) // sh + 1, (width + 2 * pw - kw) // sw + 1
    out = np.zeros((m, f, rows, cols))
    for n in range(m):
        for k in range(f):
            for i in range(rows):
                for j in range(cols):
                    patch = xp[n, :, i * sh : i * sh + kh, j * sw : j * sw + kw]
                    out[n, k, i, j] = np.sum(patch * w[k]) + (0.0 if b is None else b[k])
    return out


def _conv_backward(dout: Array, x: Array, w: Array, layer: Layer) -> tuple[Array, Array, Array]:
    (sh, sw), (ph, pw) = layer["stride"], layer["padding"]
    _, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    m, f, rows, cols = dout.shape
    for n in range(m):
        for k in range(f):
            for i in range(rows):
                for j in range(cols):
                    window = (
                        n,
                        slice(None),
                        slice(i * sh, i * sh + kh),
                        slice(j * sw, j * sw + kw),
                    )
                    dw[k] += dout[n, k, i, j] * xp[window]
                    dxp[window] += dout[n, k, i, j] * w[k]
    dx = dxp[:, :, ph : ph + x.shape[2], pw : pw + x.shape[3]]
    return dx, dw, dout.sum(axis=(0, 2, 3))


def _windows(x: Array, layer: Layer) -> list[tuple[int, int, int, int]]:
    (h, w), (sh, sw) = layer["size"], layer["stride"]
    rows, cols = (x.shape[2] - h) // sh + 1, (x.shape[3] - w) // sw + 1
    return [(i, j, i * sh, j * sw) for i in range(rows) for j in range(cols)]


def _pool_forward(x: Array, layer: Layer) -> Array:
    (h, w) = layer["size"]
    cells = _windows(x, layer)
    rows, cols = cells[-1][0] + 1, cells[-1][1] + 1
    out = np.zeros((x.shape[0], x.shape[1], rows, cols))
    reduce = np.max if layer["type"] == "max_pool2d" else np.mean
    for i, j, r, t in cells:
        out[:, :, i, j] = reduce(x[:, :, r : r + h, t : t + w], axis=(2, 3))
    return out


def _pool_backward(dout: Array, x: Array, layer: Layer) -> Array:
    """Max: all of dout to the first maximum (np.argmax is row-major). Avg: spread evenly."""
    (h, w) = layer["size"]
    dx = np.zeros_like(x)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            for i, j, r, t in _windows(x, layer):
                if layer["type"] == "max_pool2d":
                    p, q = np.unravel_index(np.argmax(x[n, c, r : r + h, t : t + w]), (h, w))
                    dx[n, c, r + p, t + q] += dout[n, c, i, j]
                else:
                    dx[n, c, r : r + h, t : t + w] += dout[n, c, i, j] / (h * w)
    return dx


def _parameters(
    layers: Sequence[Layer], params: Mapping[str, Array]
) -> list[tuple[str | None, Array | None, Array | None]]:
    """(number, W, b) of each layer: None for layers without parameters."""
    out: list[tuple[str | None, Array | None, Array | None]] = []
    n = 0
    for layer in layers:
        if layer["type"] in ("conv2d", "dense"):
            n += 1
            out.append((str(n), np.asarray(params[f"W{n}"], float), params.get(f"b{n}")))
        else:
            out.append((None, None, None))
    return out


def _activation(layer: Layer, last: bool) -> reference.ResolvedActivation:
    entry = layer.get("activation") or "identity"
    return reference.resolve_activation(entry, 2 if last else 1, 2)


def _linear(layer: Layer, x: Array, w: Array | None, b: Array | None) -> Array:
    kind = layer["type"]
    if kind == "conv2d":
        return _conv_forward(x, w, b, layer)  # type: ignore[arg-type]
    if kind == "dense":
        return x @ w.T + (0.0 if b is None else np.asarray(b, float))  # type: ignore[union-attr]
    if kind == "flatten":
        return x.reshape(x.shape[0], -1)
    return _pool_forward(x, layer)


def forward(
    layers: Sequence[Layer], params: Mapping[str, Array], x: Array
) -> list[tuple[Array, Array]]:
    """(z, a) of every layer, the batch axis first."""
    out, current = [], np.asarray(x, dtype=np.float64)
    for position, (layer, (_, w, b)) in enumerate(
        zip(layers, _parameters(layers, params), strict=True)
    ):
        z = _linear(layer, current, w, b)
        act = _activation(layer, position == len(layers) - 1)
        current = act.apply(z.reshape(z.shape[0], -1).T).T.reshape(z.shape)
        out.append((z, current))
    return out


def _loss_args(
    layers: Sequence[Layer], z: Array, a: Array, y: Array
) -> tuple[reference.ResolvedActivation, Array, Array, Array]:
    return (_activation(layers[-1], True), z.T, a.T, np.asarray(y, dtype=np.float64).T)


def loss(
    layers: Sequence[Layer],
    params: Mapping[str, Array],
    x: Array,
    y: Array,
    *,
    loss: str = "cross_entropy",
    reduction: str = "mean",
    half: bool = False,
) -> float:
    """The data loss r sum_s J_s."""
    z, a = forward(layers, params, x)[-1]
    return reference.output_loss(loss, *_loss_args(layers, z, a, y), half, reduction)


def backprop(
    layers: Sequence[Layer],
    params: Mapping[str, Array],
    x: Array,
    y: Array,
    *,
    loss: str = "cross_entropy",
    reduction: str = "mean",
    half: bool = False,
    relu_prime_at_zero: float = 0.0,
) -> dict[str, Array]:
    """dJ/dW{n} and dJ/db{n} for every parameter in ``params``."""
    passes = forward(layers, params, x)
    z, a = passes[-1]
    delta = reference.output_delta(
        loss, *_loss_args(layers, z, a, y), half, reduction, relu_prime_at_zero
    ).T.reshape(z.shape)
    grads: dict[str, Array] = {}
    inputs = [np.asarray(x, dtype=np.float64)] + [p[1] for p in passes[:-1]]
    for position in reversed(range(len(layers))):
        layer, (n, w, b) = layers[position], _parameters(layers, params)[position]
        if position < len(layers) - 1:
            z, a = passes[position]
            act = _activation(layer, False)
            columns = act.vjp(
                z.reshape(len(z), -1).T,
                a.reshape(len(a), -1).T,
                delta.reshape(len(z), -1).T,
                relu_prime_at_zero,
            )
            delta = columns.T.reshape(z.shape)
        delta = _backward(layer, delta, inputs[position], w, n, b is not None, grads)
    return grads


def _backward(
    layer: Layer,
    delta: Array,
    x: Array,
    w: Array | None,
    n: str | None,
    bias: bool,
    grads: dict[str, Array],
) -> Array:
    """dJ/dx of one layer from dJ/dz = ``delta``, storing its parameter gradients."""
    kind = layer["type"]
    if kind == "conv2d":
        dx, dw, db = _conv_backward(delta, x, w, layer)  # type: ignore[arg-type]
    elif kind == "dense":
        dx, dw, db = delta @ w, delta.T @ x, delta.sum(axis=0)  # type: ignore[operator]
    elif kind == "flatten":
        return delta.reshape(x.shape)
    else:
        return _pool_backward(delta, x, layer)
    grads[f"W{n}"] = dw
    if bias:
        grads[f"b{n}"] = db
    return dx
