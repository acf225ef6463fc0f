"""Correct CS231n-style layers in plain NumPy, written for the check-layer tests.

They follow CS231n's assignment API: ``out, cache = *_forward(...)``,
``dx, ... = *_backward(dout, cache)``, and ``loss, dx = *_loss(x, y)``. Nothing here comes
from symbackprop.
"""

import numpy as np


def affine_forward(x, w, b):
    out = x.reshape(x.shape[0], -1) @ w + b
    return out, (x, w, b)


def affine_backward(dout, cache):
    x, w, _ = cache
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


def relu_forward(x):
    return np.maximum(0, x), x


def relu_backward(dout, cache):
    return dout * (cache > 0)


def conv_forward_naive(x, w, b, conv_param):
    stride, pad = conv_param["stride"], conv_param["pad"]
    n, _, h, wd = x.shape
    f, _, hh, ww = w.shape
    hout = 1 + (h + 2 * pad - hh) // stride
    wout = 1 + (wd + 2 * pad - ww) // stride
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((n, f, hout, wout))
    for i in range(n):
        for k in range(f):
            for r in range(hout):
                for s in range(wout):
                    patch = xp[i, :, r * stride : r * stride + hh, s * stride : s * stride + ww]
                    out[i, k, r, s] = np.sum(patch * w[k]) + b[k]
    return out, (x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    x, w, _, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    n, f, hout, wout = dout.shape
    hh, ww = w.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for i in range(n):
        for k in range(f):
            for r in range(hout):
                for s in range(wout):
                    rows = slice(r * stride, r * stride + hh)
                    cols = slice(s * stride, s * stride + ww)
                    dw[k] += xp[i, :, rows, cols] * dout[i, k, r, s]
                    dxp[i, :, rows, cols] += w[k] * dout[i, k, r, s]
    dx = dxp[:, :, pad : pad + x.shape[2], pad : pad + x.shape[3]]
    db = dout.sum(axis=(0, 2, 3))
    return dx, dw, db


def max_pool_forward_naive(x, pool_param):
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    n, c, h, w = x.shape
    hout, wout = 1 + (h - ph) // stride, 1 + (w - pw) // stride
    out = np.zeros((n, c, hout, wout))
    for r in range(hout):
        for s in range(wout):
            window = x[:, :, r * stride : r * stride + ph, s * stride : s * stride + pw]
            out[:, :, r, s] = window.max(axis=(2, 3))
    return out, (x, pool_param)


def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros_like(x)
    n, c, hout, wout = dout.shape
    for i in range(n):
        for k in range(c):
            for r in range(hout):
                for s in range(wout):
                    window = x[i, k, r * stride : r * stride + ph, s * stride : s * stride + pw]
                    p, q = np.unravel_index(np.argmax(window), window.shape)
                    dx[i, k, r * stride + p, s * stride + q] += dout[i, k, r, s]
    return dx


def softmax_loss(x, y):
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = x.shape[0]
    loss = -log_probs[np.arange(n), y].mean()
    dx = np.exp(log_probs)
    dx[np.arange(n), y] -= 1
    return loss, dx / n


def svm_loss(x, y):
    n = x.shape[0]
    correct = x[np.arange(n), y][:, None]
    margins = np.maximum(0, x - correct + 1.0)
    margins[np.arange(n), y] = 0
    loss = margins.sum() / n
    dx = (margins > 0).astype(float)
    dx[np.arange(n), y] -= dx.sum(axis=1)
    return loss, dx / n


def batchnorm_forward(x, gamma, beta, bn_param):
    eps = bn_param.get("eps", 1e-5)
    mu = x.mean(axis=0)
    centred = x - mu
    var = (centred**2).mean(axis=0)
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = centred * inv_std
    return gamma * xhat + beta, (xhat, gamma, inv_std)


def batchnorm_backward(dout, cache):
    xhat, gamma, inv_std = cache
    m = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    dx = inv_std / m * (m * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))
    return dx, dgamma, dbeta


def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    mu = x.mean(axis=1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=1, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = (x - mu) * inv_std
    return gamma * xhat + beta, (xhat, gamma, inv_std)


def layernorm_backward(dout, cache):
    xhat, gamma, inv_std = cache
    d = dout.shape[1]
    dxhat = dout * gamma
    dx = (
        inv_std
        / d
        * (
            d * dxhat
            - dxhat.sum(axis=1, keepdims=True)
            - xhat * (dxhat * xhat).sum(axis=1, keepdims=True)
        )
    )
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)


def dropout_forward(x, dropout_param):
    p = dropout_param["p"]  # the keep probability, as in CS231n's inverted dropout
    if dropout_param.get("seed") is not None:
        np.random.seed(dropout_param["seed"])
    mask = (np.random.rand(*x.shape) < p) / p
    return x * mask, (dropout_param, mask)


def dropout_backward(dout, cache):
    _, mask = cache
    return dout * mask


def word_embedding_forward(x, W):
    return W[x], (x, W.shape)


def word_embedding_backward(dout, cache):
    x, shape = cache
    dW = np.zeros(shape)
    np.add.at(dW, x, dout)
    return dW


def temporal_affine_forward(x, w, b):
    n, t, d = x.shape
    out = x.reshape(n * t, d).dot(w).reshape(n, t, -1) + b
    return out, (x, w, b, out)


def temporal_affine_backward(dout, cache):
    x, w, _, _ = cache
    n, t, d = x.shape
    m = w.shape[1]
    dx = dout.reshape(n * t, m).dot(w.T).reshape(n, t, d)
    dw = dout.reshape(n * t, m).T.dot(x.reshape(n * t, d)).T
    db = dout.sum(axis=(0, 1))
    return dx, dw, db


def temporal_softmax_loss(x, y, mask):
    n, t, v = x.shape
    x_flat, y_flat, mask_flat = x.reshape(n * t, v), y.reshape(n * t), mask.reshape(n * t)
    probs = np.exp(x_flat - np.max(x_flat, axis=1, keepdims=True))
    probs /= np.sum(probs, axis=1, keepdims=True)
    loss = -np.sum(mask_flat * np.log(probs[np.arange(n * t), y_flat])) / n
    dx_flat = probs.copy()
    dx_flat[np.arange(n * t), y_flat] -= 1
    dx_flat /= n
    dx_flat *= mask_flat[:, None]
    return loss, dx_flat.reshape(n, t, v)


def _row_softmax(scores):
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def attention_forward(x, Wq, Wk, Wv, causal):
    q, k, v = x @ Wq, x @ Wk, x @ Wv
    scale = 1 / np.sqrt(Wq.shape[1])
    scores = q @ k.transpose(0, 2, 1) * scale
    if causal:
        t = x.shape[1]
        scores = np.where(np.tril(np.ones((t, t), dtype=bool)), scores, -np.inf)
    p = _row_softmax(scores)
    return p @ v, (x, Wq, Wk, Wv, q, k, v, p, scale)


def attention_backward(dout, cache):
    x, Wq, Wk, Wv, q, k, v, p, scale = cache
    dv = p.transpose(0, 2, 1) @ dout
    dp = dout @ v.transpose(0, 2, 1)
    ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True))
    dq, dk = ds @ k * scale, ds.transpose(0, 2, 1) @ q * scale
    dx = dq @ Wq.T + dk @ Wk.T + dv @ Wv.T
    grads = [np.einsum("ntd,nte->de", x, g) for g in (dq, dk, dv)]
    return (dx, *grads)


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(x.dot(Wx) + prev_h.dot(Wh) + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    dpre = dnext_h * (1 - next_h**2)
    return dpre.dot(Wx.T), dpre.dot(Wh.T), x.T.dot(dpre), prev_h.T.dot(dpre), dpre.sum(axis=0)


def rnn_forward(x, h0, Wx, Wh, b):
    n, t, _ = x.shape
    h = np.zeros((n, t, h0.shape[1]))
    caches = []
    prev = h0
    for step in range(t):
        prev, cache = rnn_step_forward(x[:, step], prev, Wx, Wh, b)
        h[:, step] = prev
        caches.append(cache)
    return h, caches


def rnn_backward(dh, cache):
    n, t, _ = dh.shape
    d = cache[0][0].shape[1]
    dx = np.zeros((n, t, d))
    dWx, dWh = np.zeros_like(cache[0][2]), np.zeros_like(cache[0][3])
    db = np.zeros(dh.shape[2])
    dprev = np.zeros((n, dh.shape[2]))
    for step in reversed(range(t)):
        dx_t, dprev, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, step] + dprev, cache[step])
        dx[:, step] = dx_t
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dprev, dWx, dWh, db


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    hidden = prev_h.shape[1]
    a = x.dot(Wx) + prev_h.dot(Wh) + b
    i, f, o = (_sigmoid(a[:, k * hidden : (k + 1) * hidden]) for k in range(3))
    g = np.tanh(a[:, 3 * hidden :])
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c)


def lstm_step_backward(dnext_h, dnext_c, cache):
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c = cache
    tc = np.tanh(next_c)
    dc = dnext_c + dnext_h * o * (1 - tc**2)
    da = np.hstack(
        [
            dc * g * i * (1 - i),
            dc * prev_c * f * (1 - f),
            dnext_h * tc * o * (1 - o),
            dc * i * (1 - g**2),
        ]
    )
    return (
        da.dot(Wx.T),
        da.dot(Wh.T),
        dc * f,
        x.T.dot(da),
        prev_h.T.dot(da),
        da.sum(axis=0),
    )


def lstm_forward(x, h0, Wx, Wh, b):
    n, t, _ = x.shape
    h = np.zeros((n, t, h0.shape[1]))
    prev_h, prev_c, caches = h0, np.zeros_like(h0), []
    for step in range(t):
        prev_h, prev_c, cache = lstm_step_forward(x[:, step], prev_h, prev_c, Wx, Wh, b)
        h[:, step] = prev_h
        caches.append(cache)
    return h, caches


def lstm_backward(dh, cache):
    n, t, hidden = dh.shape
    dx = np.zeros((n, t, cache[0][0].shape[1]))
    dWx, dWh = np.zeros_like(cache[0][3]), np.zeros_like(cache[0][4])
    db = np.zeros(4 * hidden)
    dprev_h, dprev_c = np.zeros((n, hidden)), np.zeros((n, hidden))
    for step in reversed(range(t)):
        dx_t, dprev_h, dprev_c, dWx_t, dWh_t, db_t = lstm_step_backward(
            dh[:, step] + dprev_h, dprev_c, cache[step]
        )
        dx[:, step] = dx_t
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return dx, dprev_h, dWx, dWh, db
