"""``symbackprop.testing.assert_backprop_matches`` for users' own test suites."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from backprop_mutants import MUTANTS, correct_backprop

from symbackprop.check import USER
from symbackprop.reference import notebook_backprop
from symbackprop.testing import assert_backprop_matches


def test_a_correct_backprop_passes_and_returns_the_report() -> None:
    report = assert_backprop_matches(correct_backprop, "seed", random_points=3, seed=4)
    assert report.ok
    assert len([c for c in report.comparisons if c.name == USER]) == 4


def test_only_the_users_backprop_is_judged() -> None:
    """seed-notebook's hand table is wrong, but that is not the backprop's fault."""
    report = assert_backprop_matches(notebook_backprop, "seed-notebook", random_points=1)
    assert not report.ok  # the documented values still fail in the report itself


def test_the_message_is_the_per_entry_table() -> None:
    with pytest.raises(AssertionError) as caught:
        assert_backprop_matches(MUTANTS["sign_error_in_output_delta"], "seed", random_points=0)
    message = str(caught.value)
    lines = message.splitlines()
    assert lines[0] == (
        "your backprop does not match the exact gradients of seed: 2-3-2, relu -> softmax, "
        "cross_entropy"
    )
    assert lines[1] == "17 failing entries"
    assert lines[2] == "exact vs user backprop at the documented point:"
    assert lines[3].split() == ["entry", "value", "exact", "difference", "tolerance"]
    assert lines[4].split() == [
        "dW1[0,0]",
        "0.110456274679",
        "-0.110456274679",
        "+2.21e-01",
        "1.20e-08",
    ]
    assert any(
        line.split()[:3] == ["dW2[0,1]", "-0.220912549358", "0.220912549358"] for line in lines
    )


def test_a_bug_hidden_at_the_documented_point() -> None:
    mutant = MUTANTS["missing_relu_prime"]
    assert_backprop_matches(mutant, "seed", random_points=0)  # every ReLU is active there
    with pytest.raises(AssertionError, match=r"It matches at the documented point but not at \d"):
        assert_backprop_matches(mutant, "seed", random_points=4)


def test_broken_return_values_are_assertion_errors() -> None:
    def flat(weights, biases, x, y):
        grads_w, grads_b = correct_backprop(weights, biases, x, y)
        return grads_w, [np.ravel(g) for g in grads_b]

    with pytest.raises(AssertionError, match=r"^your backprop failed: at the documented point: "):
        assert_backprop_matches(flat, random_points=0)

    def raising(weights, biases, x, y):
        raise ZeroDivisionError("oops")

    with pytest.raises(AssertionError, match=r"ZeroDivisionError: oops"):
        assert_backprop_matches(raising, random_points=0)
