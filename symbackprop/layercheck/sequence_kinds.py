"""The sequence kinds of ``check-layer``: CS231n's assignment-3 layers and one attention head.

``word_embedding``, ``temporal_affine`` and ``temporal_softmax_loss`` follow CS231n's
signatures; ``attention`` is this project's own (documented in docs/check-layer.rst). The exact
forwards come from the symbolic layers: ``temporal_dense`` (an embedding is one-hot(x) @ W,
temporal_dense's forward without a bias), ``attention`` and the ``temporal_cross_entropy``
loss. Registered into :data:`~.kinds.KINDS` on import (by the package).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sympy import Expr, Rational

from ..layers import LAYERS
from ..layers.base import Stages, Tensor, inline
from ..losses import LOSSES
from .kinds import Kind, Size, Sizes, batch, one, register

STEPS = Size("T", (3,), "time steps")


def _embedding_symbolic(z: Sizes, s: Mapping[str, Tensor]) -> Tensor:
    return batch("temporal_dense", {"units": one(z, "D")}, s["onehot"], {"W": s["W"]})


register(
    Kind(
        "word_embedding",
        "word_embedding_forward",
        "word_embedding_backward",
        (
            "word_embedding_forward(x, W) -> (out, cache)",
            "word_embedding_backward(dout, cache) -> dW",
        ),
        (
            Size("N", (2,), "batch size"),
            STEPS,
            Size("V", (4,), "vocabulary"),
            Size("D", (3,), "dim"),
        ),
        lambda z: {"W": (*z["V"], *z["D"])},
        lambda a, z: (a["x"], a["W"]),
        _embedding_symbolic,
        ("W",),
        words=lambda z: ((one(z, "N"), one(z, "T")), one(z, "V")),
        summary="out[n, t] = W[x[n, t]] for integer x; dW scatter-adds dout (repeats add up)",
    )
)


def _affine_symbolic(z: Sizes, s: Mapping[str, Tensor]) -> Tensor:
    return batch("temporal_dense", {"units": one(z, "M")}, s["x"], {"W": s["w"], "b": s["b"]})


register(
    Kind(
        "temporal_affine",
        "temporal_affine_forward",
        "temporal_affine_backward",
        (
            "temporal_affine_forward(x, w, b) -> (out, cache)",
            "temporal_affine_backward(dout, cache) -> (dx, dw, db)",
        ),
        (
            Size("N", (2,), "batch size"),
            STEPS,
            Size("D", (3,), "inputs"),
            Size("M", (2,), "outputs"),
        ),
        lambda z: {"x": (*z["N"], *z["T"], *z["D"]), "w": (*z["D"], *z["M"]), "b": z["M"]},
        lambda a, z: (a["x"], a["w"], a["b"]),
        _affine_symbolic,
        ("x", "w", "b"),
        summary="out[n, t] = x[n, t] @ w + b at every step, w and b shared across time",
    )
)


def _temporal_loss_symbolic(z: Sizes, s: Mapping[str, Tensor]) -> Expr:
    loss = LOSSES["temporal_cross_entropy"]
    n = one(z, "N")
    total = [loss.per_sample(list(s["x"][i]), list(s["t"][i]), {}) for i in range(n)]
    return Rational(1, n) * sum(total, Rational(0))


register(
    Kind(
        "temporal_softmax_loss",
        "temporal_softmax_loss",
        None,
        ("temporal_softmax_loss(x, y, mask) -> (loss, dx)",),
        (Size("N", (2,), "batch size"), STEPS, Size("V", (4,), "vocabulary")),
        lambda z: {"x": (*z["N"], *z["T"], *z["V"])},
        lambda a, z: (a["x"], a["y"], a["mask"]),
        _temporal_loss_symbolic,
        ("x",),
        loss=True,
        masked=True,
        summary="the sum over N and T of mask * (-log softmax(x[n, t])[y[n, t]]), divided by N",
    )
)


def _attention_config(z: Sizes) -> dict[str, Any]:
    return {"dim": one(z, "d"), "causal": bool(one(z, "causal"))}


def _attention_staged(z: Sizes, s: Mapping[str, Tensor], stages: Stages = inline) -> Tensor:
    params = {"Wq": s["Wq"], "Wk": s["Wk"], "Wv": s["Wv"]}
    xs = [s["x"][n] for n in range(s["x"].shape[0])]
    outs = LAYERS["attention"].forward_batch(_attention_config(z), xs, params, stages)
    return np.array(outs, dtype=object)


def _projections(z: Sizes) -> dict[str, tuple[int, ...]]:
    w = (*z["D"], *z["d"])
    return {"x": (*z["N"], *z["T"], *z["D"]), "Wq": w, "Wk": w, "Wv": w}


register(
    Kind(
        "attention",
        "attention_forward",
        "attention_backward",
        (
            "attention_forward(x, Wq, Wk, Wv, causal) -> (out, cache)",
            "attention_backward(dout, cache) -> (dx, dWq, dWk, dWv)",
        ),
        (
            Size("N", (2,), "batch size"),
            STEPS,
            Size("D", (3,), "input features"),
            Size("d", (2,), "query, key and value dim"),
            Size("causal", (0,), "1 for the causal mask (j <= i), 0 for none", minimum=0),
        ),
        _projections,
        lambda a, z: (a["x"], a["Wq"], a["Wk"], a["Wv"], bool(one(z, "causal"))),
        _attention_staged,
        ("x", "Wq", "Wk", "Wv"),
        staged=_attention_staged,
        validate=lambda z: "causal must be 0 or 1" if one(z, "causal") > 1 else None,
        summary="one head: out[n] = softmax(q k^T / sqrt(d)) v with q, k, v = x[n] @ Wq, Wk, Wv; "
        "causal: each step attends to steps j <= i only (masked before the softmax)",
    )
)

__all__ = ["STEPS"]
