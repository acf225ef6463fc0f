"""Exact values of deep towers of functions (tanh(tanh(...))) are substituted as written."""

from __future__ import annotations

from pathlib import Path

import mpmath
import numpy as np

from symbackprop import derive
from symbackprop.exact import NEST_LIMIT

DEPTH = 20


def _chain(folder: Path) -> Path:
    widths = ", ".join(["1"] * (DEPTH + 1))
    activations = ", ".join(['"tanh"'] * (DEPTH - 1) + ['"identity"'])
    parameters = "".join(f"W{i} = [[0.9]]\nb{i} = [0.1]\n" for i in range(1, DEPTH + 1))
    path = folder / "chain.toml"
    path.write_text(
        f'[network]\nlayers = [{widths}]\nactivations = [{activations}]\nloss = "squared_error"\n'
        f"[parameters]\n{parameters}[data]\nx = [0.5]\ny = [0.2]\n"
    )
    return path


def _loss(w1: mpmath.mpf) -> mpmath.mpf:
    """The chain's loss at 40 digits, written out here independently of the tool."""
    a = mpmath.mpf("0.5")
    for layer in range(DEPTH):
        z = (w1 if layer == 0 else mpmath.mpf("0.9")) * a + mpmath.mpf("0.1")
        a = z if layer == DEPTH - 1 else mpmath.tanh(z)
    return (a - mpmath.mpf("0.2")) ** 2 / 2


def test_a_20_deep_tanh_chain_derives_and_its_gradient_is_the_mpmath_derivative(
    tmp_path: Path,
) -> None:
    assert DEPTH > NEST_LIMIT  # the unevaluated substitution is what this test runs
    d = derive(str(_chain(tmp_path)))
    with mpmath.workdps(40):
        expected = float(mpmath.diff(_loss, mpmath.mpf("0.9")))
    np.testing.assert_allclose(d.gradient("W1"), [[expected]], rtol=1e-12)
