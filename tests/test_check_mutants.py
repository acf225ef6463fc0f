"""Every deliberately wrong backprop in ``backprop_mutants`` is caught by ``check``.

Each mutant is routed through ``check(..., backprop=mutant)`` and ``assert_backprop_matches`` on
the seed, on 3-4-4-2 (a square hidden layer, for the mutations that need one) and on batches
of both: caught means the report is not ok, or the backprop's output is rejected as bad input.
The correct backprop passes everywhere.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from backprop_mutants import MUTANTS, correct_backprop

from symbackprop import derive
from symbackprop.check import DOCUMENTED_POINT, USER, check
from symbackprop.errors import UserBackpropError
from symbackprop.spec import parse_spec
from symbackprop.testing import assert_backprop_matches

RANDOM_POINTS = 4


def spec_text(layers: list[int], samples: int | None, seed: int) -> str:
    rng = random.Random(seed)

    def row(n: int) -> str:
        return "[" + ", ".join(f"{rng.randint(-100, 100) / 100:.2f}" for _ in range(n)) + "]"

    def one_hot() -> str:
        k = rng.randrange(layers[-1])
        return "[" + ", ".join(str(int(i == k)) for i in range(layers[-1])) + "]"

    params = []
    for l in range(len(layers) - 1):
        w = "[" + ", ".join(row(layers[l]) for _ in range(layers[l + 1])) + "]"
        params += [f"W{l + 1} = {w}", f"b{l + 1} = {row(layers[l + 1])}"]
    if samples is None:
        x, y = row(layers[0]), one_hot()
    else:
        x = "[" + ", ".join(row(layers[0]) for _ in range(samples)) + "]"
        y = "[" + ", ".join(one_hot() for _ in range(samples)) + "]"
    acts = ", ".join(['"relu"'] * (len(layers) - 2) + ['"softmax"'])
    return (
        f'[network]\nlayers = {layers}\nactivations = [{acts}]\nloss = "cross_entropy"\n\n'
        "[parameters]\n" + "\n".join(params) + f"\n\n[data]\nx = {x}\ny = {y}\n"
    )


@pytest.fixture(scope="module")
def derivations():
    return {
        "seed": derive("seed"),
        "3-4-4-2": derive(parse_spec(spec_text([3, 4, 4, 2], None, 1))),
        "seed-batch-4": derive(parse_spec(spec_text([2, 3, 2], 4, 2))),
        "3-4-4-2-batch-4": derive(parse_spec(spec_text([3, 4, 4, 2], 4, 3))),
    }


def caught_by_check(mutant, derivation) -> bool:
    try:
        report = check(derivation, backprop=mutant, random_points=RANDOM_POINTS)
    except UserBackpropError:
        return True  # wrong shapes or list lengths, NaN, or an exception inside it
    return not all(c.ok for c in report.comparisons if c.name == USER)


def caught_by_assertion(mutant, derivation) -> bool:
    try:
        assert_backprop_matches(mutant, derivation, random_points=RANDOM_POINTS)
    except AssertionError:
        return True
    return False


def test_corpus_is_large_enough() -> None:
    assert len(MUTANTS) >= 12


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_is_caught(name: str, derivations) -> None:
    mutant = MUTANTS[name]
    by_check = {key: caught_by_check(mutant, d) for key, d in derivations.items()}
    by_assertion = {key: caught_by_assertion(mutant, d) for key, d in derivations.items()}
    assert any(by_check.values()), by_check
    assert by_assertion == by_check


@pytest.mark.parametrize("seed", [0, 1])
def test_correct_backprop_passes(seed: int, derivations) -> None:
    for key, derivation in derivations.items():
        report = check(
            derivation, backprop=correct_backprop, random_points=RANDOM_POINTS, seed=seed
        )
        assert report.ok, (key, report.failure_table())
        assert_backprop_matches(
            correct_backprop, derivation, random_points=RANDOM_POINTS, seed=seed
        )


def test_random_points_catch_what_the_documented_point_hides(derivations) -> None:
    """At the seed's documented point every ReLU is active: forgetting ReLU' changes nothing."""
    mutant = MUTANTS["missing_relu_prime"]
    report = check(derivations["seed"], backprop=mutant, random_points=RANDOM_POINTS)
    mine = {c.point: c.ok for c in report.comparisons if c.name == USER}
    assert mine[DOCUMENTED_POINT] and not all(mine.values())


@pytest.mark.parametrize(
    ("name", "only_in"),
    [
        ("bias_grad_not_summed_over_batch", "batch"),
        ("missing_one_over_m", "batch"),
        ("divided_by_m_twice", "batch"),
        ("transposed_weight_in_delta_recursion", "3-4-4-2"),
        ("grad_w_outer_product_transposed", "3-4-4-2"),
    ],
)
def test_mutants_that_need_a_batch_or_a_square_layer(name: str, only_in: str, derivations) -> None:
    caught = {key: caught_by_check(MUTANTS[name], d) for key, d in derivations.items()}
    assert caught["seed"] is False
    assert all(caught[key] for key in caught if only_in in key), caught
