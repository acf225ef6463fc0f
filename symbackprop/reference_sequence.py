"""Hand-written NumPy sequence layers: word embedding, temporal affine, temporal softmax loss
and one head of self-attention, the second opinion for the sequence layer kinds.

Written from CS231n's assignment 3 and the attention paper, with CS231n's ``*_forward(...) ->
(out, cache)`` and ``*_backward(dout, cache)`` pairs; it imports nothing from the symbolic
side. The attention backward goes through the full softmax Jacobian diag(p) - p p^T of each
row, not the compact form the symbolic side uses.

Shapes: the batch axis first, then time. ``x`` is ``(N, T)`` word indices for the embedding
(table ``W`` of ``(V, D)``), ``(N, T, D)`` for the others; temporal affine has ``w`` of
``(D, M)`` and ``b`` of ``(M,)``; attention ``Wq``, ``Wk`` and ``Wv`` of ``(D, d)``.

Example:
    >>> out, _ = word_embedding_forward(np.array([[1, 0]]), np.array([[1.0], [2.0]]))
    >>> out.tolist()
    [[[2.0], [1.0]]]
"""

from collections.abc import Mapping
from typing import Any

import numpy as np

Array = np.ndarray

#: The layer types this module implements (for ``reference_layers``).
KINDS = ("embedding", "temporal_dense", "attention")

__all__ = [
    "KINDS",
    "attention_backward",
    "attention_forward",
    "layer_backward",
    "layer_forward",
    "sequence_loss",
    "temporal_affine_backward",
    "temporal_affine_forward",
    "temporal_softmax_loss",
    "word_embedding_backward",
    "word_embedding_forward",
]


def word_embedding_forward(x: Array, W: Array) -> tuple[Array, tuple[Any, ...]]:
    """out[n, t] = W[x[n, t]]."""
    idx = np.asarray(x).astype(int)
    return W[idx], (idx, W.shape)


def word_embedding_backward(dout: Array, cache: tuple[Any, ...]) -> Array:
    """dW: every (n, t) adds dout[n, t] into row x[n, t] (np.add.at accumulates repeats)."""
    idx, shape = cache
    dW = np.zeros(shape)
    np.add.at(dW, idx, dout)
    return dW


def temporal_affine_forward(x: Array, w: Array, b: Array) -> tuple[Array, tuple[Any, ...]]:
    """out[n, t] = x[n, t] @ w + b."""
    n, t, d = x.shape
    out = (x.reshape(n * t, d) @ w).reshape(n, t, -1) + b
    return out, (x, w)


def temporal_affine_backward(dout: Array, cache: tuple[Any, ...]) -> tuple[Array, Array, Array]:
    """dx, dw, db with every step's contribution to dw and db summed over N and T."""
    x, w = cache
    n, t, d = x.shape
    m = dout.shape[2]
    flat = dout.reshape(n * t, m)
    dx = (flat @ w.T).reshape(n, t, d)
    return dx, x.reshape(n * t, d).T @ flat, flat.sum(axis=0)


def temporal_softmax_loss(x: Array, y: Array, mask: Array) -> tuple[float, Array]:
    """CS231n's loss: the sum over N and T of mask * (-log softmax(x)[y]), divided by N."""
    n, t, v = x.shape
    flat = x.reshape(n * t, v)
    labels, weights = np.asarray(y).reshape(n * t).astype(int), np.asarray(mask).reshape(n * t)
    shifted = flat - flat.max(axis=1, keepdims=True)
    probs = np.exp(shifted)
    probs /= probs.sum(axis=1, keepdims=True)
    rows = np.arange(n * t)
    loss = -np.sum(weights * np.log(probs[rows, labels])) / n
    dx = probs.copy()
    dx[rows, labels] -= 1
    dx *= weights[:, None] / n
    return float(loss), dx.reshape(n, t, v)


def _softmax(row: Array) -> Array:
    e = np.exp(row - row.max())
    return e / e.sum()


def attention_forward(
    x: Array, Wq: Array, Wk: Array, Wv: Array, causal: bool = False
) -> tuple[Array, tuple[Any, ...]]:
    """out[n] = softmax(q k^T / sqrt(d), masked to j <= i when causal, row by row) v."""
    n, t, _ = x.shape
    d = Wq.shape[1]
    q, k, v = x @ Wq, x @ Wk, x @ Wv
    weights = np.zeros((n, t, t))
    for s in range(n):
        scores = q[s] @ k[s].T / np.sqrt(d)
        for i in range(t):
            allowed = i + 1 if causal else t
            weights[s, i, :allowed] = _softmax(scores[i, :allowed])
    out = weights @ v
    return out, (x, Wq, Wk, Wv, q, k, v, weights)


def attention_backward(dout: Array, cache: tuple[Any, ...]) -> tuple[Array, Array, Array, Array]:
    """dx, dWq, dWk, dWv, through the softmax Jacobian diag(p) - p p^T of each row."""
    x, Wq, Wk, Wv, q, k, v, weights = cache
    n, t, _ = x.shape
    d = Wq.shape[1]
    dv = np.transpose(weights, (0, 2, 1)) @ dout
    dweights = dout @ np.transpose(v, (0, 2, 1))
    dscores = np.zeros_like(weights)
    for s in range(n):
        for i in range(t):
            p = weights[s, i]
            jacobian = np.diag(p) - np.outer(p, p)
            dscores[s, i] = jacobian @ dweights[s, i]
    dq = dscores @ k / np.sqrt(d)
    dk = np.transpose(dscores, (0, 2, 1)) @ q / np.sqrt(d)
    dx = dq @ Wq.T + dk @ Wk.T + dv @ Wv.T
    flat = x.reshape(n * t, -1).T
    grads = [flat @ g.reshape(n * t, d) for g in (dq, dk, dv)]
    return dx, grads[0], grads[1], grads[2]


def _param(params: Mapping[str, Any], key: str) -> Array:
    return np.asarray(params[key], dtype=np.float64)


def _bias(params: Mapping[str, Any], key: str, units: int) -> Array:
    return _param(params, key) if key in params else np.zeros(units)


def layer_forward(layer: Mapping[str, Any], params: Mapping[str, Any], n: int, x: Array) -> Array:
    """The output of one sequence layer, the ``n``-th with parameters."""
    kind = layer["type"]
    if kind == "embedding":
        return word_embedding_forward(x, _param(params, f"We{n}"))[0]
    if kind == "temporal_dense":
        w = _param(params, f"W{n}")
        return temporal_affine_forward(x, w, _bias(params, f"b{n}", w.shape[1]))[0]
    wq, wk, wv = (_param(params, f"{stem}{n}") for stem in ("Wq", "Wk", "Wv"))
    return attention_forward(x, wq, wk, wv, bool(layer["causal"]))[0]


def layer_backward(
    layer: Mapping[str, Any], params: Mapping[str, Any], n: int, x: Array, g: Array
) -> tuple[Array, dict[str, Array]]:
    """From g = dJ/d(output): dJ/d(input) (zeros for indices) and the parameter gradients."""
    kind = layer["type"]
    if kind == "embedding":
        cache = word_embedding_forward(x, _param(params, f"We{n}"))[1]
        return np.zeros(x.shape), {f"We{n}": word_embedding_backward(g, cache)}
    if kind == "temporal_dense":
        w = _param(params, f"W{n}")
        cache = temporal_affine_forward(x, w, _bias(params, f"b{n}", w.shape[1]))[1]
        dx, dw, db = temporal_affine_backward(g, cache)
        grads = {f"W{n}": dw, **({f"b{n}": db} if f"b{n}" in params else {})}
        return dx, grads
    wq, wk, wv = (_param(params, f"{stem}{n}") for stem in ("Wq", "Wk", "Wv"))
    cache = attention_forward(x, wq, wk, wv, bool(layer["causal"]))[1]
    dx, dwq, dwk, dwv = attention_backward(g, cache)
    return dx, {f"Wq{n}": dwq, f"Wk{n}": dwk, f"Wv{n}": dwv}


def sequence_loss(scores: Array, y: Array, reduction: str) -> tuple[float, Array]:
    """The temporal softmax loss of ``scores`` (N, T, V) and its gradient.

    ``y`` is (N, T, V): one-hot at the label for a step that counts, all zeros for a masked
    step. ``reduction`` "mean" divides by N (CS231n), "sum" does not.
    """
    labels, mask = np.argmax(y, axis=2), (np.sum(y, axis=2) > 0).astype(np.float64)
    loss, dx = temporal_softmax_loss(scores, labels, mask)
    scale = 1.0 if reduction == "mean" else float(scores.shape[0])
    return loss * scale, dx * scale
