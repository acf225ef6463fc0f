"""Issue 12, the stack gaps: the sequence layer kinds name their mistakes, and
``pool-all-maxima`` is named where the documented point has ties that float64 computes exactly.

The corpus is ``tests/stack_wrong_backprops.py`` (plain NumPy, none of symbackprop's code);
``test_stack_mistakes.py`` runs every entry of its ``WRONG`` and ``CORRECT``. Here: the layer
each new mistake is named at, which stack kinds the registry maps, and what ties do to the
oracles.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import stack_wrong_backprops as corpus
from sympy import Rational

from symbackprop import load_spec
from symbackprop.checking.compare import USER
from symbackprop.checking.report import CheckReport
from symbackprop.checking.stack import check_stack
from symbackprop.cli import main
from symbackprop.layers import LAYERS
from symbackprop.mistakes import stack as stack_mistakes
from symbackprop.reference_layers import max_pool_ties
from symbackprop.spec import parse_spec
from symbackprop.stack_spec import StackSpec

CORPUS = str(Path(__file__).parent / "stack_wrong_backprops.py")


def _spec(folder: Path, text: str, name: str) -> str:
    path = folder / f"{name}.toml"
    path.write_text(text)
    return str(path)


def _json(argv: list[str], capsys: pytest.CaptureFixture[str], status: int) -> dict:
    code = main(["check", *argv, "--random-points", "1", "--format", "json"])
    assert code == status, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("function", sorted(corpus.LAYER))
def test_the_mistake_is_named_at_its_layer(function, tmp_path, capsys) -> None:
    make, mistake, parameters = corpus.WRONG[function]
    spec = _spec(tmp_path, make(), make.__name__)
    report = _json([spec, "--backprop", f"{CORPUS}:{function}"], capsys, 1)
    (named,) = [m for m in report["mistakes"] if m["mistake"] == mistake]
    assert named["detail"]["layer"] == corpus.LAYER[function]
    assert named["parameters"] == sorted(parameters)


def test_every_stack_layer_kind_maps_or_says_why_not() -> None:
    """Every layer kind has a STEPS entry or a reason in NOT_MAPPED (and is named in the
    module docstring); an entry names the catalogue's ids except those a stack cannot show."""
    doc = stack_mistakes.__doc__ or ""
    for kind in LAYERS:
        mapped, why = kind in stack_mistakes.STEPS, kind in stack_mistakes.NOT_MAPPED
        assert mapped != why, kind
        assert mapped or f"``{kind}``" in doc, kind
    assert "embedding-assign-not-add" in stack_mistakes.named_in_stacks("embedding")
    assert "rnn-missing-recurrent-path" in stack_mistakes.named_in_stacks("rnn")
    assert "lstm-missing-cell-path" in stack_mistakes.named_in_stacks("lstm")
    named = stack_mistakes.named_in_stacks("temporal_dense")
    assert "temporal-affine-db-not-summed-over-time" not in named and "sign" in named


def _lstm_with_c0(c0: str) -> StackSpec:
    text = corpus.lstm_spec().replace("c0 = [[0, 0], [0, 0]]", f"c0 = {c0}")
    spec = parse_spec(text, "lstm.toml")
    assert isinstance(spec, StackSpec)
    return spec


def test_an_lstm_maps_only_from_a_zero_cell_state() -> None:
    """check-layer's lstm starts from c_0 = 0: with another c0 the layer is not tried."""
    for c0, mapped in (("[[0, 0], [0, 0]]", True), ("[[0.5, 0], [0, 0]]", False)):
        spec = _lstm_with_c0(c0)
        x = np.asarray(spec.x, dtype=np.float64)
        kinds = [layer.kind for layer, _, _, _ in stack_mistakes._steps(spec, x)]
        assert ("lstm" in kinds) == mapped, c0


def test_an_rnn_of_the_last_state_gets_dh_of_the_last_step_only() -> None:
    spec = _lstm_with_c0("[[0, 0], [0, 0]]")
    (layer,) = [layer for layer in spec.layers if layer.kind == "lstm"]
    dz = np.arange(4.0).reshape(2, 2)
    dh = stack_mistakes._states(layer, np.zeros((2, 3, 2)), dz)["dout"]
    assert dh.shape == (2, 3, 2)
    assert np.array_equal(dh[:, -1], dz) and not dh[:, :-1].any()


# ----------------------------------------------------------------------------- ties


def _tie_spec(text: str) -> StackSpec:
    spec = parse_spec(text, "tie.toml")
    assert isinstance(spec, StackSpec)
    return spec


def _report(spec: StackSpec, backprop: str | None = None) -> CheckReport:
    user = None if backprop is None else getattr(corpus, backprop)
    return check_stack(
        spec,
        random_points=1,
        seed=0,
        convention=Rational(0),
        rtol=1e-7,
        atol=1e-9,
        settings={},
        backprop=user,
    )


def test_the_tie_spec_has_ties_in_float64_and_the_mistake_changes_w1() -> None:
    """The documented point has tied windows (by the reference's own float64 forward), and
    routing to every maximum changes dW1 and db1 there: the corpus is wrong where it says."""
    spec = _tie_spec(corpus.pool_tie_spec())
    layers = [
        {"type": "conv2d", "filters": 2, "kernel": (1, 1), "stride": (1, 1), "padding": 0},
        {"type": "max_pool2d", "size": (2, 2), "stride": (2, 2)},
        {"type": "flatten"},
        {"type": "dense", "units": 3, "activation": "softmax"},
    ]
    params = {k: np.asarray(v, dtype=np.float64) for k, v in spec.parameters.items()}
    x, y = np.asarray(spec.x, dtype=np.float64), np.asarray(spec.y, dtype=np.float64)
    assert len(max_pool_ties(layers, params, x)) >= 4
    right, every = corpus.pool_correct(params, x, y), corpus.pool_all_maxima(params, x, y)
    assert not np.allclose(right["W1"], every["W1"]) and not np.allclose(right["b1"], every["b1"])
    assert np.array_equal(right["W2"], every["W2"])


def test_exact_float64_ties_are_judged_except_by_finite_differences() -> None:
    report = _report(_tie_spec(corpus.pool_tie_spec()), "pool_correct")
    assert report.ok
    documented = [c for c in report.comparisons if c.point == "documented point"]
    for comparison in documented:
        flagged = set(comparison.flagged)
        if comparison.name == "exact vs finite differences":
            assert "dW1[0,0,0,0]" in flagged
        else:
            assert not flagged, comparison.name
    assert any("float64 computes every tied value exactly" in n for n in report.notes)


def test_ties_float64_rounds_stay_not_judged() -> None:
    """W1 = 0.3 and x = 0.1: 0.3 * 0.1 is no float64 number, so a tie there is not trusted
    to float64 and the tied layers' entries are not judged, as before."""
    text = corpus.pool_tie_spec().replace("[[[[0.5]]], [[[-0.25]]]]", "[[[[0.3]]], [[[-0.7]]]]")
    text = text.replace("0.75", "0.1")
    report = _report(_tie_spec(text), "pool_all_maxima")
    assert report.ok and not report.likely.mistakes
    (user,) = [c for c in report.comparisons if c.point == "documented point" and c.name == USER]
    assert "dW1[0,0,0,0]" in user.flagged
    assert any("are not judged there against float64 results" in n for n in report.notes)


def test_the_cnn_example_is_untouched_by_the_tie_rule() -> None:
    """No tie at the cnn example's documented point: nothing flagged, no note."""
    spec = load_spec("cnn")
    assert isinstance(spec, StackSpec)
    report = _report(spec)
    assert report.ok and not report.notes


def test_sequence_stack_mistakes_are_deterministic() -> None:
    """The same JSON under any PYTHONHASHSEED, for the rnn example's named mistake."""
    argv = [sys.executable, "-m", "symbackprop", "check", "rnn", "--backprop"]
    argv += [f"{CORPUS}:rnn_no_recurrent", "--random-points", "1", "--format", "json"]
    runs = [
        subprocess.run(
            argv, capture_output=True, text=True, env={"PYTHONHASHSEED": seed}, check=False
        )
        for seed in ("1", "2")
    ]
    assert runs[0].returncode == runs[1].returncode == 1, runs[0].stderr
    assert runs[0].stdout == runs[1].stdout and "rnn-missing-recurrent-path" in runs[0].stdout


def _corpus_point(text: str) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    import tomllib

    data = tomllib.loads(text)
    params = {k: np.array(v, dtype=float) for k, v in data["parameters"].items()}
    return params, np.array(data["data"]["x"], dtype=float), np.array(data["data"]["y"], float)


def _weak(path: str, capsys: pytest.CaptureFixture[str]) -> list[dict]:
    assert main(["check", path, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)["indistinguishable_at_documented_point"]


MISSING_RELU = {
    "mistake": "missing-activation-derivative",
    "detail": {"layer": "layer 1 (conv2d) relu", "where": "dx"},
}


def test_a_stack_point_where_every_relu_is_active_is_weak_for_a_missing_relu_prime(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """b1 = 5 makes every pre-activation of layer 1 positive (|W1 x| <= 4): the corpus's
    backprop without ReLU' gives the right numbers there, and check says so."""
    text = re.sub(r"\nb1 = \[[^\]]*\]", "\nb1 = [5.0, 5.0]", corpus.conv_spec(), count=1)
    params, x, y = _corpus_point(text)
    for key, right in corpus.conv_backprop(params, x, y).items():
        np.testing.assert_allclose(corpus.conv_missing_relu(params, x, y)[key], right)
    assert MISSING_RELU in _weak(_spec(tmp_path, text, "active"), capsys)


def test_a_stack_point_with_an_inactive_relu_is_not_weak_for_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = corpus.conv_spec()
    params, x, y = _corpus_point(text)
    wrong, right = corpus.conv_missing_relu(params, x, y), corpus.conv_backprop(params, x, y)
    assert not np.allclose(wrong["W1"], right["W1"])  # the documented point tells them apart
    assert MISSING_RELU not in _weak(_spec(tmp_path, text, "mixed"), capsys)
