"""The recurrent kinds of ``check-layer``: CS231n's vanilla RNN and LSTM, one step and a whole
sequence.

``rnn_step``, ``rnn``, ``lstm_step`` and ``lstm`` follow CS231n's assignment-3 signatures. The
RNN's exact forward is next_h = tanh(x @ Wx + prev_h @ Wh + b), the LSTM's is its four gates,
both built from the symbolic side's ``sigmoid`` and ``tanh`` activations; the gradients come
from the generic chain rule (exact.py). Registered on import (by the package).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from sympy import Add, Integer

from ..activations import ACTIVATIONS
from ..layers.base import Tensor
from .kinds import Kind, Size, Sizes, register

HIDDEN = Size("H", (2,), "hidden size")


def _tanh(values: Tensor) -> Tensor:
    flat = ACTIVATIONS["tanh"].apply(list(values.ravel()), {})
    return np.array(flat, dtype=object).reshape(values.shape)


def _step(x: Tensor, prev_h: Tensor, wx: Tensor, wh: Tensor, b: Tensor) -> Tensor:
    """tanh(x @ Wx + prev_h @ Wh + b) for (N, D) x, written as explicit sums."""
    n, d = x.shape
    h = wh.shape[0]
    pre = np.empty((n, h), dtype=object)
    for i in range(n):
        for j in range(h):
            terms = [x[i, k] * wx[k, j] for k in range(d)]
            terms += [prev_h[i, k] * wh[k, j] for k in range(h)]
            pre[i, j] = Add(*terms, b[j])
    return _tanh(pre)


def _rnn_step_symbolic(z: Sizes, s: Mapping[str, Tensor]) -> Tensor:
    return _step(s["x"], s["prev_h"], s["Wx"], s["Wh"], s["b"])


def _weights(z: Sizes) -> dict[str, tuple[int, ...]]:
    return {"Wx": (*z["D"], *z["H"]), "Wh": (*z["H"], *z["H"]), "b": z["H"]}


register(
    Kind(
        "rnn_step",
        "rnn_step_forward",
        "rnn_step_backward",
        (
            "rnn_step_forward(x, prev_h, Wx, Wh, b) -> (next_h, cache)",
            "rnn_step_backward(dnext_h, cache) -> (dx, dprev_h, dWx, dWh, db)",
        ),
        (Size("N", (2,), "batch size"), Size("D", (3,), "input features"), HIDDEN),
        lambda z: {"x": (*z["N"], *z["D"]), "prev_h": (*z["N"], *z["H"]), **_weights(z)},
        lambda a, z: (a["x"], a["prev_h"], a["Wx"], a["Wh"], a["b"]),
        _rnn_step_symbolic,
        ("x", "prev_h", "Wx", "Wh", "b"),
        summary="next_h = tanh(x @ Wx + prev_h @ Wh + b)",
    )
)


def _rnn_symbolic(z: Sizes, s: Mapping[str, Tensor]) -> Tensor:
    x = s["x"]
    h = s["h0"]
    hs = []
    for t in range(x.shape[1]):
        h = _step(x[:, t, :], h, s["Wx"], s["Wh"], s["b"])
        hs.append(h)
    return np.stack(hs, axis=1)


register(
    Kind(
        "rnn",
        "rnn_forward",
        "rnn_backward",
        (
            "rnn_forward(x, h0, Wx, Wh, b) -> (h, cache)",
            "rnn_backward(dh, cache) -> (dx, dh0, dWx, dWh, db)",
        ),
        (
            Size("N", (2,), "batch size"),
            Size("T", (3,), "time steps"),
            Size("D", (2,), "input features"),
            HIDDEN,
        ),
        lambda z: {"x": (*z["N"], *z["T"], *z["D"]), "h0": (*z["N"], *z["H"]), **_weights(z)},
        lambda a, z: (a["x"], a["h0"], a["Wx"], a["Wh"], a["b"]),
        _rnn_symbolic,
        ("x", "h0", "Wx", "Wh", "b"),
        summary="h[:, t] = tanh(x[:, t] @ Wx + h[:, t-1] @ Wh + b), h[:, -1] = h0; h is (N, T, H)",
    )
)


def _sigmoid(values: Tensor) -> Tensor:
    flat = ACTIVATIONS["sigmoid"].apply(list(values.ravel()), {})
    return np.array(flat, dtype=object).reshape(values.shape)


def _lstm_step(
    x: Tensor, h: Tensor, c: Tensor, wx: Tensor, wh: Tensor, b: Tensor
) -> tuple[Tensor, Tensor]:
    """One LSTM step, gates stacked i, f, o, g along the 4H columns of Wx, Wh and b."""
    n, d = x.shape
    hidden = h.shape[1]
    pre = np.empty((n, 4 * hidden), dtype=object)
    for i in range(n):
        for j in range(4 * hidden):
            terms = [x[i, k] * wx[k, j] for k in range(d)]
            terms += [h[i, k] * wh[k, j] for k in range(hidden)]
            pre[i, j] = Add(*terms, b[j])
    gate_i, gate_f, gate_o = (_sigmoid(pre[:, k * hidden : (k + 1) * hidden]) for k in range(3))
    gate_g = _tanh(pre[:, 3 * hidden :])
    next_c = gate_f * c + gate_i * gate_g
    return gate_o * _tanh(next_c), next_c


def _lstm_step_symbolic(z: Sizes, s: Mapping[str, Tensor]) -> tuple[Tensor, Tensor]:
    return _lstm_step(s["x"], s["prev_h"], s["prev_c"], s["Wx"], s["Wh"], s["b"])


def _lstm_weights(z: Sizes) -> dict[str, tuple[int, ...]]:
    four = 4 * z["H"][0]
    return {"Wx": (*z["D"], four), "Wh": (*z["H"], four), "b": (four,)}


register(
    Kind(
        "lstm_step",
        "lstm_step_forward",
        "lstm_step_backward",
        (
            "lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b) -> (next_h, next_c, cache)",
            "lstm_step_backward(dnext_h, dnext_c, cache) -> (dx, dprev_h, dprev_c, dWx, dWh, db)",
        ),
        (Size("N", (2,), "batch size"), Size("D", (3,), "input features"), HIDDEN),
        lambda z: {
            "x": (*z["N"], *z["D"]),
            "prev_h": (*z["N"], *z["H"]),
            "prev_c": (*z["N"], *z["H"]),
            **_lstm_weights(z),
        },
        lambda a, z: (a["x"], a["prev_h"], a["prev_c"], a["Wx"], a["Wh"], a["b"]),
        _lstm_step_symbolic,
        ("x", "prev_h", "prev_c", "Wx", "Wh", "b"),
        outputs=("next_h", "next_c"),
        summary="gates i, f, o, g stacked in Wx (D, 4H): next_c = f prev_c + i g, "
        "next_h = o tanh(next_c)",
    )
)


def _lstm_symbolic(z: Sizes, s: Mapping[str, Tensor]) -> Tensor:
    x, h = s["x"], s["h0"]
    c = np.full(h.shape, Integer(0), dtype=object)
    hs = []
    for t in range(x.shape[1]):
        h, c = _lstm_step(x[:, t, :], h, c, s["Wx"], s["Wh"], s["b"])
        hs.append(h)
    return np.stack(hs, axis=1)


def _lstm_inputs(z: Sizes) -> dict[str, tuple[int, ...]]:
    return {"x": (*z["N"], *z["T"], *z["D"]), "h0": (*z["N"], *z["H"]), **_lstm_weights(z)}


register(
    Kind(
        "lstm",
        "lstm_forward",
        "lstm_backward",
        (
            "lstm_forward(x, h0, Wx, Wh, b) -> (h, cache)",
            "lstm_backward(dh, cache) -> (dx, dh0, dWx, dWh, db)",
        ),
        (
            Size("N", (2,), "batch size"),
            Size("T", (2,), "time steps"),
            Size("D", (2,), "input features"),
            HIDDEN,
        ),
        _lstm_inputs,
        lambda a, z: (a["x"], a["h0"], a["Wx"], a["Wh"], a["b"]),
        _lstm_symbolic,
        ("x", "h0", "Wx", "Wh", "b"),
        summary="gates i, f, o, g stacked in Wx (D, 4H): c_t = f c_{t-1} + i g, "
        "h_t = o tanh(c_t), c_0 = 0; h is (N, T, H)",
    )
)
