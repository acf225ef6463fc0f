"""Tests for the hand-written NumPy backprop and the finite-difference oracle."""

import itertools
import zlib
from collections.abc import Sequence
from pathlib import Path

import mpmath
import numpy as np
import pytest

from symbackprop import reference
from symbackprop.finite_differences import (
    DEFAULT_RELATIVE_STEP,
    central_differences,
    kink_mask,
    perturbation,
)

# --- The notebook's documented point ---------------------------------------------------------

SEED_WEIGHTS = [
    np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]),
    np.array([[0.7, 0.8, 0.9], [1.0, 1.1, 1.2]]),
]
SEED_BIASES = [np.array([[0.1], [0.1], [0.1]]), np.array([[0.2], [0.2]])]
SEED_X = np.array([[1.0], [0.5]])
SEED_Y = np.array([[0], [1]])
SEED_ACTIVATIONS = ["relu", "softmax"]

# Printed by the notebook (8 decimals), so compared to within half a unit in the last digit.
PRINTED_Z = [[[0.3], [0.6], [0.9]], [[1.7], [2.24]]]
PRINTED_A = [[[1.0], [0.5]], [[0.3], [0.6], [0.9]], [[0.36818758], [0.63181242]]]
PRINTED_GRADS_W = [
    [[-0.11045627, -0.05522814]] * 3,
    [[0.11045627, 0.22091255, 0.33136882], [-0.11045627, -0.22091255, -0.33136882]],
]
PRINTED_GRADS_B = [[[-0.11045627]] * 3, [[0.36818758], [-0.36818758]]]
PRINTED_ATOL = 5e-9


def _assert_all_close(actual: Sequence, expected: Sequence, **tolerances: float) -> None:
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected, strict=True):
        np.testing.assert_allclose(got, want, **tolerances)


def test_notebook_forward_matches_printed_values() -> None:
    zs, acts = reference.forward(SEED_WEIGHTS, SEED_BIASES, SEED_X, SEED_ACTIVATIONS)
    _assert_all_close(zs, PRINTED_Z, rtol=0, atol=PRINTED_ATOL)
    _assert_all_close(acts, PRINTED_A, rtol=0, atol=PRINTED_ATOL)


@pytest.mark.parametrize(
    "run",
    [
        pytest.param(reference.notebook_backprop, id="notebook_backprop"),
        pytest.param(
            lambda w, b, x, y: reference.backprop(w, b, x, y, activations=SEED_ACTIVATIONS),
            id="backprop",
        ),
    ],
)
def test_notebook_gradients_match_printed_values(run) -> None:
    grads_w, grads_b = run(SEED_WEIGHTS, SEED_BIASES, SEED_X, SEED_Y)
    _assert_all_close(grads_w, PRINTED_GRADS_W, rtol=0, atol=PRINTED_ATOL)
    _assert_all_close(grads_b, PRINTED_GRADS_B, rtol=0, atol=PRINTED_ATOL)


def test_notebook_hand_values_were_too_coarse() -> None:
    """The notebook's final assert failed because its hand value 0.2208 is wrong, not the code.

    2 x 0.1104 (a truncated 0.11045627) = 0.2208, but dJ/dW^2_12 = 0.22091255.
    """
    grads_w, _ = reference.notebook_backprop(SEED_WEIGHTS, SEED_BIASES, SEED_X, SEED_Y)
    hand = [[0.1104, 0.2208, 0.3312], [-0.1104, -0.2208, -0.3312]]
    assert not np.allclose(grads_w[1], hand, atol=1e-4)
    np.testing.assert_allclose(grads_w[1], hand, rtol=0, atol=2e-4)


# --- An independent high-precision oracle: mpmath, 50 digits ---------------------------------


def _mp_relu_softmax_cross_entropy(weights, biases, x, y):
    """One-sample forward/backward pass in mpmath: ReLU hidden, softmax, cross-entropy.

    Returns (loss, yhat, grads_w, grads_b) rounded to float64 at the end only.
    """
    with mpmath.workdps(50):
        ws = [[[mpmath.mpf(float(v)) for v in row] for row in w] for w in weights]
        bs = [[mpmath.mpf(float(v[0])) for v in b] for b in biases]
        a = [mpmath.mpf(float(v[0])) for v in x]
        acts, zs = [a], []
        for layer, (w, b) in enumerate(zip(ws, bs, strict=True)):
            z = [mpmath.fsum(wij * aj for wij, aj in zip(row, a, strict=True)) + bi
                 for row, bi in zip(w, b, strict=True)]  # fmt: skip
            if layer < len(ws) - 1:
                a = [max(zi, mpmath.mpf(0)) for zi in z]
            else:
                top = max(z)
                exps = [mpmath.exp(zi - top) for zi in z]
                a = [e / mpmath.fsum(exps) for e in exps]
            zs.append(z)
            acts.append(a)
        target = [mpmath.mpf(float(v[0])) for v in y]
        value = -mpmath.fsum(t * mpmath.log(p) for t, p in zip(target, a, strict=True))
        delta = [p - t for p, t in zip(a, target, strict=True)]
        grads_w, grads_b = [None] * len(ws), [None] * len(ws)
        for layer in range(len(ws) - 1, -1, -1):
            grads_w[layer] = [[d * aj for aj in acts[layer]] for d in delta]
            grads_b[layer] = [[d] for d in delta]
            if layer > 0:
                w, z = ws[layer], zs[layer - 1]
                delta = [
                    mpmath.fsum(w[i][j] * delta[i] for i in range(len(w))) * (z[j] > 0)
                    for j in range(len(z))
                ]
        as_float = lambda rows: np.array([[float(v) for v in row] for row in rows])  # noqa: E731
        return (
            float(value),
            np.array([[float(v)] for v in a]),
            [as_float(g) for g in grads_w],
            [as_float(g) for g in grads_b],
        )


def test_notebook_point_matches_mpmath() -> None:
    value, yhat, mp_w, mp_b = _mp_relu_softmax_cross_entropy(
        SEED_WEIGHTS, SEED_BIASES, SEED_X, SEED_Y
    )
    _, acts = reference.forward(SEED_WEIGHTS, SEED_BIASES, SEED_X, SEED_ACTIVATIONS)
    np.testing.assert_allclose(acts[-1], yhat, rtol=1e-14)
    np.testing.assert_allclose(yhat, PRINTED_A[-1], rtol=0, atol=PRINTED_ATOL)
    got = reference.loss(SEED_WEIGHTS, SEED_BIASES, SEED_X, SEED_Y, activations=SEED_ACTIVATIONS)
    assert got == pytest.approx(value, rel=1e-14)
    grads_w, grads_b = reference.notebook_backprop(SEED_WEIGHTS, SEED_BIASES, SEED_X, SEED_Y)
    _assert_all_close(grads_w, mp_w, rtol=1e-13, atol=1e-16)
    _assert_all_close(grads_b, mp_b, rtol=1e-13, atol=1e-16)


def test_finite_differences_at_notebook_point() -> None:
    grads_w, grads_b = central_differences(
        lambda w, b: reference.loss(w, b, SEED_X, SEED_Y, activations=SEED_ACTIVATIONS),
        SEED_WEIGHTS,
        SEED_BIASES,
    )
    _assert_all_close(grads_w, PRINTED_GRADS_W, rtol=0, atol=PRINTED_ATOL)
    _assert_all_close(grads_b, PRINTED_GRADS_B, rtol=0, atol=PRINTED_ATOL)


# --- Grid: backprop against central differences ---------------------------------------------

SIZES = (3, 4, 3, 3)
HIDDEN = ["identity", "relu", "leaky_relu", "sigmoid", "tanh", "softplus"]
OUTPUTS = [
    pytest.param("softmax", "cross_entropy", True, id="softmax+cross_entropy"),
    pytest.param("sigmoid", "binary_cross_entropy", True, id="sigmoid+binary_cross_entropy"),
    pytest.param("identity", "squared_error", True, id="identity+squared_error(half)"),
    pytest.param("identity", "squared_error", False, id="identity+squared_error(full)"),
    pytest.param("sigmoid", "squared_error", True, id="sigmoid+squared_error"),
    pytest.param("softmax", "squared_error", True, id="softmax+squared_error"),
]
# Central differences with h ~ eps^(1/3) err by ~ eps |J| / h (rounding, dominant here) plus
# ~ h^2 |f'''| (truncation): about 4e-11 * max(1, |J|). On this grid the measured worst absolute
# error is 6.6e-9, at |J| = 188. The absolute tolerance therefore scales with the loss.
FD_RTOL, FD_ATOL = 1e-6, 1e-8


def _random_target(rng: np.random.Generator, loss: str, shape: tuple[int, int]) -> np.ndarray:
    """Probability columns for cross-entropy, [0, 1] for BCE, anything for squared error."""
    if loss == "cross_entropy":
        return rng.dirichlet(np.ones(shape[0]), size=shape[1]).T
    if loss == "binary_cross_entropy":
        return rng.uniform(0.0, 1.0, shape)
    return rng.normal(0.0, 1.0, shape)


def _random_parameters(rng, sizes, with_biases):
    weights = [rng.normal(0.0, 0.8, (n, p)) for p, n in itertools.pairwise(sizes)]
    biases = [rng.normal(0.0, 0.5, (n, 1)) for n in sizes[1:]] if with_biases else None
    return weights, biases


def _point_away_from_kinks(rng, sizes, m, activations, with_biases):
    """Random parameters and inputs such that no finite difference straddles a kink."""
    for _ in range(50):
        weights, biases = _random_parameters(rng, sizes, with_biases)
        x = rng.normal(0.0, 1.0, (sizes[0], m))
        kinks = lambda w, b, x=x: reference.kink_pre_activations(w, b, x, activations)  # noqa: E731
        flags_w, flags_b = kink_mask(kinks, weights, biases)
        if not any(f.any() for f in [*flags_w, *(flags_b or [])]):
            return weights, biases, x
    raise AssertionError("no kink-free point found")  # pragma: no cover


def _max_fd_error(exact, estimate) -> float:
    return max(float(np.max(np.abs(e - f))) for e, f in zip(exact, estimate, strict=True))


@pytest.mark.parametrize("l2", [0.0, 0.1], ids=["l2=0", "l2=0.1"])
@pytest.mark.parametrize("with_biases", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("m", [1, 3], ids=["m1", "m3"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize(("output", "loss", "half"), OUTPUTS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_backprop_matches_central_differences(
    hidden, output, loss, half, reduction, m, with_biases, l2, request
) -> None:
    rng = np.random.default_rng(zlib.crc32(request.node.callspec.id.encode()))
    activations = [hidden, hidden, output]
    weights, biases, x = _point_away_from_kinks(rng, SIZES, m, activations, with_biases)
    y = _random_target(rng, loss, (SIZES[-1], m))
    options = {"loss": loss, "half": half, "reduction": reduction, "l2": l2}

    grads_w, grads_b = reference.backprop(
        weights, biases, x, y, activations=activations, **options
    )
    fd_w, fd_b = central_differences(
        lambda w, b: reference.loss(w, b, x, y, activations=activations, **options),
        weights,
        biases,
    )

    value = reference.loss(weights, biases, x, y, activations=activations, **options)
    atol = FD_ATOL * max(1.0, abs(value))
    _assert_all_close(grads_w, fd_w, rtol=FD_RTOL, atol=atol)
    if with_biases:
        _assert_all_close(grads_b, fd_b, rtol=FD_RTOL, atol=atol)
    else:
        assert grads_b is None and fd_b is None


@pytest.mark.parametrize("depth", [1, 2, 5])
def test_any_depth_matches_central_differences(depth: int) -> None:
    rng = np.random.default_rng(depth)
    sizes = [2, *([3] * (depth - 1)), 4]
    activations = [*(["tanh"] * (depth - 1)), "softmax"]
    weights, biases = _random_parameters(rng, sizes, with_biases=True)
    x, y = rng.normal(size=(2, 2)), np.eye(4)[:, [0, 3]]
    grads_w, grads_b = reference.backprop(weights, biases, x, y, activations=activations)
    fd_w, fd_b = central_differences(
        lambda w, b: reference.loss(w, b, x, y, activations=activations), weights, biases
    )
    _assert_all_close([*grads_w, *grads_b], [*fd_w, *fd_b], rtol=FD_RTOL, atol=FD_ATOL)


@pytest.mark.parametrize(
    "activation",
    [("leaky_relu", {"slope": 0.2}), "linear", ("tanh", {})],
    ids=["leaky_relu(slope=0.2)", "linear", "tanh({})"],
)
def test_activation_options_and_aliases_match_central_differences(activation) -> None:
    rng = np.random.default_rng(7)
    activations = [activation, "sigmoid"]
    weights, biases, x = _point_away_from_kinks(rng, (2, 3, 2), 2, activations, True)
    y = rng.uniform(size=(2, 2))
    options = {"activations": activations, "loss": "binary_cross_entropy"}
    grads_w, grads_b = reference.backprop(weights, biases, x, y, **options)
    fd_w, fd_b = central_differences(
        lambda w, b: reference.loss(w, b, x, y, **options), weights, biases
    )
    _assert_all_close([*grads_w, *grads_b], [*fd_w, *fd_b], rtol=FD_RTOL, atol=FD_ATOL)


def test_leaky_relu_slope_option_is_used() -> None:
    z = np.array([[-2.0], [3.0]])
    weights, x = [np.eye(2)], z
    _, acts = reference.forward(weights, None, x, [("leaky_relu", {"slope": 0.2})])
    np.testing.assert_array_equal(acts[-1], [[-0.4], [3.0]])
    _, acts = reference.forward(weights, None, x, ["leaky_relu"])
    np.testing.assert_array_equal(acts[-1], [[-0.02], [3.0]])


def test_cross_entropy_with_unnormalised_targets_matches_central_differences() -> None:
    """With sum_k y_k != 1 the logit gradient is softmax * sum(y) - y, not yhat - y."""
    rng = np.random.default_rng(11)
    weights, biases = _random_parameters(rng, (2, 3), with_biases=True)
    x, y = rng.normal(size=(2, 2)), rng.uniform(0.0, 2.0, (3, 2))
    grads_w, grads_b = reference.backprop(weights, biases, x, y, activations=["softmax"])
    fd_w, fd_b = central_differences(
        lambda w, b: reference.loss(w, b, x, y, activations=["softmax"]), weights, biases
    )
    _assert_all_close([*grads_w, *grads_b], [*fd_w, *fd_b], rtol=FD_RTOL, atol=FD_ATOL)


# --- Loss values ---------------------------------------------------------------------------


def test_loss_options_scale_as_documented() -> None:
    rng = np.random.default_rng(3)
    weights, biases = _random_parameters(rng, (2, 3, 2), with_biases=True)
    x, y = rng.normal(size=(2, 4)), rng.normal(size=(2, 4))
    _, acts = reference.forward(weights, biases, x, ["tanh", "identity"])
    squared = float(np.sum((acts[-1] - y) ** 2))
    penalty = sum(float(np.sum(w**2)) for w in weights)

    def value(**options) -> float:
        options = {"activations": ["tanh", "identity"], "loss": "squared_error", **options}
        return reference.loss(weights, biases, x, y, **options)

    assert value() == pytest.approx(squared / 2 / 4, rel=1e-15)
    assert value(half=False, reduction="sum") == pytest.approx(squared, rel=1e-15)
    assert value(l2=0.1) == pytest.approx(squared / 8 + 0.1 * penalty, rel=1e-15)


# --- Saturation -----------------------------------------------------------------------------


def test_saturated_softmax_gives_finite_correct_loss_and_gradients() -> None:
    """Logits near 1000 and 1028: naive exp overflows; the loss is about 28."""
    weights = [SEED_WEIGHTS[0], np.array([[0.0, 0.0, 0.0], [10.0, 10.0, 21.0]])]
    biases = [SEED_BIASES[0], np.array([[1000.0], [1000.0]])]
    y = np.array([[1.0], [0.0]])
    value, _, mp_w, mp_b = _mp_relu_softmax_cross_entropy(weights, biases, SEED_X, y)
    assert 27 < value < 29

    got = reference.loss(weights, biases, SEED_X, y, activations=SEED_ACTIVATIONS)
    grads_w, grads_b = reference.backprop(weights, biases, SEED_X, y, activations=SEED_ACTIVATIONS)

    assert got == pytest.approx(value, rel=1e-13)
    assert all(np.all(np.isfinite(g)) for g in [*grads_w, *grads_b])
    _assert_all_close(grads_w, mp_w, rtol=1e-12, atol=1e-14)
    _assert_all_close(grads_b, mp_b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("logit", [-28.0, -800.0])
def test_saturated_sigmoid_binary_cross_entropy(logit: float) -> None:
    """J = log(1 + exp(-z)) for y = 1, so J ~ -z and dJ/dz = sigmoid(z) - 1 ~ -1."""
    weights, biases, x, y = [np.array([[logit]])], [np.array([[0.0]])], [[1.0]], [[1.0]]
    options = {"activations": ["sigmoid"], "loss": "binary_cross_entropy"}
    got = reference.loss(weights, biases, x, y, **options)
    grads_w, grads_b = reference.backprop(weights, biases, x, y, **options)
    with mpmath.workdps(50):
        expected = float(mpmath.log1p(mpmath.exp(-mpmath.mpf(logit))))
        slope = float(1 / (1 + mpmath.exp(-mpmath.mpf(logit))) - 1)
    assert got == pytest.approx(expected, rel=1e-15)
    np.testing.assert_allclose(grads_w[0], [[slope]], rtol=1e-15)
    np.testing.assert_allclose(grads_b[0], [[slope]], rtol=1e-15)


# --- The ReLU'(0) convention ------------------------------------------------------------------

# W^1 row 0 is chosen so that z^1_0 = 0.5 * 1.0 - 1.0 * 0.5 + 0.0 = 0 exactly.
KINK_WEIGHTS = [np.array([[0.5, -1.0], [0.3, 0.4], [0.5, 0.6]]), SEED_WEIGHTS[1]]
KINK_BIASES = [np.array([[0.0], [0.1], [0.1]]), SEED_BIASES[1]]


@pytest.mark.parametrize(("hidden", "slope"), [("relu", 0.0), ("leaky_relu", 0.01)])
def test_relu_prime_at_zero_convention(hidden: str, slope: float) -> None:
    activations = [hidden, "softmax"]
    zs, _ = reference.forward(KINK_WEIGHTS, KINK_BIASES, SEED_X, activations)
    assert zs[0][0, 0] == 0.0

    def grads(c: float):
        return reference.backprop(
            KINK_WEIGHTS, KINK_BIASES, SEED_X, SEED_Y, activations=activations,
            relu_prime_at_zero=c,
        )  # fmt: skip

    (w0, b0), (w1, b1), (wh, bh) = grads(0.0), grads(1.0), grads(0.5)
    # Only the parameters feeding the kinked unit depend on c, and linearly through f'(0).
    assert w1[0][0, 0] != 0.0
    for c, (w, b) in [(0.0, (w0, b0)), (0.5, (wh, bh))]:
        factor = slope + c * (1.0 - slope)
        np.testing.assert_allclose(w[0][0], factor * w1[0][0], rtol=1e-15)
        np.testing.assert_allclose(b[0][0], factor * b1[0][0], rtol=1e-15)
        np.testing.assert_array_equal(w[0][1:], w1[0][1:])
        np.testing.assert_array_equal(b[0][1:], b1[0][1:])
        np.testing.assert_array_equal(w[1], w1[1])
        np.testing.assert_array_equal(b[1], b1[1])


# --- Kink flags ---------------------------------------------------------------------------------


def _kink_flags(weights, biases, x, activations):
    kinks = lambda w, b: reference.kink_pre_activations(w, b, x, activations)  # noqa: E731
    return kink_mask(kinks, weights, biases)


def test_kink_flags_exactly_where_perturbation_crosses_zero() -> None:
    """z^1_0 = 0 exactly and 0 < z^1_1 ~ 1e-9 << step; z^1_2 = 0.9 is far from the kink.

    x_1 = 0 in the second sample column would hide column 1 of W^1; here both inputs are
    nonzero, so rows 0 and 1 of W^1 and entries 0 and 1 of b^1 are flagged and nothing else
    (W^2 and b^2 do not move z^1).
    """
    biases = [np.array([[0.0], [-(0.3 * 1.0 + 0.4 * 0.5) + 1e-9], [0.1]]), SEED_BIASES[1]]
    zs, _ = reference.forward(KINK_WEIGHTS, biases, SEED_X, SEED_ACTIVATIONS)
    assert zs[0][0, 0] == 0.0 and 0.0 < zs[0][1, 0] < 1e-8

    flags_w, flags_b = _kink_flags(KINK_WEIGHTS, biases, SEED_X, SEED_ACTIVATIONS)

    np.testing.assert_array_equal(flags_w[0], [[True, True], [True, True], [False, False]])
    np.testing.assert_array_equal(flags_b[0], [[True], [True], [False]])
    np.testing.assert_array_equal(flags_w[1], np.zeros((2, 3), dtype=bool))
    np.testing.assert_array_equal(flags_b[1], np.zeros((2, 1), dtype=bool))


def test_kink_flags_ignore_parameters_that_do_not_move_the_kink() -> None:
    """With x_1 = 0, W^1_01 multiplies 0: it cannot move z^1_0 = 0, so it is not flagged."""
    x = np.array([[1.0], [0.0]])
    biases = [np.array([[-0.5], [0.1], [0.1]]), SEED_BIASES[1]]
    zs, _ = reference.forward(KINK_WEIGHTS, biases, x, SEED_ACTIVATIONS)
    assert zs[0][0, 0] == 0.0

    flags_w, flags_b = _kink_flags(KINK_WEIGHTS, biases, x, SEED_ACTIVATIONS)

    np.testing.assert_array_equal(flags_w[0], [[True, False], [False, False], [False, False]])
    np.testing.assert_array_equal(flags_b[0], [[True], [False], [False]])


def test_kink_flags_in_a_deeper_layer_and_without_biases() -> None:
    """A zero in z^2 is moved by W^2 row 0 and by every W^1 entry (x and W^2 row 0 nonzero)."""
    weights = [np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[1.0, -1.0], [1.0, 1.0]])]
    weights.append(np.array([[1.0, 2.0]]))
    x = np.array([[2.0], [2.0]])
    activations = ["relu", "leaky_relu", "identity"]
    zs, _ = reference.forward(weights, None, x, activations)
    assert zs[1][0, 0] == 0.0

    flags_w, flags_b = _kink_flags(weights, None, x, activations)

    assert flags_b is None
    np.testing.assert_array_equal(flags_w[0], np.ones((2, 2), dtype=bool))
    np.testing.assert_array_equal(flags_w[1], [[True, True], [False, False]])
    np.testing.assert_array_equal(flags_w[2], np.zeros((1, 2), dtype=bool))


def test_no_kink_flags_for_smooth_activations() -> None:
    weights = [np.zeros((3, 2)), np.zeros((2, 3))]
    flags_w, flags_b = _kink_flags(weights, SEED_BIASES, SEED_X, ["tanh", "softmax"])
    assert not any(f.any() for f in [*flags_w, *flags_b])


# --- Finite-difference step ------------------------------------------------------------------


@pytest.mark.parametrize("theta", [0.0, 0.3, -7.25, 1e5])
def test_perturbation_is_exact_and_relative(theta: float) -> None:
    lo, hi = perturbation(theta)
    h = (hi - lo) / 2
    assert hi - theta == theta - lo == h
    assert h == pytest.approx(DEFAULT_RELATIVE_STEP * max(1.0, abs(theta)), rel=1e-6)


def test_central_differences_leave_inputs_untouched() -> None:
    weights = [w.copy() for w in SEED_WEIGHTS]
    central_differences(lambda w, b: float(np.sum(w[0] ** 3)), weights, None)
    _assert_all_close(weights, SEED_WEIGHTS, rtol=0, atol=0)


# --- Errors and shapes ---------------------------------------------------------------------


def _run_backprop(activations=("relu", "softmax"), **options) -> None:
    reference.backprop(
        SEED_WEIGHTS, SEED_BIASES, SEED_X, SEED_Y, activations=list(activations), **options
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(
            lambda: _run_backprop(["tanhh", "softmax"]),
            r"^unknown activation 'tanhh' in layer 1; expected one of: identity, leaky_relu,",
            id="unknown-activation",
        ),
        pytest.param(
            lambda: _run_backprop(loss="mse"),
            r"^unknown loss 'mse'; expected one of: binary_cross_entropy, cross_entropy, ",
            id="unknown-loss",
        ),
        pytest.param(
            lambda: _run_backprop(["softmax", "softmax"]),
            r"^softmax is only allowed on the output layer, got it on layer 1 of 2$",
            id="hidden-softmax",
        ),
        pytest.param(
            lambda: _run_backprop(["relu", "sigmoid"]),
            r"^loss 'cross_entropy' requires a softmax output layer, got 'sigmoid'$",
            id="cross-entropy-without-softmax",
        ),
        pytest.param(
            lambda: _run_backprop([("leaky_relu", {"alpha": 0.1}), "softmax"]),
            r"^unknown option 'alpha' for activation 'leaky_relu' in layer 1; expected one of: "
            r"slope$",
            id="unknown-option",
        ),
        pytest.param(
            lambda: _run_backprop([("relu", {"slope": 0.1}), "softmax"]),
            r"^unknown option 'slope' for activation 'relu' in layer 1; expected one of: none$",
            id="option-on-optionless-activation",
        ),
        pytest.param(
            lambda: _run_backprop(reduction="avg"),
            r"^unknown reduction 'avg'; expected one of: mean, sum$",
            id="unknown-reduction",
        ),
        pytest.param(
            lambda: _run_backprop(["relu"]),
            r"^got 2 weight matrices but 1 activations$",
            id="too-few-activations",
        ),
        pytest.param(
            lambda: reference.forward(
                SEED_WEIGHTS, [[0.1, 0.1, 0.1], [0.2, 0.2]], SEED_X, ["relu", "softmax"]
            ),
            r"^bias of layer 1 has shape \(3,\); expected \(3, 1\)$",
            id="flat-bias",
        ),
        pytest.param(
            lambda: reference.loss(
                SEED_WEIGHTS, SEED_BIASES, SEED_X, [[0, 1]], activations=["relu", "softmax"]
            ),
            r"^target has shape \(1, 2\); expected \(2, 1\)$",
            id="target-shape",
        ),
    ],
)
def test_bad_input_raises_value_error(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_no_biases_gives_no_bias_gradients() -> None:
    grads_w, grads_b = reference.backprop(
        SEED_WEIGHTS, None, SEED_X, SEED_Y, activations=SEED_ACTIVATIONS
    )
    assert grads_b is None
    assert [g.shape for g in grads_w] == [(3, 2), (2, 3)]


def test_reference_imports_nothing_from_the_package() -> None:
    source = Path(reference.__file__).read_text(encoding="utf-8")
    imports = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert all("symbackprop" not in line and "sympy" not in line for line in imports)
