"""The recurrent kinds of ``check-layer``: CS231n's vanilla RNN, one step and a whole sequence.

``rnn_step`` and ``rnn`` follow CS231n's assignment-3 signatures. The exact forward is
next_h = tanh(x @ Wx + prev_h @ Wh + b), built from the symbolic side's ``tanh`` activation;
the gradients come from the generic chain rule (exact.py). Registered on import (by the package).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from sympy import Add

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
