"""The catalogue of layer mistakes: one registry entry per mistake a layer's backward makes.

An entry is a fixed identifier (shared with the dense catalogue where the meaning is the same:
``sign``, ``scale``, ``transposed``, ``bias-gradient``, ``missing-activation-derivative``),
one sentence on what it is, the kinds it applies to, and its variants: each computes, exactly,
the arrays a backward with that mistake returns at a point, from the point's exact inputs and
the exact gradients (through the symbolic layers' own textbook passes where one is needed).

Adding a mistake is one ``@mistake(...)`` function at the bottom of this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import mpmath
import numpy as np
from sympy import Float, Rational

from ..layers import LAYERS
from ..layers.base import Tensor
from ..layers.normalization import EPS
from .kinds import Kind, Sizes, conv_config, one, pool_config


@dataclass(frozen=True, eq=False)
class Case:
    """One point: the exact inputs (rationals: ``x``, ``w``, ``dout``, ``t``) and the exact
    results (mpmath numbers: ``out`` or ``loss``, ``dx``, ``dw``, ...)."""

    values: dict[str, Tensor]
    exact: dict[str, np.ndarray]


Predict = Callable[[Case], dict[str, np.ndarray]]


@dataclass(frozen=True)
class Variant:
    """One concrete mistake: the detail that names it, and the arrays it predicts."""

    detail: tuple[tuple[str, str], ...]
    predict: Predict


@dataclass(frozen=True)
class LayerMistake:
    """A catalogue entry: identifier, summary, kinds (None: every kind), variants."""

    id: str
    summary: str
    kinds: tuple[str, ...] | None
    variants: Callable[[Kind, Sizes], Iterator[Variant]]


LAYER_MISTAKES: dict[str, LayerMistake] = {}


def mistake(id: str, summary: str, kinds: tuple[str, ...] | None = None) -> Callable:
    """Register the decorated variants function as the catalogue entry ``id``."""

    def register(variants: Callable[[Kind, Sizes], Iterator[Variant]]) -> Callable:
        LAYER_MISTAKES[id] = LayerMistake(id, summary, kinds, variants)
        return variants

    return register


def _variant(predict: Predict, **detail: Any) -> Variant:
    return Variant(tuple((k, str(v)) for k, v in detail.items()), predict)


def mp_array(array: np.ndarray) -> np.ndarray:
    """SymPy numbers as mpmath numbers (call inside ``mpmath.workdps``)."""
    out = np.empty(array.shape, dtype=object)
    for i in np.ndindex(*array.shape):
        v = array[i]
        if isinstance(v, Rational):
            out[i] = mpmath.mpf(int(v.p)) / int(v.q)
        else:
            out[i] = mpmath.mpf(v._mpf_) if isinstance(v, Float) else mpmath.mpf(v)
    return out


def _judged(kind: Kind) -> list[str]:
    return (["loss"] if kind.loss else []) + [f"d{g}" for g in kind.gradients]


def _each(kind: Kind, change: Callable[[np.ndarray], np.ndarray]) -> Predict:
    return lambda case: {name: change(case.exact[name]) for name in _judged(kind)}


def _per_sample(
    layer: str, config: dict[str, Any], case: Case, params: dict[str, Tensor], key: str = "x"
) -> np.ndarray:
    """A symbolic layer's textbook backward of every sample (exact rationals)."""
    kind, x, dout = LAYERS[layer], case.values["x"], case.values["dout"]
    grads = [kind.textbook(config, x[n], params, dout[n]) for n in range(x.shape[0])]
    return mp_array(np.array([g[key] for g in grads], dtype=object))


# ----------------------------------------------------------------------------- every kind


@mistake("sign", "the gradient negated: dout or the loss's derivative taken with the wrong sign")
def _sign(kind: Kind, sizes: Sizes) -> Iterator[Variant]:
    yield _variant(_each(kind, lambda a: -a), where="the whole gradient")


def _factors(sizes: Sizes) -> list[tuple[str, Rational]]:
    n = one(sizes, "N")
    named = [(f"N = {n}", Rational(n)), (f"1/N = 1/{n}", Rational(1, n))] if n > 1 else []
    named += [(t, Rational(t)) for t in ("2", "1/2")]
    seen, result = {Rational(1)}, []
    for text, value in named + [(f"-{t}", -v) for t, v in named]:
        if value not in seen:
            seen.add(value)
            result.append((text, value))
    return result


@mistake(
    "scale",
    "the gradient multiplied by a constant: the batch mean taken twice or not at all, or a "
    "factor 2 of a square",
)
def _scale(kind: Kind, sizes: Sizes) -> Iterator[Variant]:
    for text, value in _factors(sizes):
        c = mpmath.mpf(int(value.p)) / int(value.q)
        yield _variant(_each(kind, _times(c)), factor=text)


def _times(c: mpmath.mpf) -> Callable[[np.ndarray], np.ndarray]:
    return lambda a: a * c


@mistake("transposed", "the right numbers in the transposed shape: x.T @ dout written dout.T @ x")
def _transposed(kind: Kind, sizes: Sizes) -> Iterator[Variant]:
    def predict(case: Case) -> dict[str, np.ndarray]:
        return {k: case.exact[k].T for k in _judged(kind) if case.exact[k].ndim == 2}

    yield _variant(predict, where="the returned gradient")


# ----------------------------------------------------------------------------- affine and conv


@mistake(
    "bias-gradient",
    "the bias gradient not the sum of dout over the batch (and positions): a mean instead of "
    "a sum",
    ("affine", "conv"),
)
def _bias_gradient(kind: Kind, sizes: Sizes) -> Iterator[Variant]:
    n = one(sizes, "N")
    yield _variant(lambda case: {"db": case.exact["db"] / n}, where="mean over the batch")
    if kind.name == "conv":
        yield _variant(
            lambda case: {"db": case.exact["db"] / case.values["dout"][0, 0].size / n},
            where="mean over the batch and positions",
        )


@mistake(
    "affine-dx-not-reshaped",
    "dx = dout @ w.T returned in the (N, D) shape of the flattened x, not reshaped to x's shape",
    ("affine",),
)
def _not_reshaped(kind: Kind, sizes: Sizes) -> Iterator[Variant]:
    if len(sizes["D"]) > 1:
        yield _variant(
            lambda case: {"dx": case.exact["dx"].reshape(one(sizes, "N"), -1)},
            where="dx",
        )


@mistake(
    "conv-kernel-not-rotated",
    "dx as the full convolution of dout with the kernel as it is, where the kernel rotated "
    "by 180 degrees belongs (forward cross-correlation and backward convolution mixed up)",
    ("conv",),
)
def _kernel_not_rotated(kind: Kind, sizes: Sizes) -> Iterator[Variant]:
    def predict(case: Case) -> dict[str, np.ndarray]:
        flipped = {"W": case.values["w"][:, :, ::-1, ::-1], "b": case.values["b"]}
        return {"dx": _per_sample("conv2d", conv_config(sizes), case, flipped)}

    yield _variant(predict, where="dx")


@mistake(
    "conv-kernel-gradient-rotated",
    "dw rotated by 180 degrees: the kernel gradient written as a convolution, not a "
    "cross-correlation",
    ("conv",),
)
def _kernel_gradient_rotated(kind: Kind, sizes: Sizes) -> Iterator[Variant]:
    yield _variant(lambda case: {"dw": case.exact["dw"][:, :, ::-1, ::-1]}, where="dw")


@mistake(
    "conv-dx-missing-padding-crop",
    "dx of the zero-padded input returned, (N, C, H + 2 pad, W + 2 pad), without cropping the "
    "padding off",
    ("conv",),
)
def _missing_crop(kind: Kind, sizes: Sizes) -> Iterator[Variant]:
    pad = one(sizes, "pad")
    if not pad:
        return
    unpadded = {**conv_config(sizes), "padding": (0, 0)}

    def predict(case: Case) -> dict[str, np.ndarray]:
        x = case.values["x"]
        padded = np.zeros((x.shape[0], x.shape[1], x.shape[2] + 2 * pad, x.shape[3] + 2 * pad))
        padded = padded.astype(object) * Rational(0)
        padded[:, :, pad:-pad, pad:-pad] = x
        params = {"W": case.values["w"], "b": case.values["b"]}
        wide = Case({**case.values, "x": padded}, case.exact)
        return {"dx": _per_sample("conv2d", unpadded, wide, params)}

    yield _variant(predict, where="dx")


# ----------------------------------------------------------------------------- relu and pooling


@mistake(
    "missing-activation-derivative",
    "ReLU'(x) treated as 1: dout passed through unmasked",
    ("relu",),
)
def _missing_relu_prime(kind: Kind, sizes: Sizes) -> Iterator[Variant]:
    yield _variant(lambda case: {"dx": mp_array(case.values["dout"])}, where="dx")


def _masked(case: Case, keep: Callable[[Any], bool]) -> np.ndarray:
    x, dout = case.values["x"], mp_array(case.values["dout"])
    return np.array(
        [d if keep(v) else 0 * d for v, d in zip(x.ravel(), dout.ravel(), strict=True)]
    ).reshape(x.shape)


@mistake(
    "relu-prime-at-zero",
    "ReLU'(0) taken as 1 (dout * (x >= 0)), where CS231n's dout * (x > 0) takes 0",
    ("relu",),
)
def _relu_at_zero(kind: Kind, sizes: Sizes) -> Iterator[Variant]:
    yield _variant(lambda case: {"dx": _masked(case, lambda v: v >= 0)}, where="dx")


@mistake(
    "relu-output-not-mask",
    "dx = dout * out: the cached output multiplied in, where its mask out > 0 belongs",
    ("relu",),
)
def _relu_output(kind: Kind, sizes: Sizes) -> Iterator[Variant]:
    yield _variant(
        lambda case: {"dx": mp_array(case.values["dout"]) * case.exact["out"]}, where="dx"
    )


@mistake(
    "pool-all-maxima",
    "dout routed to every maximum of a window on a tie, where it goes to the first (row-major) "
    "only: a mask x == max instead of the argmax",
    ("max_pool",),
)
def _all_maxima(kind: Kind, sizes: Sizes) -> Iterator[Variant]:
    config = pool_config(sizes)
    (ph, pw), (sh, sw) = config["size"], config["stride"]

    def predict(case: Case) -> dict[str, np.ndarray]:
        x, dout = case.values["x"], mp_array(case.values["dout"])
        dx = np.zeros(x.shape, dtype=object) * mpmath.mpf(0)
        for n, c, i, j in np.ndindex(*dout.shape):
            window = x[n, c, i * sh : i * sh + ph, j * sw : j * sw + pw]
            top = max(window.ravel())
            for p, q in np.ndindex(ph, pw):
                if window[p, q] == top:
                    dx[n, c, i * sh + p, j * sw + q] += dout[n, c, i, j]
        return {"dx": dx}

    yield _variant(predict, where="dx")


@mistake(
    "pool-average",
    "dout spread evenly over each window, as average pooling's backward does",
    ("max_pool",),
)
def _pool_average(kind: Kind, sizes: Sizes) -> Iterator[Variant]:
    yield _variant(
        lambda case: {"dx": _per_sample("avg_pool2d", pool_config(sizes), case, {})}, where="dx"
    )


# ----------------------------------------------------------------------------- losses


@mistake(
    "softmax-target-not-subtracted",
    "dx = softmax(x) / N: the one-hot target never subtracted from the probabilities",
    ("softmax_loss",),
)
def _target_not_subtracted(kind: Kind, sizes: Sizes) -> Iterator[Variant]:
    n = one(sizes, "N")
    yield _variant(
        lambda case: {"dx": case.exact["dx"] + mp_array(case.values["t"]) / n}, where="dx"
    )


def _counts(case: Case, n: int) -> np.ndarray:
    """The number of positive margins of each row, from the exact dx."""
    t = mp_array(case.values["t"])
    return -(case.exact["dx"] * t).sum(axis=1) * n


@mistake(
    "svm-margin-count",
    "the correct class's entry of dx, or its margin, counted wrongly: -1 instead of minus the "
    "number of positive margins, or the correct class's own margin of 1 counted",
    ("svm_loss",),
)
def _margin_count(kind: Kind, sizes: Sizes) -> Iterator[Variant]:
    n = one(sizes, "N")

    def with_correct(value: Callable[[Any], Any]) -> Predict:
        def predict(case: Case) -> dict[str, np.ndarray]:
            t, dx = mp_array(case.values["t"]), case.exact["dx"]
            fixed = [value(c) / n for c in _counts(case, n)]
            return {"dx": dx * (1 - t) + t * np.array(fixed, dtype=object)[:, None]}

        return predict

    yield _variant(with_correct(lambda c: -1 if c > 0 else 0), where="dx", correct_class="-1")
    yield _variant(with_correct(lambda c: 1 - c), where="dx", correct_class="1 - count")
    yield _variant(
        lambda case: {"loss": case.exact["loss"] + 1}, where="loss", margins="j = y_i included"
    )


@mistake(
    "svm-margin-at-zero",
    "a margin of exactly 0 counted as active (margins >= 0), where CS231n's margins > 0 "
    "does not count it",
    ("svm_loss",),
)
def _margin_at_zero(kind: Kind, sizes: Sizes) -> Iterator[Variant]:
    n = one(sizes, "N")

    def predict(case: Case) -> dict[str, np.ndarray]:
        x, t = case.values["x"], case.values["t"]
        dx = case.exact["dx"].copy()
        for i, j in np.ndindex(*x.shape):
            correct = sum(x[i, k] * t[i, k] for k in range(x.shape[1]))
            if t[i, j] == 0 and x[i, j] - correct + 1 == 0:
                dx[i, j] += mpmath.mpf(1) / n
                dx[i, list(t[i]).index(1)] -= mpmath.mpf(1) / n
        return {"dx": dx}

    yield _variant(predict, where="dx")


# ----------------------------------------------------------------------------- normalisation


def _normalized_dx(
    case: Case, axis: int, gamma: bool = True, d: int = 0, mean: bool = True, var: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """dx and xhat of x normalised over ``axis``, from the chain rule's staged backward
    gamma / std (g - mean(g) - xhat sum(g xhat) / d) with d = m by default; ``gamma``, ``mean``
    and ``var`` switch off gamma (as 1) and the paths through the mean and the variance."""
    x, g = mp_array(case.values["x"]), mp_array(case.values["dout"])
    m = x.shape[axis]
    mu = x.sum(axis=axis, keepdims=True) / m
    eps = mpmath.mpf(int(EPS.p)) / int(EPS.q)
    std = np.vectorize(mpmath.sqrt, otypes=[object])(
        ((x - mu) ** 2).sum(axis, keepdims=True) / m + eps
    )
    xhat = (x - mu) / std
    g = g * mp_array(case.values["gamma"]) if gamma else g
    dx = g - (g.sum(axis, keepdims=True) / m if mean else 0)
    dx = dx - (xhat * (g * xhat).sum(axis, keepdims=True) / (d or m) if var else 0)
    return dx / std, xhat


def _batchnorm_dx(**switches: Any) -> Predict:
    return lambda case: {"dx": _normalized_dx(case, 0, **switches)[0]}


@mistake(
    "batchnorm-missing-gamma",
    "dx computed as if gamma were 1: dout never multiplied by gamma on its way back to xhat",
    ("batchnorm",),
)
def _missing_gamma(kind: Kind, sizes: Sizes) -> Iterator[Variant]:
    yield _variant(_batchnorm_dx(gamma=False), where="dx")


@mistake(
    "batchnorm-bessel",
    "the variance's derivative with 1/(N-1) (Bessel's correction) where the forward's "
    "variance has 1/N",
    ("batchnorm",),
)
def _bessel(kind: Kind, sizes: Sizes) -> Iterator[Variant]:
    n = one(sizes, "N")
    if n > 1:
        yield _variant(_batchnorm_dx(d=n - 1), where="dx")


@mistake(
    "batchnorm-missing-mean-path",
    "the batch mean treated as a constant: dx without the term -mean(dout * gamma) that the "
    "mean's dependence on x contributes",
    ("batchnorm",),
)
def _missing_mean_path(kind: Kind, sizes: Sizes) -> Iterator[Variant]:
    yield _variant(_batchnorm_dx(mean=False), where="dx")


@mistake(
    "batchnorm-missing-variance-path",
    "the batch variance treated as a constant: dx without the term through sigma^2, "
    "-xhat mean(dout * gamma * xhat)",
    ("batchnorm",),
)
def _missing_variance_path(kind: Kind, sizes: Sizes) -> Iterator[Variant]:
    yield _variant(_batchnorm_dx(var=False), where="dx")


@mistake(
    "layernorm-over-batch",
    "layer norm's statistics taken over the batch axis (each feature over the samples, as "
    "batch norm does) instead of over each sample's features",
    ("layernorm",),
)
def _layernorm_over_batch(kind: Kind, sizes: Sizes) -> Iterator[Variant]:
    def predict(case: Case) -> dict[str, np.ndarray]:
        dx, xhat = _normalized_dx(case, 0)
        return {"dx": dx, "dgamma": (mp_array(case.values["dout"]) * xhat).sum(axis=0)}

    yield _variant(predict, where="dx and dgamma")


@mistake(
    "dropout-missing-scale",
    "dx = mask * dout: the inverted-dropout factor 1/p left out of the backward",
    ("dropout",),
)
def _dropout_missing_scale(kind: Kind, sizes: Sizes) -> Iterator[Variant]:
    yield _variant(
        lambda case: {"dx": mp_array(case.values["dout"]) * mp_array(case.values["mask"])},
        where="dx",
    )


def catalogue(kind: Kind) -> list[LayerMistake]:
    """The entries that apply to ``kind``, in registry order."""
    return [m for m in LAYER_MISTAKES.values() if m.kinds is None or kind.name in m.kinds]
