"""Wrong CS231n-style layers, one classic mistake each, for the check-layer tests.

Each function's name says its mistake; ``MISTAKES`` in ``tests/test_layercheck.py`` maps it to
the catalogue id check-layer must name. The forwards are the correct ones.
"""

import numpy as np
from correct import (  # noqa: F401  (the forwards the wrong backwards pair with)
    _row_softmax,
    affine_backward,
    affine_forward,
    attention_backward,
    attention_forward,
    batchnorm_backward,
    batchnorm_forward,
    conv_backward_naive,
    conv_forward_naive,
    dropout_backward,
    dropout_forward,
    layernorm_backward,
    layernorm_forward,
    lstm_forward,
    lstm_step_backward,
    lstm_step_forward,
    max_pool_backward_naive,
    max_pool_forward_naive,
    relu_backward,
    relu_forward,
    rnn_forward,
    rnn_step_backward,
    rnn_step_forward,
    softmax_loss,
    svm_loss,
    temporal_affine_backward,
    temporal_affine_forward,
    temporal_softmax_loss,
    word_embedding_backward,
    word_embedding_forward,
)


def affine_backward_dw_transposed(dout, cache):
    x = cache[0]
    dx, _, db = affine_backward(dout, cache)
    return dx, dout.T @ x.reshape(x.shape[0], -1), db


def affine_backward_db_mean(dout, cache):
    dx, dw, _ = affine_backward(dout, cache)
    return dx, dw, dout.mean(axis=0)


def affine_backward_dx_flat(dout, cache):
    _, w, _ = cache
    _, dw, db = affine_backward(dout, cache)
    return dout @ w.T, dw, db


def affine_backward_sign(dout, cache):
    return tuple(-g for g in affine_backward(dout, cache))


def relu_backward_no_mask(dout, cache):
    return dout.copy()


def relu_backward_at_zero(dout, cache):
    return dout * (cache >= 0)


def relu_backward_times_output(dout, cache):
    return dout * np.maximum(0, cache)


def relu_forward_leaky(x):
    return np.where(x > 0, x, 0.01 * x), x


def _conv_scatter(dout, cache, kernel):
    x, w, _, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    hh, ww = w.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp = np.zeros_like(xp)
    n, f, hout, wout = dout.shape
    for i in range(n):
        for k in range(f):
            for r in range(hout):
                for s in range(wout):
                    rows = slice(r * stride, r * stride + hh)
                    cols = slice(s * stride, s * stride + ww)
                    dxp[i, :, rows, cols] += kernel[k] * dout[i, k, r, s]
    return dxp


def conv_backward_not_rotated(dout, cache):
    x, w, _, conv_param = cache
    pad = conv_param["pad"]
    dxp = _conv_scatter(dout, cache, w[:, :, ::-1, ::-1])
    _, dw, db = conv_backward_naive(dout, cache)
    return dxp[:, :, pad : pad + x.shape[2], pad : pad + x.shape[3]], dw, db


def conv_backward_no_crop(dout, cache):
    _, dw, db = conv_backward_naive(dout, cache)
    return _conv_scatter(dout, cache, cache[1]), dw, db


def conv_backward_db_mean(dout, cache):
    dx, dw, db = conv_backward_naive(dout, cache)
    return dx, dw, db / dout.shape[0]


def conv_backward_dw_rotated(dout, cache):
    dx, dw, db = conv_backward_naive(dout, cache)
    return dx, dw[:, :, ::-1, ::-1], db


def _pool_windows(x, pool_param):
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    hout, wout = 1 + (x.shape[2] - ph) // stride, 1 + (x.shape[3] - pw) // stride
    for r in range(hout):
        for s in range(wout):
            yield r, s, slice(r * stride, r * stride + ph), slice(s * stride, s * stride + pw)


def max_pool_backward_all_maxima(dout, cache):
    x, pool_param = cache
    dx = np.zeros_like(x)
    for r, s, rows, cols in _pool_windows(x, pool_param):
        window = x[:, :, rows, cols]
        mask = window == window.max(axis=(2, 3), keepdims=True)
        dx[:, :, rows, cols] += mask * dout[:, :, r, s][:, :, None, None]
    return dx


def max_pool_backward_average(dout, cache):
    x, pool_param = cache
    dx = np.zeros_like(x)
    size = pool_param["pool_height"] * pool_param["pool_width"]
    for r, s, rows, cols in _pool_windows(x, pool_param):
        dx[:, :, rows, cols] += dout[:, :, r, s][:, :, None, None] / size
    return dx


def softmax_loss_no_mean(x, y):
    loss, dx = softmax_loss(x, y)
    return loss, dx * x.shape[0]


def softmax_loss_target_not_subtracted(x, y):
    loss, _ = softmax_loss(x, y)
    probs = np.exp(x - x.max(axis=1, keepdims=True))
    return loss, probs / probs.sum(axis=1, keepdims=True) / x.shape[0]


def _svm_parts(x, y, active):
    n = x.shape[0]
    margins = x - x[np.arange(n), y][:, None] + 1.0
    mask = active(margins).astype(float)
    mask[np.arange(n), y] = 0
    return n, margins, mask


def svm_loss_minus_one(x, y):
    n, _, mask = _svm_parts(x, y, lambda m: m > 0)
    loss, _ = svm_loss(x, y)
    mask[np.arange(n), y] = -(mask.sum(axis=1) > 0).astype(float)
    return loss, mask / n


def svm_loss_margin_at_zero(x, y):
    n, _, mask = _svm_parts(x, y, lambda m: m >= 0)
    loss, _ = svm_loss(x, y)
    mask[np.arange(n), y] -= mask.sum(axis=1)
    return loss, mask / n


def svm_loss_own_margin(x, y):
    n = x.shape[0]
    margins = np.maximum(0, x - x[np.arange(n), y][:, None] + 1.0)  # the class's own 1 kept
    _, dx = svm_loss(x, y)
    return margins.sum() / n, dx


def svm_loss_double(x, y):
    loss, dx = svm_loss(x, y)
    return loss, 2 * dx


def relu_backward_nan(dout, cache):
    return dout * np.nan


def relu_backward_raises(dout, cache):
    return _helper(dout)


def _helper(dout):
    raise ValueError("shapes do not line up")


def relu_forward_out_only(x):
    return np.maximum(0, x)


def affine_backward_two(dout, cache):
    dx, dw, _ = affine_backward(dout, cache)
    return dx, dw


def affine_backward_flat_db(dout, cache):
    dx, dw, db = affine_backward(dout, cache)
    return dx, dw, np.concatenate([db, db])


def _batchnorm_staged(dout, cache, gamma_used, var_divisor, mean_path=True, var_path=True):
    """The staged backward of CS231n's computational graph, with switches for the mistakes."""
    xhat, gamma, inv_std = cache
    m = dout.shape[0]
    centred = xhat / inv_std
    dxhat = dout * (gamma if gamma_used else 1.0)
    dvar = (dxhat * centred).sum(axis=0) * -0.5 * inv_std**3
    dmu = -(dxhat * inv_std).sum(axis=0) + dvar * (-2.0 * centred).mean(axis=0)
    dx = dxhat * inv_std
    if var_path:
        dx = dx + dvar * 2.0 * centred / var_divisor(m)
    if mean_path:
        dx = dx + dmu / m
    _, dgamma, dbeta = batchnorm_backward(dout, cache)
    return dx, dgamma, dbeta


def batchnorm_backward_missing_gamma(dout, cache):
    return _batchnorm_staged(dout, cache, False, lambda m: m)


def batchnorm_backward_bessel(dout, cache):
    return _batchnorm_staged(dout, cache, True, lambda m: m - 1)


def batchnorm_backward_missing_mean_path(dout, cache):
    return _batchnorm_staged(dout, cache, True, lambda m: m, mean_path=False)


def batchnorm_backward_missing_variance_path(dout, cache):
    return _batchnorm_staged(dout, cache, True, lambda m: m, var_path=False)


def layernorm_forward_over_batch(x, gamma, beta, ln_param):
    return batchnorm_forward(x, gamma, beta, ln_param)


def layernorm_backward_over_batch(dout, cache):
    return batchnorm_backward(dout, cache)


def dropout_backward_missing_scale(dout, cache):
    _, mask = cache
    return dout * (mask != 0)


def word_embedding_backward_assign(dout, cache):
    x, shape = cache
    dW = np.zeros(shape)
    dW[x] = dout
    return dW


def temporal_affine_backward_db_per_step(dout, cache):
    dx, dw, _ = temporal_affine_backward(dout, cache)
    return dx, dw, dout.sum(axis=0)


def temporal_softmax_loss_no_mask(x, y, mask):
    return temporal_softmax_loss(x, y, np.ones_like(mask))


def attention_backward_no_scale(dout, cache):
    return attention_backward(dout, (*cache[:-1], 1.0))


def attention_forward_mask_after_softmax(x, Wq, Wk, Wv, causal):
    _, cache = attention_forward(x, Wq, Wk, Wv, False)
    x, Wq, Wk, Wv, q, k, v, p, scale = cache
    if causal:
        p = p * np.tril(np.ones(p.shape[1:]))
    return p @ v, (x, Wq, Wk, Wv, q, k, v, p, scale, cache[7])


def attention_backward_mask_after_softmax(dout, cache):
    x, Wq, Wk, Wv, q, k, v, p, scale, full = cache
    dv = p.transpose(0, 2, 1) @ dout
    dp = dout @ v.transpose(0, 2, 1) * np.tril(np.ones(p.shape[1:]))
    ds = full * (dp - (dp * full).sum(axis=-1, keepdims=True))
    dq, dk = ds @ k * scale, ds.transpose(0, 2, 1) @ q * scale
    dx = dq @ Wq.T + dk @ Wk.T + dv @ Wv.T
    grads = [np.einsum("ntd,nte->de", x, g) for g in (dq, dk, dv)]
    return (dx, *grads)


def attention_backward_diagonal_softmax(dout, cache):
    x, Wq, Wk, Wv, q, k, v, p, scale = cache
    dv = p.transpose(0, 2, 1) @ dout
    ds = p * (dout @ v.transpose(0, 2, 1))
    dq, dk = ds @ k * scale, ds.transpose(0, 2, 1) @ q * scale
    dx = dq @ Wq.T + dk @ Wk.T + dv @ Wv.T
    grads = [np.einsum("ntd,nte->de", x, g) for g in (dq, dk, dv)]
    return (dx, *grads)


def rnn_backward_no_recurrent_path(dh, cache):
    n, t, _ = dh.shape
    dx = np.zeros((n, t, cache[0][0].shape[1]))
    dWx, dWh = np.zeros_like(cache[0][2]), np.zeros_like(cache[0][3])
    db = np.zeros(dh.shape[2])
    for step in reversed(range(t)):
        dx_t, dprev, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, step], cache[step])
        dx[:, step] = dx_t
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return dx, dprev, dWx, dWh, db


def rnn_step_backward_dwh_current(dnext_h, cache):
    x, _prev_h, Wx, Wh, next_h = cache
    dpre = dnext_h * (1 - next_h**2)
    return dpre.dot(Wx.T), dpre.dot(Wh.T), x.T.dot(dpre), next_h.T.dot(dpre), dpre.sum(axis=0)


def rnn_step_backward_tanh_twice(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    dpre = dnext_h * (1 - np.tanh(next_h) ** 2)
    return dpre.dot(Wx.T), dpre.dot(Wh.T), x.T.dot(dpre), prev_h.T.dot(dpre), dpre.sum(axis=0)


def lstm_backward_no_cell_path(dh, cache):
    n, t, hidden = dh.shape
    dx = np.zeros((n, t, cache[0][0].shape[1]))
    dWx, dWh = np.zeros_like(cache[0][3]), np.zeros_like(cache[0][4])
    db = np.zeros(4 * hidden)
    dprev_h = np.zeros((n, hidden))
    for step in reversed(range(t)):
        dx_t, dprev_h, _, dWx_t, dWh_t, db_t = lstm_step_backward(
            dh[:, step] + dprev_h, np.zeros((n, hidden)), cache[step]
        )
        dx[:, step] = dx_t
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return dx, dprev_h, dWx, dWh, db


def lstm_backward_gate_order(dh, cache):
    n, t, hidden = dh.shape
    dx = np.zeros((n, t, cache[0][0].shape[1]))
    dWx, dWh = np.zeros_like(cache[0][3]), np.zeros_like(cache[0][4])
    db = np.zeros(4 * hidden)
    dprev_h, dprev_c = np.zeros((n, hidden)), np.zeros((n, hidden))
    for step in reversed(range(t)):
        x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c = cache[step]
        tc = np.tanh(next_c)
        dnext_h = dh[:, step] + dprev_h
        dc = dprev_c + dnext_h * o * (1 - tc**2)
        di, df = dc * g * i * (1 - i), dc * prev_c * f * (1 - f)
        do, dg = dnext_h * tc * o * (1 - o), dc * i * (1 - g**2)
        da = np.hstack([di, df, dg, do])  # the forward slices i, f, o, g
        dx[:, step] = da.dot(Wx.T)
        dprev_h, dprev_c = da.dot(Wh.T), dc * f
        dWx, dWh, db = dWx + x.T.dot(da), dWh + prev_h.T.dot(da), db + da.sum(axis=0)
    return dx, dprev_h, dWx, dWh, db


def lstm_step_backward_no_cell_path(dnext_h, dnext_c, cache):
    return lstm_step_backward(dnext_h, np.zeros_like(dnext_c), cache)


def lstm_step_backward_gate_order(dnext_h, dnext_c, cache):
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c = cache
    tc = np.tanh(next_c)
    dc = dnext_c + dnext_h * o * (1 - tc**2)
    di, df = dc * g * i * (1 - i), dc * prev_c * f * (1 - f)
    do, dg = dnext_h * tc * o * (1 - o), dc * i * (1 - g**2)
    da = np.hstack([di, df, dg, do])  # the forward slices i, f, o, g
    return da.dot(Wx.T), da.dot(Wh.T), dc * f, x.T.dot(da), prev_h.T.dot(da), da.sum(axis=0)


def lstm_step_forward_two(x, prev_h, prev_c, Wx, Wh, b):
    next_h, _, cache = lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)
    return next_h, cache


def lstm_step_forward_flat_c(x, prev_h, prev_c, Wx, Wh, b):
    next_h, next_c, cache = lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)
    return next_h, next_c.ravel(), cache
