"""The catalogue's entries for the sequence kinds: embedding, temporal affine, temporal
softmax loss and attention. Registered into :data:`~.mistakes.LAYER_MISTAKES` on import (by
the package); each predicts, exactly, what a backward with the mistake returns.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import mpmath
import numpy as np
from sympy import Expr, Float, Integer, sqrt

from ..checking.precision import GUARD, PRECISION
from ..layers import LAYERS
from ..layers.attention import SoftmaxGradient, backward_batch, softmax_backward
from ..layers.base import Tensor, tensor
from .kinds import Kind, Sizes, one
from .mistakes import Case, Predict, Variant, mistake, mp_array


def _variant(predict: Predict, **detail: Any) -> Variant:
    return Variant(tuple((k, str(v)) for k, v in detail.items()), predict)


# ----------------------------------------------------------------------------- embedding


@mistake(
    "embedding-assign-not-add",
    "dW[x] = dout: each row assigned the gradient of one step where a word repeats, where "
    "the steps' gradients add up (np.add.at)",
    ("word_embedding",),
)
def _assign_not_add(kind: Kind, sizes: Sizes) -> Iterator[Variant]:
    def predict(case: Case) -> dict[str, np.ndarray]:
        words = np.argmax(np.array(case.values["onehot"], dtype=int), axis=-1)
        dout = mp_array(case.values["dout"])
        dw = np.zeros(case.exact["dW"].shape, dtype=object) * mpmath.mpf(0)
        for index in np.ndindex(*words.shape):
            dw[words[index]] = dout[index]  # the last step of a repeated word wins
        return {"dW": dw}

    yield _variant(predict, where="dW")


# ----------------------------------------------------------------------------- temporal affine


@mistake(
    "temporal-affine-db-not-summed-over-time",
    "db = dout.sum(axis=0): summed over the batch but not over the time steps, a (T, M) array "
    "where the bias shared across time gets the sum over both",
    ("temporal_affine",),
)
def _db_per_step(kind: Kind, sizes: Sizes) -> Iterator[Variant]:
    yield _variant(lambda case: {"db": mp_array(case.values["dout"]).sum(axis=0)}, where="db")


# ----------------------------------------------------------------------------- the loss


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.vectorize(mpmath.exp, otypes=[object])(x)
    return e / e.sum(axis=-1, keepdims=True)


@mistake(
    "temporal-softmax-ignores-mask",
    "every time step counted in the loss and dx, the mask ignored: padding steps contribute",
    ("temporal_softmax_loss",),
)
def _ignores_mask(kind: Kind, sizes: Sizes) -> Iterator[Variant]:
    n = one(sizes, "N")

    def predict(case: Case) -> dict[str, np.ndarray]:
        p, t = _softmax(mp_array(case.values["x"])), mp_array(case.values["onehot_y"])
        logs = np.vectorize(mpmath.log, otypes=[object])(p)
        loss = -(logs * t).sum() / n
        return {"loss": np.array([loss], dtype=object), "dx": (p - t) / n}

    yield _variant(predict, where="loss and dx")


# ----------------------------------------------------------------------------- attention


class _Cache:
    """Stages that keep the attention's intermediates, as Floats, by stem."""

    def __init__(self) -> None:
        self.cache: dict[str, list[Tensor]] = {}

    def __call__(self, stem: str, values: Sequence[Tensor], **_: Any) -> list[Tensor]:
        self.cache[stem] = [_floats(v) for v in values]
        return self.cache[stem]


def _floats(t: Tensor) -> Tensor:
    return tensor(t.shape, lambda i: _float(t[i]))


def _float(value: Any) -> Float:
    return Float(value.evalf(PRECISION + GUARD), PRECISION + GUARD)


def _attention(
    case: Case,
    sizes: Sizes,
    causal: bool,
    scale: Expr,
    gradient: SoftmaxGradient = softmax_backward,
    masked_p: bool = False,
) -> dict[str, np.ndarray]:
    """dx, dWq, dWk, dWv of a backward with the given scale and softmax gradient; with
    ``masked_p``, of the forward that masks the full softmax's weights after it."""
    v = case.values
    xs, ups = list(v["x"]), list(v["dout"])
    params = {k: v[k] for k in ("Wq", "Wk", "Wv")}
    stages, config = _Cache(), {"dim": one(sizes, "d"), "causal": causal and not masked_p}
    LAYERS["attention"].forward_batch(config, xs, params, stages)
    cache = stages.cache
    if masked_p:  # the mask after the softmax: the cached weights are masked, not renormalised
        mask = tensor(cache["P"][0].shape, lambda i: Integer(int(i[1] <= i[0])))
        full = iter(cache["P"])
        cache = {**cache, "P": [p * mask for p in cache["P"]]}

        def gradient(p: Tensor, dp: Tensor) -> Tensor:
            return softmax_backward(next(full), dp * mask)

    dxs, grads = backward_batch(xs, params, ups, cache, _floats(np.array([scale]))[0], gradient)
    numbers = {"dx": np.array(dxs, dtype=object), **{f"d{k}": g for k, g in grads.items()}}
    return {k: mp_array(_floats(a)) for k, a in numbers.items()}


def _attention_predict(sizes: Sizes, **options: Any) -> Predict:
    causal = bool(one(sizes, "causal"))
    scale = options.pop("scale", 1 / sqrt(one(sizes, "d")))
    return lambda case: _attention(case, sizes, causal, scale, **options)


@mistake(
    "attention-missing-scale-backward",
    "the 1/sqrt(d) of the scores left out of the backward pass: dQ = dS K and dK = dS^T Q, "
    "sqrt(d) times too large",
    ("attention",),
)
def _missing_scale(kind: Kind, sizes: Sizes) -> Iterator[Variant]:
    if one(sizes, "d") > 1:
        yield _variant(_attention_predict(sizes, scale=Integer(1)), where="dx, dWq and dWk")


@mistake(
    "attention-mask-after-softmax",
    "the causal mask applied after the softmax (the future steps' weights zeroed, the rows "
    "not renormalised), where it belongs before it (scores of j > i set to -inf)",
    ("attention",),
)
def _mask_after_softmax(kind: Kind, sizes: Sizes) -> Iterator[Variant]:
    if one(sizes, "causal") and one(sizes, "T") > 1:
        yield _variant(_attention_predict(sizes, masked_p=True), where="the gradients")


@mistake(
    "softmax-jacobian-missing-rowsum",
    "dS = P * dP: the softmax Jacobian cut to its diagonal, without the term -P * rowsum(dP * P)",
    ("attention",),
)
def _missing_rowsum(kind: Kind, sizes: Sizes) -> Iterator[Variant]:
    def diagonal(p: Tensor, dp: Tensor) -> Tensor:
        return p * dp

    yield _variant(_attention_predict(sizes, gradient=diagonal), where="dx, dWq and dWk")
