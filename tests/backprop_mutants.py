"""Deliberately wrong backprops: a corpus that a gradient check must catch.

Every function here has the notebook's calling convention
``backprop(weights, biases, x, y) -> (grads_W, grads_b)`` for the notebook's network: ReLU
hidden layers, softmax output, cross-entropy averaged over the batch, any depth. ``x`` and
``y`` are ``(n, m)`` with one sample per column, biases are ``(n, 1)`` columns.

``correct_backprop`` is a small, correct implementation, written independently of
``symbackprop.reference``. Each entry of ``MUTANTS`` is the same code with exactly one
realistic mistake, injected through one of the hooks of ``_backprop``. Some mistakes only make
sense (stay shape-valid) for a square weight matrix; those mutants fall back to the correct
formula elsewhere, so they are visible only on a net with a square hidden layer, such as
3-4-4-2.

Layer indices: ``weights[k]`` is W^{k+1}; ``zs[k]`` is z^{k+1}; ``acts[k]`` is a^k (``acts[0]``
is x), so layer k + 1 maps ``acts[k]`` to ``acts[k + 1]``.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Grads = tuple[list[np.ndarray], list[np.ndarray]]
Backprop = Callable[[list[np.ndarray], list[np.ndarray], np.ndarray, np.ndarray], Grads]

# --- The correct pieces ------------------------------------------------------------------------


def _relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0.0)


def _relu_prime(z: np.ndarray) -> np.ndarray:
    return (z > 0).astype(np.float64)


def _softmax(z: np.ndarray, axis: int = 0) -> np.ndarray:
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _is_square(w: np.ndarray) -> bool:
    return w.shape[0] == w.shape[1]


def _forward(weights, biases, x, *, use_bias: bool = True, softmax_axis: int = 0):
    """zs = [z^1..z^L], acts = [x, a^1..a^L]; ReLU on hidden layers, softmax on the output."""
    zs, acts = [], [np.asarray(x, dtype=np.float64)]
    for k, (w, b) in enumerate(zip(weights, biases, strict=True)):
        z = w @ acts[-1] + (b if use_bias else 0.0)
        zs.append(z)
        acts.append(_softmax(z, softmax_axis) if k == len(weights) - 1 else _relu(z))
    return zs, acts


@dataclass
class _Pass:
    """What the backward hooks may look at."""

    weights: list[np.ndarray]
    zs: list[np.ndarray]
    acts: list[np.ndarray]
    y: np.ndarray

    @property
    def m(self) -> int:
        return self.y.shape[1]


def _output_delta(p: _Pass) -> np.ndarray:
    """delta^L = (yhat - y) / m."""
    return (p.acts[-1] - p.y) / p.m


def _propagate(p: _Pass, k: int, delta: np.ndarray) -> np.ndarray:
    """delta of layer k + 1 from the one above: (W^{k+2})^T delta^{k+2} * relu'(z^{k+1})."""
    return (p.weights[k + 1].T @ delta) * _relu_prime(p.zs[k])


def _grad_w(p: _Pass, k: int, delta: np.ndarray) -> np.ndarray:
    """dJ/dW^{k+1} = delta^{k+1} (a^k)^T."""
    return delta @ p.acts[k].T


def _grad_b(p: _Pass, k: int, delta: np.ndarray) -> np.ndarray:
    """dJ/db^{k+1} = delta^{k+1} summed over the samples."""
    return np.sum(delta, axis=1, keepdims=True)


def _backprop(
    weights,
    biases,
    x,
    y,
    *,
    forward=_forward,
    output_delta=_output_delta,
    propagate=_propagate,
    grad_w=_grad_w,
    grad_b=_grad_b,
    lowest=0,
) -> Grads:
    """The notebook's backward loop, with every step replaceable by a hook."""
    zs, acts = forward(weights, biases, x)
    p = _Pass(list(weights), zs, acts, np.asarray(y, dtype=np.float64))
    grads_w = [np.zeros_like(w, dtype=np.float64) for w in weights]
    grads_b = [np.zeros_like(b, dtype=np.float64) for b in biases]
    delta = output_delta(p)
    for k in range(len(weights) - 1, lowest - 1, -1):
        grads_w[k] = grad_w(p, k, delta)
        grads_b[k] = grad_b(p, k, delta)
        if k > lowest:
            delta = propagate(p, k - 1, delta)
    return grads_w, grads_b


def correct_backprop(weights, biases, x, y) -> Grads:
    """The right answer (ReLU hidden, softmax, cross-entropy, mean over the batch)."""
    return _backprop(weights, biases, x, y)


# --- Mutants: one mistake each ---------------------------------------------------------------


def transposed_weight_in_delta_recursion(weights, biases, x, y) -> Grads:
    """delta^l = W^{l+1} delta^{l+1} instead of (W^{l+1})^T delta^{l+1} (square W only)."""

    def propagate(p, k, delta):
        w = p.weights[k + 1]
        return ((w if _is_square(w) else w.T) @ delta) * _relu_prime(p.zs[k])

    return _backprop(weights, biases, x, y, propagate=propagate)


def missing_relu_prime(weights, biases, x, y) -> Grads:
    """delta^l = (W^{l+1})^T delta^{l+1}, forgetting the factor relu'(z^l)."""
    return _backprop(weights, biases, x, y, propagate=lambda p, k, d: p.weights[k + 1].T @ d)


def squared_error_output_delta(weights, biases, x, y) -> Grads:
    """delta^L = (yhat - y) * yhat (1 - yhat): as if the loss were squared error and the
    softmax Jacobian were its diagonal."""

    def output_delta(p):
        yhat = p.acts[-1]
        return (yhat - p.y) * yhat * (1.0 - yhat) / p.m

    return _backprop(weights, biases, x, y, output_delta=output_delta)


def sign_error_in_output_delta(weights, biases, x, y) -> Grads:
    """delta^L = (y - yhat) / m: gradient ascent."""
    return _backprop(weights, biases, x, y, output_delta=lambda p: (p.y - p.acts[-1]) / p.m)


def output_delta_uses_logits(weights, biases, x, y) -> Grads:
    """delta^L = (z^L - y) / m: the softmax forgotten in the output delta."""
    return _backprop(weights, biases, x, y, output_delta=lambda p: (p.zs[-1] - p.y) / p.m)


def missing_one_over_m(weights, biases, x, y) -> Grads:
    """delta^L = yhat - y: the batch sum instead of the batch mean."""
    return _backprop(weights, biases, x, y, output_delta=lambda p: p.acts[-1] - p.y)


def weight_grad_not_divided_by_m(weights, biases, x, y) -> Grads:
    """1/m applied to the bias gradients (by a mean) but forgotten for the weights."""
    return _backprop(
        weights,
        biases,
        x,
        y,
        output_delta=lambda p: p.acts[-1] - p.y,
        grad_b=lambda p, k, d: np.mean(d, axis=1, keepdims=True),
    )


def divided_by_m_twice(weights, biases, x, y) -> Grads:
    """The weight gradient divides by m again after the output delta already did."""
    return _backprop(weights, biases, x, y, grad_w=lambda p, k, d: d @ p.acts[k].T / p.m)


def bias_grad_not_summed_over_batch(weights, biases, x, y) -> Grads:
    """dJ/db = delta, as in the notebook: right only for a single sample (shape (n, m))."""
    return _backprop(weights, biases, x, y, grad_b=lambda p, k, d: d)


def bias_grad_summed_over_wrong_axis(weights, biases, x, y) -> Grads:
    """dJ/db = delta summed over units (axis 0) instead of samples (shape (1, m))."""
    return _backprop(
        weights, biases, x, y, grad_b=lambda p, k, d: np.sum(d, axis=0, keepdims=True)
    )


def softmax_over_wrong_axis(weights, biases, x, y) -> Grads:
    """Softmax normalised over the batch (axis 1) instead of the output units."""
    return _backprop(
        weights, biases, x, y, forward=lambda w, b, x: _forward(w, b, x, softmax_axis=1)
    )


def bias_dropped_in_forward_pass(weights, biases, x, y) -> Grads:
    """z^l = W^l a^{l-1}, forgetting + b^l in the forward pass."""
    return _backprop(
        weights, biases, x, y, forward=lambda w, b, x: _forward(w, b, x, use_bias=False)
    )


def relu_prime_on_previous_layer_activation(weights, biases, x, y) -> Grads:
    """relu'(a^{l-1}) instead of relu'(z^l): activation of the wrong layer (where shapes fit).

    relu'(a^l) of the *same* layer would be an equivalent mutant (a^l > 0 exactly when
    z^l > 0), so the off-by-one goes one layer down.
    """

    def propagate(p, k, delta):
        back = p.weights[k + 1].T @ delta
        wrong = p.acts[k]
        return back * _relu_prime(wrong if wrong.shape == back.shape else p.zs[k])

    return _backprop(weights, biases, x, y, propagate=propagate)


def sigmoid_prime_instead_of_relu_prime(weights, biases, x, y) -> Grads:
    """sigma'(z^l) = sigma(z^l)(1 - sigma(z^l)) in place of relu'(z^l)."""

    def propagate(p, k, delta):
        s = 1.0 / (1.0 + np.exp(-p.zs[k]))
        return (p.weights[k + 1].T @ delta) * s * (1.0 - s)

    return _backprop(weights, biases, x, y, propagate=propagate)


def relu_prime_applied_to_output_delta(weights, biases, x, y) -> Grads:
    """delta^L = (yhat - y) / m * relu'(z^L): the hidden activation's derivative on the output."""
    return _backprop(
        weights,
        biases,
        x,
        y,
        output_delta=lambda p: (p.acts[-1] - p.y) / p.m * _relu_prime(p.zs[-1]),
    )


def grad_w_uses_activation_of_wrong_layer(weights, biases, x, y) -> Grads:
    """dJ/dW^l = delta^l (a^l)^T instead of delta^l (a^{l-1})^T (off by one; square W only)."""

    def grad_w(p, k, delta):
        a = p.acts[k + 1] if _is_square(p.weights[k]) else p.acts[k]
        return delta @ a.T

    return _backprop(weights, biases, x, y, grad_w=grad_w)


def grad_w_outer_product_transposed(weights, biases, x, y) -> Grads:
    """dJ/dW^l = a^{l-1} (delta^l)^T, the outer product in the wrong order (square W only)."""

    def grad_w(p, k, delta):
        return p.acts[k] @ delta.T if _is_square(p.weights[k]) else delta @ p.acts[k].T

    return _backprop(weights, biases, x, y, grad_w=grad_w)


def loop_stops_before_first_layer(weights, biases, x, y) -> Grads:
    """``range(L - 1, 0, -1)``: the first layer keeps its zero-initialised gradients."""
    return _backprop(weights, biases, x, y, lowest=1)


def bias_grad_mean_over_batch(weights, biases, x, y) -> Grads:
    """dJ/db = the mean of delta over the batch, where delta^L already carries the 1/m."""
    return _backprop(
        weights, biases, x, y, grad_b=lambda p, k, d: np.mean(d, axis=1, keepdims=True)
    )


def bias_grad_from_weight_rows(weights, biases, x, y) -> Grads:
    """dJ/db = the row sums of dJ/dW: the weight gradient summed where delta should be."""
    return _backprop(
        weights,
        biases,
        x,
        y,
        grad_b=lambda p, k, d: np.sum(d @ p.acts[k].T, axis=1, keepdims=True),
    )


def target_classes_reversed(weights, biases, x, y) -> Grads:
    """The one-hot targets read in reverse class order."""
    return _backprop(weights, biases, x, np.asarray(y)[::-1])


def yhat_rounded_to_two_places(weights, biases, x, y) -> Grads:
    """yhat rounded to 2 decimal places before the output delta, as by hand."""
    return _backprop(
        weights, biases, x, y, output_delta=lambda p: (np.round(p.acts[-1], 2) - p.y) / p.m
    )


MUTANTS: dict[str, Backprop] = {
    f.__name__: f
    for f in [
        transposed_weight_in_delta_recursion,
        missing_relu_prime,
        squared_error_output_delta,
        sign_error_in_output_delta,
        output_delta_uses_logits,
        missing_one_over_m,
        weight_grad_not_divided_by_m,
        divided_by_m_twice,
        bias_grad_not_summed_over_batch,
        bias_grad_summed_over_wrong_axis,
        softmax_over_wrong_axis,
        bias_dropped_in_forward_pass,
        relu_prime_on_previous_layer_activation,
        sigmoid_prime_instead_of_relu_prime,
        relu_prime_applied_to_output_delta,
        grad_w_uses_activation_of_wrong_layer,
        grad_w_outer_product_transposed,
        loop_stops_before_first_layer,
        bias_grad_mean_over_batch,
        bias_grad_from_weight_rows,
        target_classes_reversed,
        yhat_rounded_to_two_places,
    ]
}
