"""A corpus of stack backprops, each with one known mistake, and the stacks they run on.

Each function is a user's ``backprop(params, x, y) -> grads`` for a batched sequential stack of
conv2d (stride 1, no padding), max_pool2d, flatten, dense, batchnorm (1-D features) and
dropout layers, with relu hidden activations and a softmax cross-entropy (mean) output; or of
the sequence stacks: the built-in ``rnn`` example (embedding, rnn, temporal_dense, temporal
cross-entropy), an lstm and an attention head. It is written from the textbook formulas, in
plain NumPy loops where they are clearer, with none of symbackprop's code; :data:`WRONG` maps
each to the catalogue id that must name it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
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


def pool_tie_spec() -> str:
    """conv2d 2x1x1 -> max_pool2d 2 -> flatten -> dense 3 softmax, 2 samples, at a point with
    tied maxima that float64 computes exactly (every number a multiple of 1/4)."""
    return """[network]
input = [1, 4, 4]
loss = "cross_entropy"

[[layers]]
type = "conv2d"
filters = 2
kernel = 1

[[layers]]
type = "max_pool2d"
size = 2

[[layers]]
type = "flatten"

[[layers]]
type = "dense"
units = 3
activation = "softmax"

[parameters]
W1 = [[[[0.5]]], [[[-0.25]]]]
b1 = [0.25, 0.5]
W2 = [
  [0.3, -0.2, 0.1, 0.4, -0.1, 0.2, 0.3, -0.3],
  [-0.1, 0.2, 0.4, -0.3, 0.3, 0.1, -0.2, 0.2],
  [0.2, 0.1, -0.3, 0.1, 0.2, -0.4, 0.1, 0.3],
]
b2 = [0.05, -0.05, 0.0]

[data]
x = [
  [[[1, 1, 0.5, 0.25], [0.5, 0.25, 0.5, 0.5], [0.75, 0, 1, 0], [0, 0.75, 0, 1]]],
  [[[0.5, 0.5, 2, 1], [0.5, 0.5, 1, 2], [1, 0, 0, 0], [0, 0, 0, 0]]],
]
y = [[1, 0, 0], [0, 0, 1]]
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


def _pool_back(x: np.ndarray, g: np.ndarray, size: int, every: bool = False) -> np.ndarray:
    """To the first maximum of each window; ``every``: to each tied maximum (x == max)."""
    dx = np.zeros(x.shape)
    for n, k, i, j in np.ndindex(*g.shape):
        rows, cols = slice(i * size, (i + 1) * size), slice(j * size, (j + 1) * size)
        window = x[n, k, rows, cols]
        if every:
            dx[n, k, rows, cols] += g[n, k, i, j] * (window == window.max())
            continue
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


def pool_backprop(params: Grads, x: np.ndarray, y: np.ndarray, mistake: str = "") -> Grads:
    """The gradients of :func:`pool_tie_spec`'s network; ``"every"`` routes each window's
    gradient to all its tied maxima."""
    z1 = _conv(x, params["W1"], params["b1"])
    p = _pool(z1, 2)
    flat = p.reshape(x.shape[0], -1)
    d2 = _softmax_delta(flat @ params["W2"].T + params["b2"], y)
    grads = {"W2": d2.T @ flat, "b2": d2.sum(axis=0)}
    dz1 = _pool_back(z1, (d2 @ params["W2"]).reshape(p.shape), 2, mistake == "every")
    _, grads["W1"], grads["b1"] = _conv_back(x, params["W1"], dz1, False)
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


# ----------------------------------------------------------------------------- sequences

#: The rnn example's h0 (its data; the same at every point).
RNN_H0 = np.array([[0.1, -0.2, 0.0], [0.0, 0.3, -0.1]])
LSTM_H0 = np.array([[0.1, -0.2], [0.0, 0.3]])


def lstm_spec() -> str:
    """lstm 2 over 3 steps, the last state only -> dense 3 softmax, 2 samples."""
    rng = np.random.default_rng(3)
    return f"""[network]
input = [3, 2]
loss = "cross_entropy"

[[layers]]
type = "lstm"
units = 2
return_sequence = false

[[layers]]
type = "dense"
units = 3
activation = "softmax"

[parameters]
Wx1 = {_numbers(rng, (2, 8))}
Wh1 = {_numbers(rng, (2, 8))}
b1 = {_numbers(rng, (8,), 0.2)}
W2 = {_numbers(rng, (3, 2))}
b2 = {_numbers(rng, (3,), 0.2)}

[data]
x = {_numbers(rng, (2, 3, 2))}
y = [[1, 0, 0], [0, 0, 1]]
h0 = {LSTM_H0.tolist()}
c0 = [[0, 0], [0, 0]]
"""


def attention_spec() -> str:
    """causal attention (d = 2) over 3 steps -> flatten -> dense 3 softmax, 2 samples."""
    rng = np.random.default_rng(4)
    return f"""[network]
input = [3, 2]
loss = "cross_entropy"

[[layers]]
type = "attention"
dim = 2
causal = true

[[layers]]
type = "flatten"

[[layers]]
type = "dense"
units = 3
activation = "softmax"

[parameters]
Wq1 = {_numbers(rng, (2, 2))}
Wk1 = {_numbers(rng, (2, 2))}
Wv1 = {_numbers(rng, (2, 2))}
W2 = {_numbers(rng, (3, 6))}
b2 = {_numbers(rng, (3,), 0.2)}

[data]
x = {_numbers(rng, (2, 3, 2))}
y = [[1, 0, 0], [0, 1, 0]]
"""


def rnn_spec() -> str:
    """The built-in rnn example (symbackprop/examples/rnn.toml), as it is shipped."""
    return (Path(__file__).parent.parent / "symbackprop" / "examples" / "rnn.toml").read_text()


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def rnn_backprop(params: Grads, x: np.ndarray, y: np.ndarray, mistake: str = "") -> Grads:
    """The rnn example's gradients: embedding -> rnn -> temporal_dense -> temporal softmax
    cross-entropy (y one-hot, all zeros at a masked step; summed over steps, mean over N)."""
    we, wx, wh, b = params["We1"], params["Wx2"], params["Wh2"], params["b2"]
    idx = x.astype(int)
    n, steps = idx.shape
    emb = we[idx]
    hs, prev = [], RNN_H0
    for t in range(steps):
        prev = np.tanh(emb[:, t] @ wx + prev @ wh + b)
        hs.append(prev)
    h = np.stack(hs, axis=1)
    scores = h @ params["W3"] + params["b3"]
    counts = y.sum(axis=2, keepdims=True)
    dscores = (_softmax(scores) - y) * counts / n
    grads = {"W3": np.einsum("ntd,ntm->dm", h, dscores), "b3": dscores.sum(axis=(0, 1))}
    dh = dscores @ params["W3"].T
    demb, carry = np.zeros(emb.shape), np.zeros(RNN_H0.shape)
    grads["Wx2"], grads["Wh2"], grads["b2"] = np.zeros(wx.shape), np.zeros(wh.shape), 0 * b
    for t in reversed(range(steps)):
        before = h[:, t - 1] if t > 0 else RNN_H0
        draw = (dh[:, t] + (0 if mistake == "recurrent" else carry)) * (1 - h[:, t] ** 2)
        demb[:, t] = draw @ wx.T
        grads["Wx2"] += emb[:, t].T @ draw
        grads["Wh2"] += before.T @ draw
        grads["b2"] += draw.sum(axis=0)
        carry = draw @ wh.T
    grads["We1"] = np.zeros(we.shape)
    for i, t in np.ndindex(n, steps):
        if mistake == "assign":  # dW[x] = dout: a repeated word keeps its last step only
            grads["We1"][idx[i, t]] = demb[i, t]
        else:
            grads["We1"][idx[i, t]] += demb[i, t]
    return {k: -v for k, v in grads.items()} if mistake == "sign" else grads


def lstm_backprop(params: Grads, x: np.ndarray, y: np.ndarray, mistake: str = "") -> Grads:
    """:func:`lstm_spec`'s gradients; ``"cell"`` drops dc_{t+1} f_{t+1} from dc_t."""
    wx, wh, b = params["Wx1"], params["Wh1"], params["b1"]
    steps = x.shape[1]
    hidden = wh.shape[0]
    h, c, saved = LSTM_H0, np.zeros(LSTM_H0.shape), []
    for t in range(steps):
        a = x[:, t] @ wx + h @ wh + b
        i, f, o = (_sigmoid(a[:, k * hidden : (k + 1) * hidden]) for k in range(3))
        g = np.tanh(a[:, 3 * hidden :])
        saved.append((h, c, i, f, o, g))
        c = f * c + i * g
        h = o * np.tanh(c)
    d2 = _softmax_delta(h @ params["W2"].T + params["b2"], y)
    grads = {"W2": d2.T @ h, "b2": d2.sum(axis=0)}
    dh_last = d2 @ params["W2"]
    grads["Wx1"], grads["Wh1"], grads["b1"] = np.zeros(wx.shape), np.zeros(wh.shape), 0 * b
    dh_carry, dc_carry = np.zeros(h.shape), np.zeros(h.shape)
    for t in reversed(range(steps)):
        prev_h, prev_c, i, f, o, g = saved[t]
        tc = np.tanh(f * prev_c + i * g)
        dh = dh_carry + (dh_last if t == steps - 1 else 0)
        dc = dh * o * (1 - tc**2) + (0 if mistake == "cell" else dc_carry)
        da = np.hstack(
            [
                dc * g * i * (1 - i),
                dc * prev_c * f * (1 - f),
                dh * tc * o * (1 - o),
                dc * i * (1 - g**2),
            ]
        )
        grads["Wx1"] += x[:, t].T @ da
        grads["Wh1"] += prev_h.T @ da
        grads["b1"] += da.sum(axis=0)
        dh_carry, dc_carry = da @ wh.T, dc * f
    return grads


def attention_backprop(params: Grads, x: np.ndarray, y: np.ndarray, mistake: str = "") -> Grads:
    """:func:`attention_spec`'s gradients; ``"rowsum"`` cuts the softmax Jacobian to its
    diagonal (dS = P * dP)."""
    wq, wk, wv = params["Wq1"], params["Wk1"], params["Wv1"]
    n, steps, _ = x.shape
    d = wq.shape[1]
    q, k, v = x @ wq, x @ wk, x @ wv
    future = np.triu(np.ones((steps, steps), dtype=bool), 1)
    scores = np.where(future, -np.inf, q @ k.transpose(0, 2, 1) / np.sqrt(d))
    p = _softmax(scores)
    out = p @ v
    flat = out.reshape(n, -1)
    d2 = _softmax_delta(flat @ params["W2"].T + params["b2"], y)
    grads = {"W2": d2.T @ flat, "b2": d2.sum(axis=0)}
    dout = (d2 @ params["W2"]).reshape(out.shape)
    dv, dp = p.transpose(0, 2, 1) @ dout, dout @ v.transpose(0, 2, 1)
    rows = 0 if mistake == "rowsum" else (dp * p).sum(axis=-1, keepdims=True)
    ds = p * (dp - rows)
    dq, dk = ds @ k / np.sqrt(d), ds.transpose(0, 2, 1) @ q / np.sqrt(d)
    for name, grad in (("Wq1", dq), ("Wk1", dk), ("Wv1", dv)):
        grads[name] = np.einsum("ntd,nte->de", x, grad)
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
pool_correct = _with(pool_backprop, "")
pool_all_maxima = _with(pool_backprop, "every")
rnn_correct = _with(rnn_backprop, "")
rnn_no_recurrent = _with(rnn_backprop, "recurrent")
rnn_embedding_assign = _with(rnn_backprop, "assign")
rnn_sign = _with(rnn_backprop, "sign")
lstm_correct = _with(lstm_backprop, "")
lstm_no_cell = _with(lstm_backprop, "cell")
attention_correct = _with(attention_backprop, "")
attention_no_rowsum = _with(attention_backprop, "rowsum")

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
    # the documented point has tied maxima (float64 computes them exactly); random points none
    "pool_all_maxima": (pool_tie_spec, "pool-all-maxima", ("W1", "b1")),
    # the whole-network sign, named at the last layer: temporal_dense
    "rnn_sign": (rnn_spec, "sign", ("W3", "We1", "Wh2", "Wx2", "b2", "b3")),
    "rnn_no_recurrent": (rnn_spec, "rnn-missing-recurrent-path", ("We1", "Wh2", "Wx2", "b2")),
    "rnn_embedding_assign": (rnn_spec, "embedding-assign-not-add", ("We1",)),
    "lstm_no_cell": (lstm_spec, "lstm-missing-cell-path", ("Wh1", "Wx1", "b1")),
    "attention_no_rowsum": (attention_spec, "softmax-jacobian-missing-rowsum", ("Wk1", "Wq1")),
}
CORRECT = {
    "conv_correct": conv_spec,
    "norm_correct": norm_spec,
    "pool_correct": pool_tie_spec,
    "rnn_correct": rnn_spec,
    "lstm_correct": lstm_spec,
    "attention_correct": attention_spec,
}
#: The layer that names each mistake of the sequence stacks (JSON ``detail.layer``).
LAYER = {
    "pool_all_maxima": "layer 2 (max_pool2d)",
    "rnn_sign": "layer 3 (temporal_dense)",
    "rnn_no_recurrent": "layer 2 (rnn)",
    "rnn_embedding_assign": "layer 1 (embedding)",
    "lstm_no_cell": "layer 1 (lstm)",
    "attention_no_rowsum": "layer 1 (attention)",
}
