"""Hand-written NumPy recurrent layers: a vanilla RNN and an LSTM, the second opinion for the
``rnn`` and ``lstm`` layer kinds.

Written from CS231n's assignment 3 (``rnn_step_forward``, ``rnn_forward``, ``lstm_forward``
and their backward passes), as explicit loops over the time steps; it imports nothing from
the symbolic side.

Shapes: the batch axis first, then time. ``x`` is ``(N, T, D)``, ``h0`` (and ``c0``) is
``(N, H)``; the RNN has ``Wx`` of ``(D, H)``, ``Wh`` of ``(H, H)`` and ``b`` of ``(H,)``;
the LSTM ``Wx`` of ``(D, 4H)``, ``Wh`` of ``(H, 4H)`` and ``b`` of ``(4H,)`` with the gates
i, f, o, g in that order. The output is all hidden states ``(N, T, H)``, or with
``return_sequence`` false the last one ``(N, H)``.

Example:
    >>> h, _ = rnn_forward(np.zeros((1, 2, 1)), np.zeros((1, 1)), np.ones((1, 1)),
    ...                    np.ones((1, 1)), np.zeros(1))
    >>> h.tolist()
    [[[0.0], [0.0]]]
"""

from collections.abc import Mapping
from typing import Any

import numpy as np

Array = np.ndarray

#: The layer types this module implements (for ``reference_layers``).
KINDS = ("rnn", "lstm")

__all__ = [
    "KINDS",
    "layer_backward",
    "layer_forward",
    "lstm_backward",
    "lstm_forward",
    "rnn_backward",
    "rnn_forward",
]


def _sigmoid(v: Array) -> Array:
    return 1.0 / (1.0 + np.exp(-v))


def rnn_forward(
    x: Array, h0: Array, Wx: Array, Wh: Array, b: Array
) -> tuple[Array, tuple[Any, ...]]:
    """h[:, t] = tanh(x[:, t] Wx + h[:, t - 1] Wh + b), starting from h0."""
    n, steps, _ = x.shape
    h = np.zeros((n, steps, Wh.shape[0]))
    prev = h0
    for t in range(steps):
        prev = np.tanh(x[:, t, :] @ Wx + prev @ Wh + b)
        h[:, t, :] = prev
    return h, (x, h0, Wx, Wh, h)


def rnn_backward(dh: Array, cache: tuple[Any, ...]) -> tuple[Array, ...]:
    """dx, dh0, dWx, dWh, db from dh = dJ/dh of every step (upstream only, no recurrence)."""
    x, h0, Wx, Wh, h = cache
    steps = x.shape[1]
    dx = np.zeros(x.shape)
    dWx, dWh, db = np.zeros(Wx.shape), np.zeros(Wh.shape), np.zeros(Wh.shape[0])
    carried = np.zeros(h0.shape)
    for t in range(steps - 1, -1, -1):
        before = h[:, t - 1, :] if t > 0 else h0
        dnext = dh[:, t, :] + carried
        draw = dnext * (1.0 - h[:, t, :] ** 2)
        dx[:, t, :] = draw @ Wx.T
        dWx += x[:, t, :].T @ draw
        dWh += before.T @ draw
        db += draw.sum(axis=0)
        carried = draw @ Wh.T
    return dx, carried, dWx, dWh, db


def lstm_forward(
    x: Array, h0: Array, c0: Array, Wx: Array, Wh: Array, b: Array
) -> tuple[Array, tuple[Any, ...]]:
    """CS231n's LSTM: gates i, f, o, g from x Wx + h Wh + b; c = f c + i g; h = o tanh(c)."""
    n, steps, _ = x.shape
    hidden = Wh.shape[0]
    h = np.zeros((n, steps, hidden))
    c = np.zeros((n, steps, hidden))
    gates = np.zeros((n, steps, 4 * hidden))
    prev_h, prev_c = h0, c0
    for t in range(steps):
        raw = x[:, t, :] @ Wx + prev_h @ Wh + b
        i = _sigmoid(raw[:, :hidden])
        f = _sigmoid(raw[:, hidden : 2 * hidden])
        o = _sigmoid(raw[:, 2 * hidden : 3 * hidden])
        g = np.tanh(raw[:, 3 * hidden :])
        prev_c = f * prev_c + i * g
        prev_h = o * np.tanh(prev_c)
        gates[:, t, :] = np.concatenate([i, f, o, g], axis=1)
        h[:, t, :], c[:, t, :] = prev_h, prev_c
    return h, (x, h0, c0, Wx, Wh, gates, c, h)


def lstm_backward(dh: Array, cache: tuple[Any, ...]) -> tuple[Array, ...]:
    """dx, dh0, dc0, dWx, dWh, db, with the cell state's gradient carried back through f."""
    x, h0, c0, Wx, Wh, gates, c, h = cache
    steps = x.shape[1]
    hidden = Wh.shape[0]
    dx = np.zeros(x.shape)
    dWx, dWh, db = np.zeros(Wx.shape), np.zeros(Wh.shape), np.zeros(Wh.shape[1])
    dh_carried, dc_carried = np.zeros(h0.shape), np.zeros(c0.shape)
    for t in range(steps - 1, -1, -1):
        i = gates[:, t, :hidden]
        f = gates[:, t, hidden : 2 * hidden]
        o = gates[:, t, 2 * hidden : 3 * hidden]
        g = gates[:, t, 3 * hidden :]
        c_before = c[:, t - 1, :] if t > 0 else c0
        h_before = h[:, t - 1, :] if t > 0 else h0
        dnext_h = dh[:, t, :] + dh_carried
        squashed = np.tanh(c[:, t, :])
        dnext_c = dnext_h * o * (1.0 - squashed**2) + dc_carried
        di, df = dnext_c * g, dnext_c * c_before
        do, dg = dnext_h * squashed, dnext_c * i
        draw = np.concatenate(
            [di * i * (1 - i), df * f * (1 - f), do * o * (1 - o), dg * (1 - g**2)], axis=1
        )
        dx[:, t, :] = draw @ Wx.T
        dWx += x[:, t, :].T @ draw
        dWh += h_before.T @ draw
        db += draw.sum(axis=0)
        dh_carried, dc_carried = draw @ Wh.T, dnext_c * f
    return dx, dh_carried, dc_carried, dWx, dWh, db


def _param(params: Mapping[str, Any], key: str) -> Array:
    return np.asarray(params[key], dtype=np.float64)


def _arguments(layer: Mapping[str, Any], params: Mapping[str, Any], n: int) -> list[Array]:
    """The initial states and Wx, Wh, b of layer ``n`` (b zeros without the key)."""
    wx, wh = _param(params, f"Wx{n}"), _param(params, f"Wh{n}")
    b = _param(params, f"b{n}") if f"b{n}" in params else np.zeros(wh.shape[1])
    keys = ("h0", "c0") if layer["type"] == "lstm" else ("h0",)
    states = [np.asarray(layer[key], dtype=np.float64) for key in keys]
    return [*states, wx, wh, b]


def layer_forward(layer: Mapping[str, Any], params: Mapping[str, Any], n: int, x: Array) -> Array:
    """The output of one recurrent layer, the ``n``-th with parameters."""
    forward = lstm_forward if layer["type"] == "lstm" else rnn_forward
    h = forward(x, *_arguments(layer, params, n))[0]
    return h if layer["return_sequence"] else h[:, -1, :]


def layer_backward(
    layer: Mapping[str, Any], params: Mapping[str, Any], n: int, x: Array, g: Array
) -> tuple[Array, dict[str, Array]]:
    """From g = dJ/d(output): dJ/dx and the gradients of Wx, Wh (and b), and of the initial
    states, keyed ``h0`` (and ``c0``)."""
    lstm = layer["type"] == "lstm"
    h, cache = (lstm_forward if lstm else rnn_forward)(x, *_arguments(layer, params, n))
    if layer["return_sequence"]:
        dh = g
    else:  # only the last state is the output
        dh = np.zeros(h.shape)
        dh[:, -1, :] = g
    dx, *states, dwx, dwh, db = (lstm_backward if lstm else rnn_backward)(dh, cache)
    grads = {f"Wx{n}": dwx, f"Wh{n}": dwh, **({f"b{n}": db} if f"b{n}" in params else {})}
    grads.update(zip(("h0", "c0")[: len(states)], states, strict=True))
    return dx, grads
