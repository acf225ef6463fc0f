"""Benchmark the numeric check; prints wall times (seconds) for the README.

Run: ``python bench/check.py``. Figures:
- ``symbackprop check`` on the seed in a fresh interpreter (includes interpreter start and
  ``import sympy``; the target is under 2 s), and ``symbackprop check seed-notebook``;
- ``check`` of a 16-32-32-10 network (1,930 parameters) at one point, its documented point:
  derivation, lambdify, exact values to 60 digits, reference backprop and central finite
  differences of all 1,930 entries (the target is under 10 s);
- the same network with the default 8 random points as well, for comparison.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from sympy import ImmutableMatrix, Rational

from symbackprop.check import check
from symbackprop.spec import ActivationSpec, LossSpec, NetworkSpec


def random_spec(layers: tuple[int, ...], seed: int = 0) -> NetworkSpec:
    """ReLU hidden layers, softmax, cross-entropy; two-decimal weights uniform in [-1, 1]."""
    rng = random.Random(seed)

    def matrix(rows: int, cols: int) -> ImmutableMatrix:
        return ImmutableMatrix(rows, cols, lambda i, j: Rational(rng.randint(-100, 100), 100))

    depth = len(layers) - 1
    return NetworkSpec(
        f"random {'-'.join(map(str, layers))}",
        layers,
        (ActivationSpec("relu"),) * (depth - 1) + (ActivationSpec("softmax"),),
        LossSpec("cross_entropy"),
        tuple(matrix(layers[l + 1], layers[l]) for l in range(depth)),
        tuple(matrix(layers[l + 1], 1) for l in range(depth)),
        matrix(layers[0], 1),
        ImmutableMatrix(layers[-1], 1, lambda i, j: int(i == 0)),
    )


def timed(label: str, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    start = time.perf_counter()
    result = function(*args, **kwargs)
    print(f"{label:<66} {time.perf_counter() - start:7.2f} s", flush=True)
    return result


def cli(*argv: str) -> None:
    done = subprocess.run(["symbackprop", "check", *argv], stdout=subprocess.DEVNULL, check=False)
    if done.returncode not in (0, 1):
        raise SystemExit(f"symbackprop check {' '.join(argv)} exited with {done.returncode}")


def main() -> None:
    print(f"python {sys.version.split()[0]}")
    timed("seed: `symbackprop check` (fresh interpreter; target < 2 s)", cli)
    timed(
        "seed-notebook: `symbackprop check seed-notebook` (fresh interpreter)",
        cli,
        "seed-notebook",
    )
    big = random_spec((16, 32, 32, 10))
    report = timed("16-32-32-10: check at one point (target < 10 s)", check, big, random_points=0)
    assert report.ok, report.failure_table()
    report = timed(
        "16-32-32-10: check at the point and 8 random points", check, big, random_points=8
    )
    assert report.ok, report.failure_table()


if __name__ == "__main__":
    main()
