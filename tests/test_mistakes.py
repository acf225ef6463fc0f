"""The mistake catalogue names the mistake a wrong backprop makes, and never a correct one.

The corpus is ``backprop_mutants`` (ReLU/softmax/cross-entropy networks, one realistic mistake
each) plus a few mutants of a sigmoid/squared-error backprop (Mazur's worked example, which has
a gradient-descent step) and of an L2-regularised network. For each, ``check`` must name the
expected catalogue id for the parameters the mistake changes, in the JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import mpmath
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from backprop_mutants import MUTANTS, correct_backprop
from test_check_mutants import spec_text

from symbackprop import derive
from symbackprop.check import check
from symbackprop.checking.exact_tables import point_data
from symbackprop.mistakes.catalogue import MISTAKES
from symbackprop.mistakes.program import TEXTBOOK, load_net, run
from symbackprop.spec import load_spec, parse_spec
from symbackprop.testing import assert_backprop_matches

EXAMPLES = Path(__file__).parent.parent / "examples"
RANDOM_POINTS = 3

#: The fixed identifiers of issue 12 for dense networks.
DENSE_IDS = [
    "sign",
    "scale",
    "transposed",
    "missing-activation-derivative",
    "wrong-activation-derivative",
    "missing-bias",
    "bias-gradient",
    "target",
    "loss-derivative",
    "softmax-axis",
    "l2",
    "skipped-layer",
    "rounded-intermediate",
    "stale-parameters",
]


def test_catalogue_has_every_dense_identifier() -> None:
    assert list(MISTAKES)[: len(DENSE_IDS)] == DENSE_IDS
    assert all(m.summary and not m.summary.endswith(".") for m in MISTAKES.values())


@pytest.fixture(scope="module")
def derivations():
    l2 = spec_text([2, 3, 2], 2, 5).replace(
        'loss = "cross_entropy"', 'loss = "cross_entropy"\nl2 = 0.05'
    )
    return {
        "seed": derive("seed"),
        "3-4-4-2": derive(parse_spec(spec_text([3, 4, 4, 2], None, 1))),
        "batch": derive(parse_spec(spec_text([2, 3, 2], 4, 2))),
        "l2": derive(parse_spec(l2)),
        "mazur": derive(load_spec(EXAMPLES / "mazur-step-by-step.toml")),
    }


@pytest.mark.parametrize(
    "name",
    [
        "seed",
        "seed-notebook",
        "cs231n-two-layer-net",
        "deeplearning-ai-planar",
        "mazur-step-by-step",
        "nn-timeline-2-2-1",
        "postnetwork-softmax",
        "schiendorfer-worked-example",
    ],
)
def test_unchanged_program_is_the_exact_gradients(name: str) -> None:
    """The textbook program, before any mistake, agrees with the derivation to 30 digits."""
    spec = load_spec(name if name.startswith("seed") else EXAMPLES / f"{name}.toml")
    derivation = derive(spec)
    exact = point_data(derivation, "documented point", spec).numbers
    grads = run(TEXTBOOK, load_net(spec, derivation.options.relu_prime_at_zero))
    assert [f"d{k}" for k in grads] == list(exact)
    with mpmath.workdps(40):
        for key, values in grads.items():
            for (i, j), v in np.ndenumerate(values):
                e = exact[f"d{key}"][i][j]
                assert abs(v - e) <= mpmath.mpf(10) ** -30 * max(1, abs(e)), (key, i, j)


def diagnosed(backprop, derivation) -> dict[str, set[str]]:
    """parameter -> the mistake ids the JSON report names for it."""
    report = json.loads(
        check(derivation, backprop=backprop, random_points=RANDOM_POINTS).to_json()
    )
    named: dict[str, set[str]] = {}
    for m in report["mistakes"]:
        assert (
            m["source"] == "backprop" and m["points"] == f"{RANDOM_POINTS + 1}/{RANDOM_POINTS + 1}"
        )
        for p in m["parameters"]:
            named.setdefault(p, set()).add(m["mistake"])
    return named


#: mutant -> (network, mistake id, parameters it must be named for)
EXPECTED = {
    "transposed_weight_in_delta_recursion": ("3-4-4-2", "transposed", ["W1", "b1"]),
    "missing_relu_prime": ("seed", "missing-activation-derivative", ["W1", "b1"]),
    "squared_error_output_delta": ("seed", "loss-derivative", ["W1", "W2", "b1", "b2"]),
    "sign_error_in_output_delta": ("seed", "sign", ["W1", "W2", "b1", "b2"]),
    "output_delta_uses_logits": ("seed", "loss-derivative", ["W1", "W2", "b1", "b2"]),
    "missing_one_over_m": ("batch", "scale", ["W1", "W2", "b1", "b2"]),
    "weight_grad_not_divided_by_m": ("batch", "scale", ["W1", "W2"]),
    "divided_by_m_twice": ("batch", "scale", ["W1", "W2"]),
    "softmax_over_wrong_axis": ("batch", "softmax-axis", ["W1", "W2", "b1", "b2"]),
    "bias_dropped_in_forward_pass": ("seed", "missing-bias", ["W1", "W2", "b1", "b2"]),
    "relu_prime_on_previous_layer_activation": ("3-4-4-2", "skipped-layer", ["W1", "W2"]),
    "sigmoid_prime_instead_of_relu_prime": (
        "3-4-4-2",
        "wrong-activation-derivative",
        ["W1", "W2"],
    ),
    "relu_prime_applied_to_output_delta": ("batch", "wrong-activation-derivative", ["W2", "b2"]),
    "grad_w_uses_activation_of_wrong_layer": ("3-4-4-2", "skipped-layer", ["W2"]),
    "grad_w_outer_product_transposed": ("3-4-4-2", "transposed", ["W2"]),
    "loop_stops_before_first_layer": ("seed", "skipped-layer", ["W1", "b1"]),
    "bias_grad_mean_over_batch": ("batch", "bias-gradient", ["b1", "b2"]),
    "bias_grad_from_weight_rows": ("seed", "bias-gradient", ["b1", "b2"]),
    "target_classes_reversed": ("seed", "target", ["W1", "W2", "b1", "b2"]),
    "yhat_rounded_to_two_places": ("batch", "rounded-intermediate", ["W2", "b2"]),
}


def test_every_shape_valid_mutant_has_an_expected_diagnosis() -> None:
    shape_errors = {"bias_grad_not_summed_over_batch", "bias_grad_summed_over_wrong_axis"}
    assert set(EXPECTED) == set(MUTANTS) - shape_errors


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_mutant_is_named(name: str, derivations) -> None:
    network, mistake, parameters = EXPECTED[name]
    named = diagnosed(MUTANTS[name], derivations[network])
    for p in parameters:
        assert mistake in named.get(p, set()), (p, named)


def test_scale_reports_the_batch_size(derivations) -> None:
    report = check(derivations["batch"], backprop=MUTANTS["missing_one_over_m"], random_points=2)
    (match,) = report.likely.mistakes
    assert (match.mistake, dict(match.detail)) == ("scale", {"factor": "m = 4"})
    assert (
        "reproduced exactly by 'scale' (factor: m = 4) at the documented point and 2/2 random "
        "points" in report.to_text()
    )


@pytest.mark.parametrize("network", ["seed", "3-4-4-2", "batch"])
def test_correct_backprop_is_never_diagnosed(network: str, derivations) -> None:
    report = check(derivations[network], backprop=correct_backprop, random_points=RANDOM_POINTS)
    assert report.ok and not report.likely.mistakes and not report.likely.unexplained
    assert "Likely mistake" not in report.to_text()


def _l2_backprop(factor: float):
    def backprop(weights, biases, x, y):
        grads_w, grads_b = correct_backprop(weights, biases, x, y)
        return [g + factor * 0.05 * w for g, w in zip(grads_w, weights, strict=True)], grads_b

    return backprop


def test_l2_term_missing_or_halved(derivations) -> None:
    assert check(derivations["l2"], backprop=_l2_backprop(2.0), random_points=2).ok
    assert diagnosed(_l2_backprop(0.0), derivations["l2"])["W1"] == {"l2"}
    report = check(derivations["l2"], backprop=_l2_backprop(1.0), random_points=2)
    assert [(m.mistake, dict(m.detail)) for m in report.likely.mistakes] == [
        ("l2", {"term": "lambda W"})
    ]


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _mazur_backprop(*, prime_at_a: bool = False, stale: bool = False, rate: float = 0.5):
    """Sigmoid layers, half squared error summed: Mazur's network, optionally wrong."""

    def grads(weights, biases, x, y):
        acts, zs = [x], []
        for w, b in zip(weights, biases, strict=True):
            zs.append(w @ acts[-1] + b)
            acts.append(_sigmoid(zs[-1]))

        def prime(k):
            s = _sigmoid(acts[k + 1]) if prime_at_a else acts[k + 1]
            return s * (1 - s)

        delta = (acts[-1] - y) * prime(len(weights) - 1)
        gw, gb = [None] * len(weights), [None] * len(weights)
        for k in range(len(weights) - 1, -1, -1):
            gw[k], gb[k] = delta @ acts[k].T, delta.sum(axis=1, keepdims=True)
            if k:
                delta = (weights[k].T @ delta) * prime(k - 1)
        return gw, gb

    def backprop(weights, biases, x, y):
        if not stale:
            return grads(weights, biases, x, y)
        gw, _ = grads(weights, biases, x, y)
        return grads([w - rate * g for w, g in zip(weights, gw, strict=True)], biases, x, y)

    return backprop


def test_mazur_correct_and_mistaken(derivations) -> None:
    mazur = derivations["mazur"]
    report = check(mazur, backprop=_mazur_backprop(), random_points=2)
    # the example's [expected] holds the published loss after the step, an update-order slip
    assert [e.entry for e in report.failures()] == ["loss_updated[0]"]
    at_a = diagnosed(_mazur_backprop(prime_at_a=True), mazur)
    assert all("wrong-activation-derivative" in at_a[p] for p in ("W1", "W2", "b1", "b2")), at_a
    stale = diagnosed(_mazur_backprop(stale=True), mazur)
    assert all("stale-parameters" in stale[p] for p in ("W1", "W2")), stale


def test_nothing_matches_is_said(derivations) -> None:
    def noise(weights, biases, x, y):
        grads_w, grads_b = correct_backprop(weights, biases, x, y)
        return [g + 0.01 * np.cos(7 * g + 1) for g in grads_w], grads_b

    report = check(derivations["seed"], backprop=noise, random_points=2)
    assert not report.likely.mistakes
    assert report.likely.unexplained == (("backprop", ("W1", "W2")),)
    assert "dW1, dW2: nothing in the catalogue reproduces these numbers." in report.to_text()
    assert json.loads(report.to_json())["mistakes"] == []


def test_seed_notebook_documented_values_are_a_rounded_yhat() -> None:
    report = json.loads(check("seed-notebook", random_points=0).to_json())
    (match,) = report["mistakes"]
    assert match["mistake"] == "rounded-intermediate" and match["source"] == "documented"
    assert match["detail"] == {"quantity": "yhat", "places": "3"}
    assert match["parameters"] == ["W1", "W2", "b1"]  # db2 is right, only written coarsely


def test_weak_documented_point_is_flagged(derivations) -> None:
    """At the seed's point every hidden unit is active and b2 = 0: a missing ReLU' and a
    missing b2 are invisible there."""
    report = check(derivations["seed"], random_points=2)
    weak = {(m.mistake, dict(m.detail).get("layer")) for m in report.likely.weak}
    assert ("missing-activation-derivative", "1 (relu)") in weak
    assert ("missing-bias", "2") in weak
    assert ("sign", None) not in weak
    assert "Weak test point" in report.to_text()
    batch = check(derivations["3-4-4-2"], random_points=2)
    assert not any(m.mistake == "missing-bias" for m in batch.likely.weak)


def test_pytest_helper_names_the_mistake() -> None:
    with pytest.raises(AssertionError) as raised:
        assert_backprop_matches(MUTANTS["sign_error_in_output_delta"], "seed", random_points=2)
    message = str(raised.value)
    assert "Likely mistake" in message
    assert "dW1, dW2, db1, db2: reproduced exactly by 'sign'" in message


def test_save_failing_writes_each_failing_random_point(tmp_path, capsys) -> None:
    """The saved files read back as exactly the points the report checked."""
    from symbackprop.cli import main
    from symbackprop.spec import NetworkSpec

    module = tmp_path / "mine.py"
    module.write_text(
        f"import sys\nsys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from backprop_mutants import MUTANTS\nmissing = MUTANTS['missing_relu_prime']\n"
    )
    folder = tmp_path / "failing"
    argv = ["check", "seed", "--backprop", f"{module}:missing", "--random-points", "4"]
    assert main([*argv, "--save-failing", str(folder)]) == 1
    report = check("seed", backprop=MUTANTS["missing_relu_prime"], random_points=4)
    failing = report.failing_points()
    assert failing and len(failing) <= 4
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"{label.replace(' ', '-')}.toml" for label in failing
    )
    specs = dict(report.points)

    def same(a: NetworkSpec, b: NetworkSpec) -> bool:
        keys = ("layers", "activations", "loss", "weights", "biases", "x", "y", "l2")
        return all(getattr(a, k) == getattr(b, k) for k in keys)

    for label in failing:
        saved = load_spec(folder / f"{label.replace(' ', '-')}.toml")
        assert same(saved, specs[label])
        assert not check(saved, backprop=MUTANTS["missing_relu_prime"], random_points=0).ok
    assert f"wrote {len(failing)} failing random points" in capsys.readouterr().err


def test_save_failing_batch_with_l2_round_trips(derivations, tmp_path) -> None:
    from symbackprop.spec_writer import spec_toml

    spec = derivations["l2"].spec
    again = parse_spec(spec_toml(spec))
    assert again.weights == spec.weights
    assert (again.x, again.y, again.l2, again.batched) == (spec.x, spec.y, spec.l2, spec.batched)


def _close_at_full_precision(expected: np.ndarray, actual: np.ndarray, rtol, atol) -> bool:
    """The comparison entry by entry at 40 digits (what the float64 screening must agree with)."""
    with mpmath.workdps(40):
        return all(
            np.isfinite(float(u)) and abs(mpmath.mpf(float(u)) - v) <= atol + rtol * abs(v)
            for v, u in zip(expected.ravel(), actual.ravel(), strict=True)
        )


@pytest.mark.parametrize("seed", range(6))
def test_float64_screening_gives_the_full_precision_verdict(seed: int) -> None:
    """_close screens in float64 and decides entries near a tolerance's edge at 40 digits:
    its verdict is the entry-by-entry one, also exactly on the edge, beyond float64's range,
    for complex values and for non-finite floats."""
    from symbackprop.mistakes.diagnose import _close

    rng = np.random.default_rng(seed)
    rtol, atol = 1e-7, 1e-9
    with mpmath.workdps(40):
        exact = [mpmath.mpf(float(v)) * (1 + mpmath.mpf(10) ** -30) for v in rng.normal(size=12)]
        exact[0] = mpmath.mpf(10) ** -400  # below float64's range
        exact[1] = mpmath.mpf(0)
        expected = np.array(exact, dtype=object).reshape(3, 4)
        cases = []
        for scale in (0.0, 0.5, 0.999999, 1.0, 1.000001, 2.0):
            actual = np.array(
                [float(v + scale * (atol + rtol * abs(v))) for v in exact], dtype=np.float64
            ).reshape(3, 4)
            cases.append(actual)
            edge = actual.copy()
            edge[1, 1] = float(exact[5] - (atol + rtol * abs(exact[5])))  # the edge, rounded
            cases.append(edge)
        bad = cases[0].copy()
        bad[2, 3] = np.nan
        cases.append(bad)
    verdicts = set()
    for actual in cases:
        want = _close_at_full_precision(expected, actual, rtol, atol)
        assert _close(expected, actual, rtol, atol) is want
        verdicts.add(want)
    assert verdicts == {True, False}  # the cases reach both verdicts
    huge = expected.copy()
    huge[0, 0] = mpmath.mpf(10) ** 400  # beyond float64: no float is near it
    assert _close(huge, cases[0], rtol, atol) is False
    complex_ = expected.copy()
    complex_[2, 0] = mpmath.mpc(float(exact[8]), 1e-3)
    assert _close(complex_, cases[0], rtol, atol) is _close_at_full_precision(
        complex_, cases[0], rtol, atol
    )
