"""Tests for the NumPy reference of layer stacks: finite differences, hand-worked values, ties."""

import ast
import doctest
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from symbackprop import (
    reference,
    reference_layers,
    reference_norm,
    reference_recurrent,
    reference_sequence,
)
from symbackprop.reference_layers import backprop, forward, loss, max_pool_ties

Layer = Mapping[str, Any]
STEP = 1e-6
SMOOTH = 1e-4  # no ReLU input and no gap between a window's two largest values below this


def conv(
    filters: int,
    kernel: tuple[int, int] = (3, 3),
    stride: tuple[int, int] = (1, 1),
    padding: int = 0,
    activation: Any = None,
) -> Layer:
    return {
        "type": "conv2d",
        "filters": filters,
        "kernel": kernel,
        "stride": stride,
        "padding": padding,
        "activation": activation,
    }


def pool(kind: str, size: tuple[int, int], stride: tuple[int, int]) -> Layer:
    return {"type": kind, "size": size, "stride": stride}


def dense(units: int, activation: Any = None) -> Layer:
    return {"type": "dense", "units": units, "activation": activation}


FLATTEN: Layer = {"type": "flatten"}


def random_params(
    layers: Sequence[Layer], input_shape: tuple[int, ...], rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """W{n}, b{n} for every layer with parameters, walking the shapes by the textbook sizes."""
    shape, params, n = input_shape, {}, 0
    for layer in layers:
        kind = layer["type"]
        if kind == "conv2d":
            n += 1
            (kh, kw), (sh, sw), p = layer["kernel"], layer["stride"], layer["padding"]
            c, h, w = shape
            params[f"W{n}"] = rng.normal(0, 0.5, (layer["filters"], c, kh, kw))
            params[f"b{n}"] = rng.normal(0, 0.5, layer["filters"])
            shape = (layer["filters"], (h + 2 * p - kh) // sh + 1, (w + 2 * p - kw) // sw + 1)
        elif kind in ("max_pool2d", "avg_pool2d"):
            (ph, pw), (sh, sw) = layer["size"], layer["stride"]
            c, h, w = shape
            shape = (c, (h - ph) // sh + 1, (w - pw) // sw + 1)
        elif kind == "flatten":
            shape = (int(np.prod(shape)),)
        else:
            n += 1
            params[f"W{n}"] = rng.normal(0, 0.5, (layer["units"], shape[0]))
            params[f"b{n}"] = rng.normal(0, 0.5, layer["units"])
            shape = (layer["units"],)
    return params


def assert_smooth(layers: Sequence[Layer], params: Mapping[str, Any], x: np.ndarray) -> None:
    """The point is far from ReLU kinks and max-pool ties, so finite differences are valid."""
    pairs = forward(layers, params, x)
    for k, layer in enumerate(layers):
        if layer.get("activation") == "relu":
            assert np.min(np.abs(pairs[k][0])) > SMOOTH
        if layer["type"] == "max_pool2d":
            inputs = x if k == 0 else pairs[k - 1][1]
            (h, w), (sh, sw) = layer["size"], layer["stride"]
            for i in range(0, inputs.shape[2] - h + 1, sh):
                for j in range(0, inputs.shape[3] - w + 1, sw):
                    top = np.sort(
                        inputs[:, :, i : i + h, j : j + w].reshape(*inputs.shape[:2], -1)
                    )
                    assert np.min(top[..., -1] - top[..., -2]) > SMOOTH


def finite_differences(
    layers: Sequence[Layer], params: Mapping[str, np.ndarray], x: np.ndarray, y: np.ndarray, **kw
) -> dict[str, np.ndarray]:
    """Central differences (J(p + h) - J(p - h)) / 2h of every parameter entry, one at a time."""
    grads = {}
    for key, value in params.items():
        grad = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            shifted = {k: v.copy() for k, v in params.items()}
            shifted[key][index] = value[index] + STEP
            up = loss(layers, shifted, x, y, **kw)
            shifted[key][index] = value[index] - STEP
            down = loss(layers, shifted, x, y, **kw)
            grad[index] = (up - down) / (2 * STEP)
        grads[key] = grad
    return grads


def check_against_finite_differences(
    layers: Sequence[Layer], input_shape: tuple[int, ...], n_out: int, seed: int, **kw
) -> None:
    rng = np.random.default_rng(seed)
    params = random_params(layers, input_shape, rng)
    x = rng.normal(0, 1, (2, *input_shape))
    if kw.get("loss", "cross_entropy") == "cross_entropy":
        y = np.eye(n_out)[rng.integers(0, n_out, 2)]
    else:
        y = rng.normal(0, 1, (2, n_out))
    assert_smooth(layers, params, x)
    grads = backprop(layers, params, x, y, **kw)
    expected = finite_differences(layers, params, x, y, **kw)
    assert grads.keys() == params.keys()
    for key in params:
        assert grads[key].shape == params[key].shape
        np.testing.assert_allclose(grads[key], expected[key], rtol=1e-6, atol=1e-8, err_msg=key)


# --- Finite differences ----------------------------------------------------------------------

# (kernel, stride, padding, input H x W): both convolutions use them and tile exactly.
CONV_CASES = [
    pytest.param((3, 3), (1, 1), 0, (7, 7), id="stride1-pad0"),
    pytest.param((3, 3), (1, 1), 1, (5, 5), id="stride1-pad1"),
    pytest.param((3, 3), (2, 2), 0, (11, 11), id="stride2-pad0"),
    pytest.param((3, 3), (2, 2), 1, (9, 9), id="stride2-pad1"),
    pytest.param((3, 2), (2, 1), 1, (9, 5), id="kernel3x2-stride2x1-pad1"),
]


@pytest.mark.parametrize(("kernel", "stride", "padding", "size"), CONV_CASES)
def test_conv_gradients_match_finite_differences(kernel, stride, padding, size) -> None:
    """Two stacked convolutions: the second one's dx feeds the first one's dW and db."""
    layers = [
        conv(3, kernel, stride, padding, "tanh"),
        conv(2, kernel, stride, padding, "sigmoid"),
        FLATTEN,
        dense(3, "softmax"),
    ]
    check_against_finite_differences(layers, (2, *size), 3, seed=11)


@pytest.mark.parametrize(
    ("kind", "size", "stride"),
    [
        pytest.param("max_pool2d", (2, 2), (2, 2), id="max-2x2-stride2"),
        pytest.param("max_pool2d", (3, 3), (1, 1), id="max-3x3-overlapping"),
        pytest.param("avg_pool2d", (2, 2), (2, 2), id="avg-2x2-stride2"),
        pytest.param("avg_pool2d", (3, 2), (1, 2), id="avg-3x2-stride1x2"),
    ],
)
def test_pool_gradients_match_finite_differences(kind, size, stride) -> None:
    layers = [conv(2, padding=1, activation="tanh"), pool(kind, size, stride), FLATTEN, dense(2)]
    check_against_finite_differences(
        layers, (2, 6, 6), 2, seed=5, loss="squared_error", half=True, reduction="sum"
    )


def test_cnn_stack_matches_finite_differences() -> None:
    """conv(relu) -> max_pool -> flatten -> dense(softmax), cross-entropy, batch of 2."""
    layers = [
        conv(2, activation="relu"),
        pool("max_pool2d", (2, 2), (2, 2)),
        FLATTEN,
        dense(3, "softmax"),
    ]
    check_against_finite_differences(layers, (1, 6, 6), 3, seed=3)


def test_dense_stack_matches_finite_differences() -> None:
    layers = [dense(4, "tanh"), dense(3, "sigmoid"), dense(2)]
    check_against_finite_differences(layers, (5,), 2, seed=7, loss="squared_error")


# --- Against the column reference of reference.py --------------------------------------------


@pytest.mark.parametrize(
    ("activations", "loss_name", "biases"),
    [
        pytest.param(["relu", "tanh", "softmax"], "cross_entropy", True, id="softmax-ce"),
        pytest.param(["sigmoid", None], "squared_error", True, id="squared-error"),
        pytest.param([("leaky_relu", {"slope": 0.1}), "sigmoid"], "binary_cross_entropy", False,
                     id="bce-no-biases"),
    ],
)  # fmt: skip
def test_dense_stack_agrees_with_reference_backprop(activations, loss_name, biases) -> None:
    rng = np.random.default_rng(2)
    sizes = [4, 5, 3, 2][: len(activations) + 1]
    layers = [dense(n, a) for n, a in zip(sizes[1:], activations, strict=True)]
    params = random_params(layers, (sizes[0],), rng)
    if not biases:
        params = {k: v for k, v in params.items() if k.startswith("W")}
    x = rng.normal(0, 1, (3, sizes[0]))
    y = rng.uniform(0.1, 0.9, (3, sizes[-1]))
    kw = {"loss": loss_name, "reduction": "mean", "half": False}
    grads = backprop(layers, params, x, y, **kw)
    n = len(layers)
    weights = [params[f"W{k}"] for k in range(1, n + 1)]
    bias_columns = [params[f"b{k}"][:, None] for k in range(1, n + 1)] if biases else None
    columns = [a or "identity" for a in activations]
    gw, gb = reference.backprop(weights, bias_columns, x.T, y.T, activations=columns, **kw)
    for k in range(n):
        np.testing.assert_allclose(grads[f"W{k + 1}"], gw[k], rtol=1e-12, atol=1e-12)
        if gb is not None:
            np.testing.assert_allclose(grads[f"b{k + 1}"], gb[k][:, 0], rtol=1e-12, atol=1e-12)
    assert grads.keys() == params.keys()
    expected_loss = reference.loss(weights, bias_columns, x.T, y.T, activations=columns, **kw)
    assert loss(layers, params, x, y, **kw) == pytest.approx(expected_loss, rel=1e-12)


# --- Worked by hand --------------------------------------------------------------------------

X_3X3 = np.array([[[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]]])
KERNEL_2X2 = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])


def test_conv_forward_by_hand() -> None:
    """x = [[1,2,3],[4,5,6],[7,8,9]], W = [[1,2],[3,4]], b = 1, stride 1, no padding.

    out[0,0] = 1*1 + 2*2 + 3*4 + 4*5 + 1 = 1 + 4 + 12 + 20 + 1 = 38
    out[0,1] = 1*2 + 2*3 + 3*5 + 4*6 + 1 = 2 + 6 + 15 + 24 + 1 = 48
    out[1,0] = 1*4 + 2*5 + 3*7 + 4*8 + 1 = 4 + 10 + 21 + 32 + 1 = 68
    out[1,1] = 1*5 + 2*6 + 3*8 + 4*9 + 1 = 5 + 12 + 24 + 36 + 1 = 78
    """
    params = {"W1": KERNEL_2X2, "b1": np.array([1.0])}
    z, a = forward([conv(1, (2, 2))], params, X_3X3)[0]
    assert z.tolist() == [[[[38.0, 48.0], [68.0, 78.0]]]]
    assert a.tolist() == z.tolist()


def test_conv_forward_with_padding_and_stride_by_hand() -> None:
    """Same x and W, no bias, padding 1, stride 2: windows of the 5x5 zero-padded x.

    out[0,0]: [[0,0],[0,1]] -> 4*1         = 4
    out[0,1]: [[0,0],[2,3]] -> 3*2 + 4*3   = 18
    out[1,0]: [[0,4],[0,7]] -> 2*4 + 4*7   = 36
    out[1,1]: [[5,6],[8,9]] -> 5+12+24+36  = 77
    """
    layer = conv(1, (2, 2), (2, 2), padding=1)
    z, _ = forward([layer], {"W1": KERNEL_2X2}, X_3X3)[0]
    assert z.tolist() == [[[[4.0, 18.0], [36.0, 77.0]]]]


def test_conv_backward_by_hand() -> None:
    """conv -> flatten -> dense with W = ones, squared error (half) at y = output - 1.

    Then dJ/doutput = 1, so dJ/dz = 1 at all four conv outputs and dW[p,q] = sum_{i,j}
    x[i+p, j+q]: dW = [[1+2+4+5, 2+3+5+6], [4+5+7+8, 5+6+8+9]] = [[12, 16], [24, 28]], db = 4.
    """
    layers = [conv(1, (2, 2)), FLATTEN, dense(1)]
    params = {"W1": KERNEL_2X2, "b1": np.array([0.0]), "W2": np.ones((1, 4))}
    out = forward(layers, params, X_3X3)[-1][1]
    kw = {"loss": "squared_error", "half": True, "reduction": "sum"}
    grads = backprop(layers, params, X_3X3, out - 1.0, **kw)
    assert grads["W1"].tolist() == [[[[12.0, 16.0], [24.0, 28.0]]]]
    assert grads["b1"].tolist() == [4.0]


def test_avg_pool_spreads_a_quarter_by_hand() -> None:
    """1x1 conv with W = 1 then 2x2 average pool: every x entry gets dJ/dout / 4 = 1/4."""
    layers = [conv(1, (1, 1)), pool("avg_pool2d", (2, 2), (2, 2)), FLATTEN, dense(1)]
    x = np.array([[[[1.0, 2.0], [3.0, 6.0]]]])  # mean 3
    params = {"W1": np.ones((1, 1, 1, 1)), "W2": np.ones((1, 1))}
    assert forward(layers, params, x)[1][1].tolist() == [[[[3.0]]]]
    kw = {"loss": "squared_error", "half": True, "reduction": "sum"}
    grads = backprop(layers, params, x, [[2.0]], **kw)  # dJ/dout = 3 - 2 = 1
    # dW1 = sum over x of x * 1/4 = (1 + 2 + 3 + 6) / 4 = 3
    assert grads["W1"].tolist() == [[[[3.0]]]]


# --- Max-pool ties ---------------------------------------------------------------------------

# A 1x1 conv z = x0 + x1 over two channels makes the tie in z while x still tells the two
# positions apart: z = [[3, 3], [0, 1]] has its maximum 3 at (0, 0) and (0, 1).
TIE_X = np.array([[[[1.0, 2.0], [0.0, 0.0]], [[2.0, 1.0], [0.0, 1.0]]]])
TIE_LAYERS = [conv(1, (1, 1)), pool("max_pool2d", (2, 2), (2, 2)), FLATTEN, dense(1)]
TIE_PARAMS = {"W1": np.ones((1, 2, 1, 1)), "b1": np.array([0.0]), "W2": np.ones((1, 1))}


def test_max_pool_tie_goes_to_the_first_maximum() -> None:
    """J = 1/2 (3 - 0)^2, dJ/dout = 3, all of it to position (0, 0) where x = (1, 2).

    dW1 = 3 * (x0[0,0], x1[0,0]) = (3, 6); the second maximum would give (6, 3).
    """
    kw = {"loss": "squared_error", "half": True, "reduction": "sum"}
    grads = backprop(TIE_LAYERS, TIE_PARAMS, TIE_X, [[0.0]], **kw)
    assert grads["W1"].ravel().tolist() == [3.0, 6.0]
    assert grads["b1"].tolist() == [3.0]


def test_max_pool_ties_reports_the_tied_window() -> None:
    assert max_pool_ties(TIE_LAYERS, TIE_PARAMS, TIE_X) == [(2, (0, 0, 0, 0))]
    untied = TIE_X.copy()
    untied[0, 0, 0, 1] = 2.5
    assert max_pool_ties(TIE_LAYERS, TIE_PARAMS, untied) == []


def test_max_pool_ties_names_sample_channel_and_position() -> None:
    """Batch of 2, 2 channels, 4x4 -> 2x2 windows; only sample 1, channel 1, window (1, 0) ties."""
    layers = [pool("max_pool2d", (2, 2), (2, 2)), FLATTEN, dense(1)]
    x = np.arange(2 * 2 * 4 * 4, dtype=float).reshape(2, 2, 4, 4)
    x[1, 1, 2, 0] = x[1, 1, 3, 1]  # the window rows 2-3, columns 0-1 now has two maxima
    params = {"W1": np.ones((1, 8))}  # 2 channels x 2 x 2 pooled outputs
    assert max_pool_ties(layers, params, x) == [(1, (1, 1, 1, 0))]


# --- Conventions and errors ------------------------------------------------------------------


def test_flatten_is_row_major_over_channel_row_column() -> None:
    x = np.random.default_rng(0).normal(size=(2, 3, 2, 4))
    _, a = forward([FLATTEN], {}, x)[0]
    for n, c, i, j in np.ndindex(x.shape):
        assert a[n, c * 8 + i * 4 + j] == x[n, c, i, j]


def test_softmax_on_a_hidden_layer_is_rejected() -> None:
    layers = [dense(3, "softmax"), dense(2)]
    params = random_params(layers, (2,), np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"^softmax is only allowed on the output layer"):
        forward(layers, params, np.zeros((1, 2)))


def _imports(module: object) -> set[str]:
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))  # type: ignore[attr-defined]
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    return imported


def test_imports_nothing_from_the_symbolic_side() -> None:
    assert _imports(reference_layers) <= {
        "collections.abc",
        "typing",
        "numpy",
        "numpy.lib.stride_tricks",
        "numpy.typing",
        "symbackprop.reference",
        "symbackprop.reference_norm",
        "symbackprop.reference_recurrent",
        "symbackprop.reference_sequence",
    }
    assert _imports(reference_norm) <= {"typing", "numpy"}
    assert _imports(reference_sequence) <= {"collections.abc", "typing", "numpy"}
    assert _imports(reference_recurrent) <= {"collections.abc", "typing", "numpy"}


def test_docstring_example_runs() -> None:
    result = doctest.testmod(reference_layers)
    assert result.attempted > 0
    assert result.failed == 0
