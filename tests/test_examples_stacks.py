"""The published conv and pooling walk-throughs in examples/, reproduced to every digit they print.

Each spec cites its source in a comment, lists the published numbers and says how it was
adapted. ``[expected]`` does not exist for stacks, so the numbers are compared here, each at
the precision it was printed with (``rounds_to``: half a unit in its last digit). Where the
source is wrong, the test asserts the correct value and that the published one is off.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from sympy import Expr, Integer, Rational
from test_examples import EXAMPLES, Published, matrix_cases

from symbackprop import check, derive
from symbackprop.checking.compare import DOCUMENTED
from symbackprop.cli import main
from symbackprop.stack_derivation import StackDerivation

SO = "stackoverflow-conv-filter-gradients"
POOL = "stats-se-max-pool-gradient"
LEXAI = "lexailabs-conv2d-backward"
STACKS = [SO, POOL, LEXAI]


@cache
def example(name: str, relu_prime_at_zero: Rational = Rational(0)) -> StackDerivation:
    d = derive(EXAMPLES / f"{name}.toml", relu_prime_at_zero=relu_prime_at_zero)
    assert isinstance(d, StackDerivation)
    return d


def _symbol(name: str, position: int, index: tuple[int, ...]) -> Expr:
    """The output of layer ``position`` (1-based) at ``index``, for the one sample."""
    return example(name).graph.outputs[position][0][index]


def output(name: str, position: int, *index: int) -> Callable[[], Expr]:
    return lambda: example(name).values[_symbol(name, position, index)]


def adjoint(name: str, position: int, *index: int) -> Callable[[], Expr]:
    """dJ/d(output of layer ``position``) at ``index``."""
    return lambda: example(name).adjoint_value(_symbol(name, position, index))


def minus(get: Callable[[], Expr]) -> Callable[[], Expr]:
    return lambda: -get()


def gradient(name: str, key: str, *index: int) -> Callable[[], Expr]:
    return lambda: example(name).gradients[key][index]


def step(name: str, key: str, rate: int, *index: int) -> Callable[[], Expr]:
    """The entry after one gradient-descent step with learning rate ``rate``."""
    return lambda: example(name).spec.parameters[key][index] - rate * gradient(name, key, *index)()


def with_parameters(name: str, **parameters: list[object]) -> StackDerivation:
    spec = example(name).spec
    arrays = {
        k: np.array(v, dtype=object).reshape(spec.parameters[k].shape)
        for k, v in parameters.items()
    }
    d = derive(dataclasses.replace(spec, parameters={**spec.parameters, **arrays}))
    assert isinstance(d, StackDerivation)
    return d


def loss(d: StackDerivation) -> Expr:
    return d.values[d.graph.loss]


# --- Stack Overflow 56127257: conv 2x2 + ReLU, squared error, a sign slip ---------------------


def _so_flat(i: int, j: int) -> int:
    return 2 * i + j


SO_NUMBERS = [
    *matrix_cases(
        "output after ReLU", lambda i, j: output(SO, 1, 0, i, j), [["1", "1"], ["0", "0"]]
    ),
    # the asker's error is target - output = -dJ/dyhat
    *matrix_cases(
        "error (target - output)",
        lambda i, j: minus(adjoint(SO, 2, _so_flat(i, j))),
        [["-1", "-1"], ["0", "0"]],
    ),
    # the error used as the kernel over X is -dJ/dW; its bottom row is printed wrong
    Published("-dJ/dW[1,1]", minus(gradient(SO, "W1", 0, 0, 0, 0)), "-1"),
    Published("-dJ/dW[1,2]", minus(gradient(SO, "W1", 0, 0, 0, 1)), "-1"),
    Published("-dJ/dW[2,1]", minus(gradient(SO, "W1", 0, 0, 1, 0)), "1", correct="0"),
    Published("-dJ/dW[2,2]", minus(gradient(SO, "W1", 0, 0, 1, 1)), "0", correct="-1"),
    # the new matrix is W minus the "gradients" (rate 1): not a descent step at all
    Published("new W[1,1]", step(SO, "W1", 1, 0, 0, 0, 0), "2", correct="0"),
    Published("new W[1,2]", step(SO, "W1", 1, 0, 0, 0, 1), "1", correct="-1"),
    Published("new W[2,1]", step(SO, "W1", 1, 0, 0, 1, 0), "-1", correct="0"),
    Published("new W[2,2]", step(SO, "W1", 1, 0, 0, 1, 1), "1", correct="0"),
]


# --- Cross Validated 414301: 2x2 max-pool over two channels ----------------------------------

# the source's dL/dx, channels last: [row][column][channel]
POOL_DX = [[["0", "0"], ["1", "0"]], [["0", "2"], ["0", "0"]]]

POOL_NUMBERS = [
    Published("pooled[1]", output(POOL, 2, 0, 0, 0), "4"),
    Published("pooled[2]", output(POOL, 2, 1, 0, 0), "7"),
    Published("g[1]", adjoint(POOL, 3, 0), "1"),
    Published("g[2]", adjoint(POOL, 3, 1), "2"),
    *[
        Published(f"dL/dx[{i},{j},{c}]", adjoint(POOL, 1, c, i, j), POOL_DX[i][j][c])
        for i, j, c in itertools.product(range(2), range(2), range(2))
    ],
]


# --- Lexai Labs build-cnn-05: dW and dx of a 2x2 conv for a one-hot upstream gradient ---------

LEXAI_DX = [["1", "2", "0", "0"], ["3", "4", "0", "0"], ["0"] * 4, ["0"] * 4]

LEXAI_NUMBERS = [
    *matrix_cases("dW", lambda i, j: gradient(LEXAI, "W2", 0, 0, i, j), [["0", "1"], ["4", "5"]]),
    *matrix_cases("dx", lambda i, j: adjoint(LEXAI, 1, 0, i, j), LEXAI_DX),
    *[Published(f"grad_out[{k}]", adjoint(LEXAI, 3, k), "1" if k == 0 else "0") for k in range(9)],
]


PUBLISHED = {SO: SO_NUMBERS, POOL: POOL_NUMBERS, LEXAI: LEXAI_NUMBERS}


@pytest.mark.parametrize(
    "number",
    [
        pytest.param(number, id=f"{name}: {number.label}")
        for name, numbers in PUBLISHED.items()
        for number in numbers
    ],
)
def test_published_number(number: Published) -> None:
    number.check()


# --- the specs and the explanations in their comments, checked -------------------------------


@pytest.mark.parametrize("name", STACKS)
def test_symbackprop_check_passes_and_judges_every_gradient(name: str) -> None:
    report = check(EXAMPLES / f"{name}.toml")
    # the published numbers in [expected] are judged in test_examples_expected.py
    assert all(c.ok for c in report.comparisons if c.name != DOCUMENTED), report
    entries = sum(np.prod(a.shape) for a in example(name).spec.parameters.values())
    random = [c for c in report.comparisons if c.point.startswith("random point")]
    assert len(random) == 3 * 8
    assert all(c.entries == entries and c.skipped is None and not c.flagged for c in random)


@pytest.mark.parametrize("name", STACKS)
def test_every_stack_example_derives_from_the_command_line(name: str, tmp_path: Path) -> None:
    out = tmp_path / "derivation.json"
    path = EXAMPLES / f"{name}.toml"
    assert main(["derive", str(path), "--format", "json", "--no-expanded", "-o", str(out)]) == 0
    document = json.loads(out.read_text("utf-8"))
    assert set(document["gradients"]) == set(example(name).gradients)


@pytest.mark.parametrize("name", [POOL, LEXAI])
def test_the_identity_convolution_passes_x_through(name: str) -> None:
    """The 1x1 identity kernel in front makes z^(1) = x, so dJ/dz^(1) is dJ/dx."""
    d = example(name)
    first = np.vectorize(lambda s: d.values[s], otypes=[object])(d.graph.outputs[1][0])
    assert (first == d.spec.x[0]).all()


def test_so_loss_sits_on_the_conv_output_and_the_asker_error_is_minus_dj_dyhat() -> None:
    d = example(SO)
    yhat = [d.values[s] for s in d.graph.outputs[2][0]]
    assert yhat == [d.values[s] for s in d.graph.outputs[1][0].ravel()]
    assert [d.adjoint_value(s) for s in d.graph.outputs[2][0]] == [
        a - t for a, t in zip(yhat, d.spec.y[0], strict=True)
    ]


def test_so_published_bottom_row_cannot_come_from_the_error_and_x() -> None:
    """Every error entry is <= 0 and every input entry >= 0: no product is +1."""
    d = example(SO)
    errors = [-d.adjoint_value(s) for s in d.graph.outputs[2][0]]
    inputs = list(d.spec.x[0].ravel())
    assert all(e <= 0 for e in errors) and all(x >= 0 for x in inputs)
    assert max(e * x for e in errors for x in inputs) <= 0


def test_so_correct_step_zeroes_the_loss_and_the_published_one_raises_it() -> None:
    assert loss(example(SO)) == 1
    descent = [[[[step(SO, "W1", 1, 0, 0, i, j)() for j in range(2)] for i in range(2)]]]
    assert loss(with_parameters(SO, W1=descent)) == 0
    assert loss(with_parameters(SO, W1=[[[[2, 1], [-1, 1]]]])) == Rational(9, 2)


@pytest.mark.parametrize("prime", [Rational(1, 2), Integer(1)])
def test_so_gradient_does_not_depend_on_relu_prime_at_zero(prime: Rational) -> None:
    """o21 and o22 sit on the kink, but their error is 0."""
    assert example(SO).nondifferentiable() == ["z^(1)_1,2,1", "z^(1)_1,2,2"]
    assert (example(SO, prime).gradients["W1"] == example(SO).gradients["W1"]).all()


def test_pool_has_no_tied_window() -> None:
    assert example(POOL).nondifferentiable() == []


def test_lexai_output_is_ten_times_the_index_plus_34() -> None:
    """The comment's o[i, j] = 10 (4 i + j) + 34, from which y = output - G was typed."""
    d = example(LEXAI)
    values = [d.values[s] for s in d.graph.outputs[3][0]]
    assert values == [10 * (4 * i + j) + 34 for i in range(3) for j in range(3)]
