"""Benchmark the symbolic derivation; prints wall times (seconds) for the README.

Run: ``python bench/derive.py``. Figures:
- ``symbackprop derive`` on the seed, a fresh interpreter (includes ``import sympy``);
- compact derivation + exact values of 16-32-32-10 (1,930 parameters) at a random point,
  and the decimals of every gradient;
- for comparison, the naive approach on 8-16-4: ``sympy.diff`` of the fully expanded loss
  for every parameter, then ``lambdify`` of the results.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time

from sympy import ImmutableMatrix, Rational, diff, lambdify

from symbackprop.derivation import Options, decimal, derive
from symbackprop.spec import ActivationSpec, LossSpec, NetworkSpec


def random_spec(layers: tuple[int, ...], seed: int = 0) -> NetworkSpec:
    """A relu/softmax/cross-entropy network with 2-decimal weights drawn uniformly in [-1, 1]."""
    rng = random.Random(seed)

    def matrix(rows: int, cols: int) -> ImmutableMatrix:
        return ImmutableMatrix(rows, cols, lambda i, j: Rational(rng.randint(-100, 100), 100))

    depth = len(layers) - 1
    weights = tuple(matrix(layers[l + 1], layers[l]) for l in range(depth))
    biases = tuple(matrix(layers[l + 1], 1) for l in range(depth))
    y = ImmutableMatrix(layers[-1], 1, lambda i, j: int(i == 0))
    activations = (ActivationSpec("relu"),) * (depth - 1) + (ActivationSpec("softmax"),)
    return NetworkSpec(
        f"random {layers}",
        layers,
        activations,
        LossSpec("cross_entropy"),
        weights,
        biases,
        matrix(layers[0], 1),
        y,
    )


def timed(label: str, function, *args):
    start = time.perf_counter()
    result = function(*args)
    print(f"{label:<58} {time.perf_counter() - start:8.2f} s", flush=True)
    return result


def cli_seed() -> None:
    subprocess.run(
        [sys.executable, "-m", "symbackprop", "derive"], check=True, stdout=subprocess.DEVNULL
    )


def naive(spec: NetworkSpec) -> None:
    """diff of the whole expanded loss, then lambdify: what symbackprop avoids."""
    d = derive(spec, Options(expand_limit=0))
    net = d.network
    expansions = {}
    for layer in net.layers:
        for symbols, definitions in (
            (layer.pre_activation, layer.z_definition),
            (layer.activation, layer.a_definition),
        ):
            expansions.update(
                {s: e.xreplace(expansions) for s, e in zip(symbols, definitions, strict=True)}
            )
    loss = net.loss_definition.xreplace(expansions)
    parameters = [s for _, m in net.parameters() for s in m]
    gradients = timed(
        "  naive: diff of the expanded loss, every parameter",
        lambda: [diff(loss, p) for p in parameters],
    )
    symbols = [*net.x, *net.y, *parameters]
    timed("  naive: lambdify of those gradients", lambda: lambdify(symbols, gradients, cse=True))


def main() -> None:
    print(f"python {sys.version.split()[0]}")
    timed("seed: `python -m symbackprop derive` (fresh interpreter)", cli_seed)
    big = random_spec((16, 32, 32, 10))
    d = timed("16-32-32-10: compact derivation + exact values", derive, big)
    timed(
        "16-32-32-10: decimals of all 1930 gradients (12 digits)",
        lambda: [decimal(v, 12) for m in d.values.gradients.values() for v in m],
    )
    print("8-16-4, naive whole-expression approach:")
    naive(random_spec((8, 16, 4)))
    timed("8-16-4: symbackprop compact derivation + exact values", derive, random_spec((8, 16, 4)))


if __name__ == "__main__":
    main()
