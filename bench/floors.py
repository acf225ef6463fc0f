"""The floors ``bench/commands.py`` compares with: a plain backprop of a dense spec file.

Run as ``python bench/floors.py mpmath|numpy|naive-sympy SPEC.toml``: reads the spec with ``tomllib``,
runs one forward and backward pass (ReLU, tanh or sigmoid hidden layers; softmax with
cross-entropy, mean over the batch) and prints the number of gradient entries. ``mpmath``
works at 60 significant digits, the natural competitor for exact values; ``numpy`` is float64.
Written for the benchmark alone: it shares nothing with symbackprop.
"""

from __future__ import annotations

import sys
import tomllib
from fractions import Fraction
from typing import Any


def _matrix(rows: Any) -> list[list[Fraction]]:
    rows = rows if isinstance(rows[0], list) else [[v] for v in rows]
    return [[Fraction(str(v)) for v in row] for row in rows]


def _load(path: str) -> tuple[dict[str, Any], list[list[list[Fraction]]], list, Any, Any]:
    with open(path, "rb") as file:
        spec = tomllib.load(file)
    net, params, data = spec["network"], spec["parameters"], spec["data"]
    depth = len(net["layers"]) - 1
    weights = [_matrix(params[f"W{l + 1}"]) for l in range(depth)]
    biases = [_matrix(params[f"b{l + 1}"]) for l in range(depth)]
    x, y = data["x"], data["y"]
    batch = isinstance(x[0], list)
    xs = [[Fraction(str(v)) for v in s] for s in (x if batch else [x])]
    ys = [[Fraction(str(v)) for v in s] for s in (y if batch else [y])]
    return net, weights, biases, xs, ys


def with_mpmath(path: str) -> int:
    import mpmath

    mpmath.mp.dps = 60
    net, weights, biases, xs, ys = _load(path)
    mp = [
        mpmath.matrix([[mpmath.mpf(v.numerator) / v.denominator for v in r] for r in w])
        for w in weights
    ]
    mb = [
        mpmath.matrix([[mpmath.mpf(v.numerator) / v.denominator for v in r] for r in b])
        for b in biases
    ]
    act = {
        "relu": lambda z: max(z, 0),
        "tanh": mpmath.tanh,
        "sigmoid": lambda z: 1 / (1 + mpmath.exp(-z)),
    }
    der = {
        "relu": lambda z, a: 1 if z > 0 else 0,
        "tanh": lambda z, a: 1 - a**2,
        "sigmoid": lambda z, a: a * (1 - a),
    }
    m, count = len(xs), 0
    grads_w = [mpmath.zeros(w.rows, w.cols) for w in mp]
    grads_b = [mpmath.zeros(b.rows, 1) for b in mb]
    for x, y in zip(xs, ys, strict=True):
        a_list = [mpmath.matrix([mpmath.mpf(v.numerator) / v.denominator for v in x])]
        z_list = []
        for l, (w, b) in enumerate(zip(mp, mb, strict=True)):
            z = w * a_list[-1] + b
            z_list.append(z)
            name = net["activations"][l]
            if name == "softmax":
                e = [mpmath.exp(v) for v in z]
                total = mpmath.fsum(e)
                a_list.append(mpmath.matrix([v / total for v in e]))
            else:
                a_list.append(mpmath.matrix([act[name](v) for v in z]))
        delta = (
            a_list[-1] - mpmath.matrix([mpmath.mpf(v.numerator) / v.denominator for v in y])
        ) / m
        for l in range(len(mp) - 1, -1, -1):
            grads_w[l] += delta * a_list[l].T
            grads_b[l] += delta
            if l:
                back = mp[l].T * delta
                name = net["activations"][l - 1]
                delta = mpmath.matrix(
                    [back[i] * der[name](z_list[l - 1][i], a_list[l][i]) for i in range(back.rows)]
                )
    for g in grads_w + grads_b:
        count += g.rows * g.cols
    return count


def with_numpy(path: str) -> int:
    import numpy as np

    net, weights, biases, xs, ys = _load(path)
    ws = [np.array(w, dtype=float) for w in weights]
    bs = [np.array(b, dtype=float) for b in biases]
    x, y = np.array(xs, dtype=float).T, np.array(ys, dtype=float).T
    act = {
        "relu": lambda z: np.maximum(z, 0),
        "tanh": np.tanh,
        "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    }
    der = {
        "relu": lambda z, a: (z > 0) * 1.0,
        "tanh": lambda z, a: 1 - a**2,
        "sigmoid": lambda z, a: a * (1 - a),
    }
    a_list, z_list = [x], []
    for l, (w, b) in enumerate(zip(ws, bs, strict=True)):
        z = w @ a_list[-1] + b
        z_list.append(z)
        name = net["activations"][l]
        if name == "softmax":
            e = np.exp(z - z.max(axis=0))
            a_list.append(e / e.sum(axis=0))
        else:
            a_list.append(act[name](z))
    delta = (a_list[-1] - y) / x.shape[1]
    count = 0
    for l in range(len(ws) - 1, -1, -1):
        count += (delta @ a_list[l].T).size + delta.sum(axis=1).size
        if l:
            delta = (ws[l].T @ delta) * der[net["activations"][l - 1]](z_list[l - 1], a_list[l])
    return count


def with_naive_sympy(path: str) -> int:
    """The naive SymPy way: the expanded loss, ``diff`` by every parameter, then ``lambdify``."""
    import sympy

    net, weights, biases, xs, ys = _load(path)
    ws = [
        sympy.Matrix(len(w), len(w[0]), lambda i, j, l=l: sympy.Symbol(f"W{l}_{i}_{j}"))
        for l, w in enumerate(weights)
    ]
    bs = [
        sympy.Matrix(len(b), 1, lambda i, j, l=l: sympy.Symbol(f"b{l}_{i}"))
        for l, b in enumerate(biases)
    ]
    act = {
        "relu": lambda z: sympy.Max(z, 0),
        "tanh": sympy.tanh,
        "sigmoid": lambda z: 1 / (1 + sympy.exp(-z)),
    }
    loss = sympy.Integer(0)
    for x, y in zip(xs, ys, strict=True):
        a = sympy.Matrix([sympy.Rational(v.numerator, v.denominator) for v in x])
        for l, (w, b) in enumerate(zip(ws, bs, strict=True)):
            z = w * a + b
            name = net["activations"][l]
            if name == "softmax":
                e = z.applyfunc(sympy.exp)
                a = e / sum(e)
            else:
                a = z.applyfunc(act[name])
        loss -= sum(
            sympy.Rational(t.numerator, t.denominator) * sympy.log(p)
            for t, p in zip(y, a, strict=True)
            if t
        )
    loss = sympy.expand(loss / len(xs))
    params = [s for m in ws + bs for s in m]
    grads = [sympy.diff(loss, s) for s in params]
    function = sympy.lambdify([params], grads, "mpmath")
    values = [
        sympy.Rational(v.numerator, v.denominator)
        for m in weights + biases
        for row in m
        for v in row
    ]
    return len(function(values))


FLOORS = {"mpmath": with_mpmath, "numpy": with_numpy, "naive-sympy": with_naive_sympy}

if __name__ == "__main__":
    kind, spec_path = sys.argv[1], sys.argv[2]
    print(FLOORS[kind](spec_path))
