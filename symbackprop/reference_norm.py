"""Hand-written NumPy batch norm, layer norm and inverted dropout: the second opinion.

CS231n-style ``*_forward(x, ...) -> (out, cache)`` and ``*_backward(dout, cache)`` pairs. The
backward passes walk the computational graph one node at a time (mean, centred input, its
square, variance, square root, inverse, normalised input, scale and shift), as in Kratzert's
"Understanding the backward pass through Batch Normalization Layer"; they share nothing with
the compact textbook forms of the symbolic side, which the check compares them with.

Shapes: the batch axis first. Batch norm takes ``(N, D)`` or feature maps ``(N, C, H, W)``,
whose statistics are per channel over (N, H, W) (spatial batch norm); ``gamma`` and ``beta``
are ``(D,)`` or ``(C,)``. Layer norm normalises each sample over all its entries; its ``gamma``
and ``beta`` have one sample's shape. Dropout multiplies by a given 0/1 ``mask`` of x's shape
and divides by the keep probability ``p``.

Example:
    >>> x = np.array([[1.0, 2.0], [3.0, 6.0]])
    >>> out, cache = batchnorm_forward(x, np.ones(2), np.zeros(2), eps=0.0)
    >>> out.tolist()
    [[-1.0, -1.0], [1.0, 1.0]]
"""

from typing import Any

import numpy as np

Array = np.ndarray

__all__ = [
    "batchnorm_backward",
    "batchnorm_forward",
    "dropout_backward",
    "dropout_forward",
    "layernorm_backward",
    "layernorm_forward",
]


def _rows(x: Array) -> Array:
    """(N, D) as is; (N, C, H, W) as (N H W, C): one column per channel."""
    return x if x.ndim == 2 else x.transpose(0, 2, 3, 1).reshape(-1, x.shape[1])


def _unrows(rows: Array, shape: tuple[int, ...]) -> Array:
    if len(shape) == 2:
        return rows
    n, c, h, w = shape
    return rows.reshape(n, h, w, c).transpose(0, 3, 1, 2)


def _normalise_columns(x: Array, eps: float, divisor: int) -> tuple[Array, tuple[Any, ...]]:
    """Each column of x (M, K) to zero mean and unit variance, the graph's nodes kept."""
    m = x.shape[0]
    mu = np.sum(x, axis=0) / m  # step 1
    xmu = x - mu  # step 2
    sq = xmu**2  # step 3
    var = np.sum(sq, axis=0) / divisor  # step 4
    sqrtvar = np.sqrt(var + eps)  # step 5
    ivar = 1.0 / sqrtvar  # step 6
    xhat = xmu * ivar  # step 7
    return xhat, (xmu, ivar, sqrtvar, var, eps, divisor)


def _normalise_columns_backward(dxhat: Array, nodes: tuple[Any, ...]) -> Array:
    """Steps 7 to 0 backwards: dJ/dx from dJ/dxhat."""
    xmu, ivar, sqrtvar, var, eps, divisor = nodes
    m = dxhat.shape[0]
    divar = np.sum(dxhat * xmu, axis=0)  # step 7
    dxmu1 = dxhat * ivar
    dsqrtvar = -1.0 / sqrtvar**2 * divar  # step 6
    dvar = 0.5 / np.sqrt(var + eps) * dsqrtvar  # step 5
    dsq = np.ones_like(xmu) * dvar / divisor  # step 4
    dxmu2 = 2 * xmu * dsq  # step 3
    dx1 = dxmu1 + dxmu2  # step 2
    dmu = -np.sum(dx1, axis=0)
    dx2 = np.ones_like(xmu) * dmu / m  # step 1
    return dx1 + dx2


def batchnorm_forward(
    x: Array, gamma: Array, beta: Array, eps: float = 1e-5, unbiased: bool = False
) -> tuple[Array, tuple[Any, ...]]:
    """Training-mode batch norm: out = gamma xhat + beta with batch statistics."""
    rows = _rows(np.asarray(x, dtype=np.float64))
    divisor = rows.shape[0] - 1 if unbiased else rows.shape[0]
    xhat, nodes = _normalise_columns(rows, eps, divisor)
    out = gamma * xhat + beta  # steps 8 and 9
    return _unrows(out, x.shape), (xhat, gamma, nodes, x.shape)


def batchnorm_backward(dout: Array, cache: tuple[Any, ...]) -> tuple[Array, Array, Array]:
    """(dx, dgamma, dbeta) from dout, through every node of the graph."""
    xhat, gamma, nodes, shape = cache
    d = _rows(dout)
    dbeta = np.sum(d, axis=0)  # step 9
    dgamma = np.sum(d * xhat, axis=0)  # step 8
    dx = _normalise_columns_backward(d * gamma, nodes)
    return _unrows(dx, shape), dgamma, dbeta


def layernorm_forward(
    x: Array, gamma: Array, beta: Array, eps: float = 1e-5
) -> tuple[Array, tuple[Any, ...]]:
    """Layer norm: each sample normalised over all its entries, then scaled and shifted."""
    x = np.asarray(x, dtype=np.float64)
    columns = x.reshape(x.shape[0], -1).T  # one column per sample
    xhat, nodes = _normalise_columns(columns, eps, columns.shape[0])
    out = gamma.reshape(-1, 1) * xhat + beta.reshape(-1, 1)
    return out.T.reshape(x.shape), (xhat, gamma, nodes, x.shape)


def layernorm_backward(dout: Array, cache: tuple[Any, ...]) -> tuple[Array, Array, Array]:
    """(dx, dgamma, dbeta) from dout."""
    xhat, gamma, nodes, shape = cache
    d = dout.reshape(shape[0], -1).T
    dbeta = np.sum(d, axis=1).reshape(gamma.shape)
    dgamma = np.sum(d * xhat, axis=1).reshape(gamma.shape)
    dx = _normalise_columns_backward(d * gamma.reshape(-1, 1), nodes)
    return dx.T.reshape(shape), dgamma, dbeta


def dropout_forward(x: Array, p: float, mask: Array) -> tuple[Array, tuple[Any, ...]]:
    """Inverted dropout with a given mask: out = x * mask / p."""
    return x * mask / p, (mask, p)


def dropout_backward(dout: Array, cache: tuple[Any, ...]) -> Array:
    """dx = dout * mask / p."""
    mask, p = cache
    return dout * mask / p
