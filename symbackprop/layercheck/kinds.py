"""The kinds ``check-layer`` knows: one registry entry per CS231n layer-function pair.

An entry names the CS231n functions and their signatures, the sizes of ``--shape`` with their
defaults, the arrays to draw, how to call the user's forward, and the exact forward in SymPy,
built from the symbolic side's own definitions (:mod:`symbackprop.layers` through
``forward_batch``, :mod:`symbackprop.activations`, :mod:`symbackprop.losses`). The gradients
come from the chain rule (:mod:`symbackprop.layercheck.exact`), never from a formula here.

Adding a kind is one ``register(Kind(...))`` call at the bottom of this module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from sympy import Add, Expr, Rational

from ..activations import ACTIVATIONS
from ..errors import SymbackpropError
from ..layers import LAYERS
from ..layers.base import Shape, Tensor
from ..layers.normalization import EPS
from ..losses import LOSSES, multiclass_hinge

#: Sizes by name: a single size is a 1-tuple; ``D=2x3`` is (2, 3).
Sizes = Mapping[str, tuple[int, ...]]
Arrays = Mapping[str, np.ndarray]
#: Drawn values are integers over this denominator: exact in float64 and as rationals.
DENOMINATOR = 16


@dataclass(frozen=True)
class Size:
    """One ``--shape`` name: its default, its least value, and whether ``AxB`` is allowed."""

    name: str
    default: tuple[int, ...]
    meaning: str
    minimum: int = 1
    dims: bool = False


@dataclass(frozen=True)
class Kind:
    """One layer kind of ``check-layer``.

    ``inputs`` gives the shapes of the drawn arrays (``x``, ``w``, ``b``, ...); ``arguments``
    the positional arguments of the user's forward; ``symbolic`` the exact output tensor (or,
    for a loss, the scalar loss) from symbol arrays named like ``inputs`` (plus ``t``, the
    one-hot targets, for a loss); ``gradients`` the inputs whose gradients the backward returns,
    in its order. ``edge`` turns a drawn point (integer numerators) into one on the kind's
    conventions (ReLU at 0, tied pooling maxima); ``observed`` reads data from the user's
    forward output (dropout's mask) that ``symbolic`` takes as more symbol arrays, of the
    shapes ``observes`` gives; ``avoid`` lists, per drawn array, numerators never drawn (a
    dropout input never exactly 0, a batch-norm gamma never 0 or 1).
    """

    name: str
    forward: str
    backward: str | None
    signatures: tuple[str, ...]
    sizes: tuple[Size, ...]
    inputs: Callable[[Sizes], dict[str, Shape]]
    arguments: Callable[[Arrays, Sizes], tuple[Any, ...]]
    symbolic: Callable[[Sizes, Mapping[str, Tensor]], Any]
    gradients: tuple[str, ...]
    loss: bool = False
    validate: Callable[[Sizes], str | None] = lambda sizes: None
    edge: Callable[[np.random.Generator, dict[str, np.ndarray], Sizes], str] | None = None
    observed: Callable[[Arrays, np.ndarray], dict[str, np.ndarray]] | None = None
    observes: Callable[[Sizes], dict[str, Shape]] = lambda sizes: {}
    avoid: tuple[tuple[str, tuple[int, ...]], ...] = ()
    summary: str = ""
    #: The shape of the word indices the user's forward gets as ``x``, and the vocabulary size
    #: V. The exact side sees them one-hot, as the 0/1 symbols ``onehot`` of shape (..., V).
    words: Callable[[Sizes], tuple[Shape, int]] | None = None
    #: Whether the loss is over time steps, with a drawn 0/1 ``mask`` of the labels' shape
    #: folded into ``t``.
    masked: bool = False
    #: ``symbolic`` with its intermediates named (Stages, as a layer's ``forward_batch``):
    #: the exact side then differentiates and evaluates one stage at a time.
    staged: Callable[[Sizes, Mapping[str, Tensor], Any], Any] | None = None
    #: The forward's outputs, returned before its cache (CS231n's lstm_step_forward returns
    #: next_h, next_c). The backward gets one upstream gradient per output, ``d`` + its name,
    #: in this order; with more than one, ``symbolic`` returns a tuple of their tensors.
    outputs: tuple[str, ...] = ("out",)

    @property
    def upstreams(self) -> tuple[str, ...]:
        """The names of the upstream gradients, ``dout`` or ``dnext_h`` and ``dnext_c``."""
        return tuple(f"d{name}" for name in self.outputs)


KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    """Add ``kind`` to the registry."""
    KINDS[kind.name] = kind
    return kind


def lookup(name: str) -> Kind:
    """The kind called ``name``; an error lists the kinds."""
    load_all()
    if name not in KINDS:
        raise SymbackpropError(
            f"check-layer: unknown kind '{name}'; expected one of: {', '.join(sorted(KINDS))}"
        )
    return KINDS[name]


def load_all() -> None:
    """Import the modules that register more kinds and mistakes (sequence, recurrent)."""
    from . import recurrent_kinds, recurrent_mistakes, sequence_kinds, sequence_mistakes  # noqa: F401


def one(sizes: Sizes, name: str) -> int:
    """A single size."""
    return sizes[name][0]


def batch(
    name: str, config: Mapping[str, Any], xs: Tensor, params: Mapping[str, Tensor]
) -> Tensor:
    """The layer kind ``name``'s ``forward_batch`` on the samples of ``xs``, stacked again."""
    outs = LAYERS[name].forward_batch(config, [xs[n] for n in range(xs.shape[0])], params)
    return np.array(outs, dtype=object)


def _elementwise(activation: str, xs: Tensor) -> Tensor:
    flat = ACTIVATIONS[activation].apply(list(xs.ravel()), {})
    return np.array(flat, dtype=object).reshape(xs.shape)


def _per_sample_mean(losses: list[Expr]) -> Expr:
    return Rational(1, len(losses)) * Add(*losses)


# ----------------------------------------------------------------------------- the entries

N = Size("N", (4,), "batch size")


def _affine_symbolic(sizes: Sizes, s: Mapping[str, Tensor]) -> Tensor:
    flat = s["x"].reshape(s["x"].shape[0], -1)  # CS231n reshapes (N, d1..dk) to (N, D)
    config = {"units": one(sizes, "M")}
    return batch("dense", config, flat, {"W": s["w"].T, "b": s["b"]})  # dense's W is (M, D)


register(
    Kind(
        "affine",
        "affine_forward",
        "affine_backward",
        (
            "affine_forward(x, w, b) -> (out, cache)",
            "affine_backward(dout, cache) -> (dx, dw, db)",
        ),
        (
            N,
            Size("D", (2, 3), "input dimensions d1xd2x...", dims=True),
            Size("M", (3,), "outputs"),
        ),
        lambda z: {"x": (*z["N"], *z["D"]), "w": (int(np.prod(z["D"])), *z["M"]), "b": z["M"]},
        lambda a, z: (a["x"], a["w"], a["b"]),
        _affine_symbolic,
        ("x", "w", "b"),
        summary="out = x.reshape(N, D) @ w + b",
    )
)


def _relu_edge(rng: np.random.Generator, ints: dict[str, np.ndarray], sizes: Sizes) -> str:
    ints["x"][rng.random(ints["x"].shape) < 0.4] = 0
    return "x exactly 0 in places, where ReLU'(0) = 0 as in dout * (x > 0)"


register(
    Kind(
        "relu",
        "relu_forward",
        "relu_backward",
        ("relu_forward(x) -> (out, cache)", "relu_backward(dout, cache) -> dx"),
        (N, Size("D", (5,), "feature dimensions d1xd2x...", dims=True)),
        lambda z: {"x": (*z["N"], *z["D"])},
        lambda a, z: (a["x"],),
        lambda z, s: _elementwise("relu", s["x"]),
        ("x",),
        edge=_relu_edge,
        summary="out = max(0, x); ReLU'(0) = 0",
    )
)


def _conv_validate(z: Sizes) -> str | None:
    pad, stride = one(z, "pad"), one(z, "stride")
    for n, k in (("H", "HH"), ("W", "WW")):
        size = one(z, n) + 2 * pad
        if one(z, k) > size or (size - one(z, k)) % stride:
            return (
                f"{k}={one(z, k)} with stride={stride} does not tile {n} + 2 pad = {size}: "
                f"({size} - {one(z, k)}) must be a multiple of {stride}"
            )
    return None


def conv_config(z: Sizes) -> dict[str, Any]:
    """The ``conv2d`` layer's options for the sizes."""
    pad, stride = one(z, "pad"), one(z, "stride")
    return {
        "filters": one(z, "F"),
        "kernel": (one(z, "HH"), one(z, "WW")),
        "stride": (stride, stride),
        "padding": (pad, pad),
    }


def _conv_symbolic(z: Sizes, s: Mapping[str, Tensor]) -> Tensor:
    return batch("conv2d", conv_config(z), s["x"], {"W": s["w"], "b": s["b"]})


register(
    Kind(
        "conv",
        "conv_forward_naive",
        "conv_backward_naive",
        (
            'conv_forward_naive(x, w, b, {"stride": stride, "pad": pad}) -> (out, cache)',
            "conv_backward_naive(dout, cache) -> (dx, dw, db)",
        ),
        (
            Size("N", (2,), "batch size"),
            Size("C", (3,), "input channels"),
            Size("H", (5,), "input height"),
            Size("W", (5,), "input width"),
            Size("F", (2,), "filters"),
            Size("HH", (3,), "kernel height"),
            Size("WW", (3,), "kernel width"),
            Size("stride", (1,), "stride"),
            Size("pad", (1,), "zero padding on every side", minimum=0),
        ),
        lambda z: {
            "x": (*z["N"], *z["C"], *z["H"], *z["W"]),
            "w": (*z["F"], *z["C"], *z["HH"], *z["WW"]),
            "b": z["F"],
        },
        lambda a, z: (a["x"], a["w"], a["b"], {"stride": one(z, "stride"), "pad": one(z, "pad")}),
        _conv_symbolic,
        ("x", "w", "b"),
        validate=_conv_validate,
        summary="cross-correlation of the zero-padded x with each kernel, plus its bias",
    )
)


def pool_config(z: Sizes) -> dict[str, Any]:
    """The ``max_pool2d`` layer's options for the sizes."""
    stride = one(z, "stride")
    return {"size": (one(z, "pool_height"), one(z, "pool_width")), "stride": (stride, stride)}


def _pool_validate(z: Sizes) -> str | None:
    stride = one(z, "stride")
    for n, k in (("H", "pool_height"), ("W", "pool_width")):
        if one(z, k) > one(z, n) or (one(z, n) - one(z, k)) % stride:
            return (
                f"{k}={one(z, k)} with stride={stride} does not tile {n}={one(z, n)}: "
                f"({one(z, n)} - {one(z, k)}) must be a multiple of {stride}"
            )
    return None


def _pool_edge(rng: np.random.Generator, ints: dict[str, np.ndarray], sizes: Sizes) -> str:
    """Ties in most windows: the maximum repeated once, or the whole window one value."""
    x, (ph, pw), (sh, sw) = ints["x"], *pool_config(sizes).values()
    rows, cols = (x.shape[2] - ph) // sh + 1, (x.shape[3] - pw) // sw + 1
    for n, c, i, j in np.ndindex(x.shape[0], x.shape[1], rows, cols):
        window = x[n, c, i * sh : i * sh + ph, j * sw : j * sw + pw]
        style = (n + c + i + j) % 3
        if style == 0:
            window[...] = window.max()
        elif style == 1 and window.size > 1:
            flat = window.reshape(-1)
            first, second = rng.choice(window.size, 2, replace=False)
            flat[first] = flat[second] = window.max() + 1
    return "tied maxima in most windows, where dout goes to the first maximum (row-major) only"


register(
    Kind(
        "max_pool",
        "max_pool_forward_naive",
        "max_pool_backward_naive",
        (
            'max_pool_forward_naive(x, {"pool_height": ph, "pool_width": pw, '
            '"stride": stride}) -> (out, cache)',
            "max_pool_backward_naive(dout, cache) -> dx",
        ),
        (
            Size("N", (2,), "batch size"),
            Size("C", (3,), "channels"),
            Size("H", (4,), "input height"),
            Size("W", (4,), "input width"),
            Size("pool_height", (2,), "window height"),
            Size("pool_width", (2,), "window width"),
            Size("stride", (2,), "stride"),
        ),
        lambda z: {"x": (*z["N"], *z["C"], *z["H"], *z["W"])},
        lambda a, z: (
            a["x"],
            {k: one(z, k) for k in ("pool_height", "pool_width", "stride")},
        ),
        lambda z, s: batch("max_pool2d", pool_config(z), s["x"], {}),
        ("x",),
        validate=_pool_validate,
        edge=_pool_edge,
        summary="the maximum of each window; its gradient goes to the first maximum (row-major)",
    )
)

CLASSES = (N, Size("C", (5,), "classes"))


def _softmax_symbolic(z: Sizes, s: Mapping[str, Tensor]) -> Expr:
    softmax, cross_entropy = ACTIVATIONS["softmax"], LOSSES["cross_entropy"]
    return _per_sample_mean(
        [
            cross_entropy.per_sample(softmax.apply(list(row), {}), list(target), {})
            for row, target in zip(s["x"], s["t"], strict=True)
        ]
    )


register(
    Kind(
        "softmax_loss",
        "softmax_loss",
        None,
        ("softmax_loss(x, y) -> (loss, dx)",),
        CLASSES,
        lambda z: {"x": (*z["N"], *z["C"])},
        lambda a, z: (a["x"], a["y"]),
        _softmax_symbolic,
        ("x",),
        loss=True,
        summary="the mean over the batch of -log softmax(x_i)[y_i]",
    )
)


def _svm_symbolic(z: Sizes, s: Mapping[str, Tensor]) -> Expr:
    return _per_sample_mean(
        [multiclass_hinge(list(r), list(t)) for r, t in zip(s["x"], s["t"], strict=True)]
    )


def _svm_edge(rng: np.random.Generator, ints: dict[str, np.ndarray], sizes: Sizes) -> str:
    x, y = ints["x"], ints["y"]
    for n in range(x.shape[0]):
        others = [j for j in range(x.shape[1]) if j != y[n]]
        x[n, others[n % len(others)]] = x[n, y[n]] - DENOMINATOR  # a margin of exactly 0
    return "a margin of exactly 0 in each row, which counts as inactive (margins > 0)"


register(
    Kind(
        "svm_loss",
        "svm_loss",
        None,
        ("svm_loss(x, y) -> (loss, dx)",),
        CLASSES,
        lambda z: {"x": (*z["N"], *z["C"])},
        lambda a, z: (a["x"], a["y"]),
        _svm_symbolic,
        ("x",),
        loss=True,
        edge=_svm_edge,
        summary="the mean over the batch of sum_{j != y_i} max(0, x_ij - x_iy_i + 1)",
    )
)

# ----------------------------------------------------------------------------- normalisation

#: The ``eps`` the user's forward gets (CS231n's default); the exact forward takes 1/100000.
EPS_ARGUMENT = 1e-5
FEATURES = (N, Size("D", (5,), "features"))


def _normalization_symbolic(name: str, config: dict[str, Any]) -> Callable[..., Tensor]:
    def symbolic(z: Sizes, s: Mapping[str, Tensor]) -> Tensor:
        return batch(name, config, s["x"], {"gamma": s["gamma"], "beta": s["beta"]})

    return symbolic


def _scale_and_shift(z: Sizes) -> dict[str, Shape]:
    return {"x": (*z["N"], *z["D"]), "gamma": z["D"], "beta": z["D"]}


register(
    Kind(
        "batchnorm",
        "batchnorm_forward",
        "batchnorm_backward",
        (
            'batchnorm_forward(x, gamma, beta, {"mode": "train", "eps": 1e-5}) -> (out, cache)',
            "batchnorm_backward(dout, cache) -> (dx, dgamma, dbeta)",
        ),
        FEATURES,
        _scale_and_shift,
        lambda a, z: (a["x"], a["gamma"], a["beta"], {"mode": "train", "eps": EPS_ARGUMENT}),
        _normalization_symbolic("batchnorm", {"eps": EPS, "unbiased": False}),
        ("x", "gamma", "beta"),
        validate=lambda z: "batch statistics need N >= 2" if one(z, "N") < 2 else None,
        avoid=(("gamma", (0, DENOMINATOR)),),
        summary="training mode: each feature normalised by its batch mean and variance (1/N), "
        "out = gamma * xhat + beta",
    )
)

register(
    Kind(
        "layernorm",
        "layernorm_forward",
        "layernorm_backward",
        (
            'layernorm_forward(x, gamma, beta, {"eps": 1e-5}) -> (out, cache)',
            "layernorm_backward(dout, cache) -> (dx, dgamma, dbeta)",
        ),
        FEATURES,
        _scale_and_shift,
        lambda a, z: (a["x"], a["gamma"], a["beta"], {"eps": EPS_ARGUMENT}),
        _normalization_symbolic("layernorm", {"eps": EPS}),
        ("x", "gamma", "beta"),
        validate=lambda z: "layer statistics need D >= 2" if one(z, "D") < 2 else None,
        avoid=(("gamma", (0, DENOMINATOR)),),
        summary="each sample normalised by the mean and variance (1/D) of its features, "
        "out = gamma * xhat + beta",
    )
)

#: Dropout's keep probability (CS231n's p: a unit is kept with probability p).
KEEP = Rational(3, 4)


def _dropout_arguments(a: Arrays, z: Sizes) -> tuple[Any, ...]:
    """x and dropout_param, with a seed that differs from point to point."""
    seed = int(np.abs(a["x"] * DENOMINATOR).sum()) % 2**31
    return a["x"], {"mode": "train", "p": float(KEEP), "seed": seed}


def _dropout_observed(a: Arrays, out: np.ndarray) -> dict[str, np.ndarray]:
    """The mask: where out is 0 and x (never 0) is not, the unit was dropped."""
    return {"mask": (out != 0) | (a["x"] == 0)}


def _dropout_symbolic(z: Sizes, s: Mapping[str, Tensor]) -> Tensor:
    return batch("dropout", {"p": KEEP, "mask": s["mask"]}, s["x"], {})


register(
    Kind(
        "dropout",
        "dropout_forward",
        "dropout_backward",
        (
            'dropout_forward(x, {"mode": "train", "p": 0.75, "seed": seed}) -> (out, cache)',
            "dropout_backward(dout, cache) -> dx",
        ),
        (N, Size("D", (5,), "feature dimensions d1xd2x...", dims=True)),
        lambda z: {"x": (*z["N"], *z["D"])},
        _dropout_arguments,
        _dropout_symbolic,
        ("x",),
        observed=_dropout_observed,
        observes=lambda z: {"mask": (*z["N"], *z["D"])},
        avoid=(("x", (0,)),),
        summary="inverted dropout, p = 3/4 the keep probability: out = mask * x / p, the mask "
        "read off your out",
    )
)
