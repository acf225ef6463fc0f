"""A corpus of stack backprops, each with one known mistake, and the stacks they run on.

Each function is a user's ``backprop(params, x, y) -> grads`` for a batched sequential stack of
conv2d (stride 1, no padding), max_pool2d, flatten, dense, batchnorm (1-D features) and
dropout layers, with relu hidden activations and a softmax cross-entropy (mean) output. It is
written from the textbook formulas, in plain NumPy loops where they are clearer, with none of
symbackprop's code; :data:`WRONG` maps each to the catalogue id that must name it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

Grads = dict[str, np.ndarray]
KEEP = 0.75


def _numbers(rng: np.random.Generator, shape: tuple[int, ...], scale: float = 1.0) -> str:
    """Numbers with two decimals, as TOML nested lists."""
    return str(np.round(rng.uniform(-scale, scale, shape), 2).tolist())


def conv_spec() -> str:
    """conv2d 2x2 relu -> conv2d 2x2 -> max_pool2d 2 -> flatten -> dense 3 softmax."""
    rng = np.random.default_rng(1)
    return f"""[network]
input = [1, 5, 5]
loss = "cross_entropy"

[[layers]]
type = "conv2d"
filters = 2
kernel = 2
activation = "relu"

[[layers]]
type = "conv2d"
filters = 2
kernel = 2

[[layers]]
type = "max_pool2d"
size = 3

[[layers]]
type = "flatten"

[[layers]]
type = "dense"
units = 3
activation = "softmax"

[parameters]
W1 = {_numbers(rng, (2, 1, 2, 2))}
b1 = {_numbers(rng, (2,), 0.2)}
W2 = {_numbers(rng, (2, 2, 2, 2))}
b2 = {_numbers(rng, (2,), 0.2)}
W3 = {_numbers(rng, (3, 2))}
b3 = {_numbers(rng, (3,), 0.2)}

[data]
x = {_numbers(rng, (2, 1, 5, 5))}
y = [[1, 0, 0], [0, 0, 1]]
"""


def norm_spec() -> str:
    """dense 3 -> batchnorm -> dropout (p = 3/4) -> dense 2 relu -> dense 2 softmax, 4 samples."""
    rng = np.random.default_rng(2)
    mask = [[1, 0, 1], [1, 1, 0], [0, 1, 1], [1, 1, 1]]
    return f"""[network]
input = [3]
loss = "cross_entropy"

[[layers]]
type = "dense"
units = 3

[[layers]]
type = "batchnorm"

[[layers]]
type = "dropout"
p = 0.75
mask = {mask}

[[layers]]
type = "dense"
units = 2
activation = "relu"

[[layers]]
type = "dense"
units = 2
activation = "softmax"

[parameters]
W1 = {_numbers(rng, (3, 3))}
b1 = {_numbers(rng, (3,), 0.2)}
gamma2 = [1.5, 0.5, 2.0]
beta2 = [0.1, -0.2, 0.3]
W3 = {_numbers(rng, (2, 3))}
b3 = [0.5, 0.5]
W4 = {_numbers(rng, (2, 2))}
b4 = {_numbers(rng, (2,), 0.2)}

[data]
x = {_numbers(rng, (4, 3))}
y = [[1, 0], [0, 1], [0, 1], [1, 0]]
"""


# ----------------------------------------------------------------------------- the layers


def _conv(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    m, _, h, wd = x.shape
    f, _, kh, kw = w.shape
    out = np.zeros((m, f, h - kh + 1, wd - kw + 1))
    for n, k, i, j in np.ndindex(*out.shape):
        out[n, k, i, j] = np.sum(x[n, :, i : i + kh, j : j + kw] * w[k]) + b[k]
    return out


def _conv_back(x: np.ndarray, w: np.ndarray, g: np.ndarray, flip: bool) -> tuple[Any, ...]:
    """dx, dw, db of a valid cross-correlation; ``flip`` is the kernel-not-rotated mistake."""
    kernel = w[:, :, ::-1, ::-1] if flip else w
    dx, dw = np.zeros(x.shape), np.zeros(w.shape)
    kh, kw = w.shape[2:]
    for n, k, i, j in np.ndindex(*g.shape):
        dw[k] += g[n, k, i, j] * x[n, :, i : i + kh, j : j + kw]
        dx[n, :, i : i + kh, j : j + kw] += g[n, k, i, j] * kernel[k]
    return dx, dw, g.sum(axis=(0, 2, 3))


def _pool(x: np.ndarray, size: int) -> np.ndarray:
    m, c, h, w = x.shape
    out = np.zeros((m, c, h // size, w // size))
    for n, k, i, j in np.ndindex(*out.shape):
        out[n, k, i, j] = x[n, k, i * size : (i + 1) * size, j * size : (j + 1) * size].max()
    return out


def _pool_back(x: np.ndarray, g: np.ndarray, size: int) -> np.ndarray:
    dx = np.zeros(x.shape)
    for n, k, i, j in np.ndindex(*g.shape):
        window = x[n, k, i * size : (i + 1) * size, j * size : (j + 1) * size]
        p, q = np.unravel_index(np.argmax(window), window.shape)
        dx[n, k, i * size + p, j * size + q] += g[n, k, i, j]
    return dx


def _softmax_delta(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True) - y) / z.shape[0]


# ----------------------------------------------------------------------------- the networks


def conv_backprop(params: Grads, x: np.ndarray, y: np.ndarray, mistake: str = "") -> Grads:
    """The gradients of :func:`conv_spec`'s network, with ``mistake`` made."""
    z1 = _conv(x, params["W1"], params["b1"])
    a1 = np.maximum(z1, 0)
    z2 = _conv(a1, params["W2"], params["b2"])
    p = _pool(z2, 3)
    flat = p.reshape(x.shape[0], -1)
    z3 = flat @ params["W3"].T + params["b3"]
    d3 = _softmax_delta(z3, y)
    grads = {"W3": d3.T @ flat, "b3": d3.sum(axis=0)}
    dp = (d3 @ params["W3"]).reshape(p.shape)
    dz2 = _pool_back(z2, dp, 3)
    da1, grads["W2"], grads["b2"] = _conv_back(a1, params["W2"], dz2, mistake == "rotation")
    dz1 = da1 if mistake == "relu" else da1 * (z1 > 0)
    _, grads["W1"], grads["b1"] = _conv_back(x, params["W1"], dz1, False)
    if mistake == "sign":
        grads = {k: -v for k, v in grads.items()}
    if mistake == "transposed":
        grads["W3"] = grads["W3"].T
    return grads


def norm_backprop(params: Grads, x: np.ndarray, y: np.ndarray, mistake: str = "") -> Grads:
    """The gradients of :func:`norm_spec`'s network, with ``mistake`` made."""
    mask = np.array([[1, 0, 1], [1, 1, 0], [0, 1, 1], [1, 1, 1]], dtype=float)
    z1 = x @ params["W1"].T + params["b1"]
    mu, var = z1.mean(axis=0), z1.var(axis=0)
    std = np.sqrt(var + 1e-5)
    xhat = (z1 - mu) / std
    bn = params["gamma2"] * xhat + params["beta2"]
    drop = mask * bn / KEEP
    z3 = drop @ params["W3"].T + params["b3"]
    a3 = np.maximum(z3, 0)
    z4 = a3 @ params["W4"].T + params["b4"]
    d4 = _softmax_delta(z4, y)
    grads = {"W4": d4.T @ a3, "b4": d4.sum(axis=0)}
    d3 = d4 @ params["W4"]
    d3 = d3 if mistake == "relu" else d3 * (z3 > 0)
    grads["W3"], grads["b3"] = d3.T @ drop, d3.sum(axis=0)
    ddrop = d3 @ params["W3"]
    dbn = mask * ddrop if mistake == "dropout" else mask * ddrop / KEEP
    grads["gamma2"], grads["beta2"] = (dbn * xhat).sum(axis=0), dbn.sum(axis=0)
    m = x.shape[0]
    g = dbn if mistake == "gamma" else dbn * params["gamma2"]
    d = m - 1 if mistake == "bessel" else m
    dz1 = (g - g.mean(axis=0) - xhat * (g * xhat).sum(axis=0) / d) / std
    grads["W1"], grads["b1"] = dz1.T @ x, dz1.sum(axis=0)
    if mistake == "scale":
        grads = {k: v * 2 for k, v in grads.items()}
    return grads


def _with(network: Callable[..., Grads], mistake: str) -> Callable[..., Grads]:
    def backprop(params: Grads, x: np.ndarray, y: np.ndarray) -> Grads:
        return network(params, x, y, mistake)

    backprop.__name__ = backprop.__qualname__ = f"{network.__name__}_{mistake or 'correct'}"
    return backprop


conv_correct = _with(conv_backprop, "")
conv_sign = _with(conv_backprop, "sign")
conv_transposed = _with(conv_backprop, "transposed")
conv_not_rotated = _with(conv_backprop, "rotation")
conv_missing_relu = _with(conv_backprop, "relu")
norm_correct = _with(norm_backprop, "")
norm_scale = _with(norm_backprop, "scale")
norm_missing_gamma = _with(norm_backprop, "gamma")
norm_bessel = _with(norm_backprop, "bessel")
norm_dropout = _with(norm_backprop, "dropout")
norm_missing_relu = _with(norm_backprop, "relu")

#: function name -> (spec, catalogue id, parameters it must name).
WRONG: dict[str, tuple[Callable[[], str], str, tuple[str, ...]]] = {
    "conv_sign": (conv_spec, "sign", ("W1", "W2", "W3", "b1", "b2", "b3")),
    "conv_transposed": (conv_spec, "transposed", ("W3",)),
    "conv_not_rotated": (conv_spec, "conv-kernel-not-rotated", ("W1", "b1")),
    "conv_missing_relu": (conv_spec, "missing-activation-derivative", ("W1", "b1")),
    # b1 before a batchnorm has gradient 0, whatever the mistake after it
    "norm_scale": (norm_spec, "scale", ("W1", "W3", "W4", "b3", "b4", "beta2", "gamma2")),
    "norm_missing_gamma": (norm_spec, "batchnorm-missing-gamma", ("W1",)),
    "norm_bessel": (norm_spec, "batchnorm-bessel", ("W1",)),
    "norm_dropout": (norm_spec, "dropout-missing-scale", ("W1", "beta2", "gamma2")),
    "norm_missing_relu": (
        norm_spec,
        "missing-activation-derivative",
        ("W1", "W3", "b3", "beta2", "gamma2"),
    ),
}
CORRECT = {"conv_correct": conv_spec, "norm_correct": norm_spec}
