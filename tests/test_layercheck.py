"""check-layer: a corpus of correct CS231n layers passes, wrong ones fail with their mistake named.

The corpus (``tests/cs231n_layers/``) is plain NumPy written for these tests; the truth is the
exact SymPy forward and the chain rule's gradients.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from symbackprop.cli import main
from symbackprop.layercheck import KINDS, LAYER_MISTAKES, check_layer
from symbackprop.testing import assert_layer_matches

CORPUS = Path(__file__).parent / "cs231n_layers"
CORRECT, WRONG = str(CORPUS / "correct.py"), str(CORPUS / "wrong.py")
sys.path.insert(0, str(CORPUS))
import correct  # noqa: E402

#: kind, the wrong function, the catalogue id that must be named, the arrays it must explain.
MISTAKES = [
    ("affine", "affine_backward_dw_transposed", "transposed", ["dw"]),
    ("affine", "affine_backward_db_mean", "bias-gradient", ["db"]),
    ("affine", "affine_backward_dx_flat", "affine-dx-not-reshaped", ["dx"]),
    ("affine", "affine_backward_sign", "sign", ["dx", "dw", "db"]),
    ("relu", "relu_backward_no_mask", "missing-activation-derivative", ["dx"]),
    ("relu", "relu_backward_at_zero", "relu-prime-at-zero", ["dx"]),
    ("relu", "relu_backward_times_output", "relu-output-not-mask", ["dx"]),
    ("conv", "conv_backward_not_rotated", "conv-kernel-not-rotated", ["dx"]),
    ("conv", "conv_backward_no_crop", "conv-dx-missing-padding-crop", ["dx"]),
    ("conv", "conv_backward_db_mean", "bias-gradient", ["db"]),
    ("conv", "conv_backward_dw_rotated", "conv-kernel-gradient-rotated", ["dw"]),
    ("max_pool", "max_pool_backward_all_maxima", "pool-all-maxima", ["dx"]),
    ("max_pool", "max_pool_backward_average", "pool-average", ["dx"]),
    ("softmax_loss", "softmax_loss_no_mean", "scale", ["dx"]),
    (
        "softmax_loss",
        "softmax_loss_target_not_subtracted",
        "softmax-target-not-subtracted",
        ["dx"],
    ),
    ("svm_loss", "svm_loss_minus_one", "svm-margin-count", ["dx"]),
    ("svm_loss", "svm_loss_margin_at_zero", "svm-margin-at-zero", ["dx"]),
    ("svm_loss", "svm_loss_own_margin", "svm-margin-count", ["loss"]),
    ("svm_loss", "svm_loss_double", "scale", ["dx"]),
    ("batchnorm", "batchnorm_backward_missing_gamma", "batchnorm-missing-gamma", ["dx"]),
    ("batchnorm", "batchnorm_backward_bessel", "batchnorm-bessel", ["dx"]),
    ("batchnorm", "batchnorm_backward_missing_mean_path", "batchnorm-missing-mean-path", ["dx"]),
    (
        "batchnorm",
        "batchnorm_backward_missing_variance_path",
        "batchnorm-missing-variance-path",
        ["dx"],
    ),
    (
        "layernorm",
        "layernorm_forward_over_batch+layernorm_backward_over_batch",
        "layernorm-over-batch",
        ["dx", "dgamma"],
    ),
    ("dropout", "dropout_backward_missing_scale", "dropout-missing-scale", ["dx"]),
    ("word_embedding", "word_embedding_backward_assign", "embedding-assign-not-add", ["dW"]),
    (
        "temporal_affine",
        "temporal_affine_backward_db_per_step",
        "temporal-affine-db-not-summed-over-time",
        ["db"],
    ),
    (
        "temporal_softmax_loss",
        "temporal_softmax_loss_no_mask",
        "temporal-softmax-ignores-mask",
        ["dx", "loss"],
    ),
    (
        "attention",
        "attention_backward_no_scale",
        "attention-missing-scale-backward",
        ["dWk", "dWq", "dx"],
    ),
    (
        "attention",
        "attention_backward_diagonal_softmax",
        "softmax-jacobian-missing-rowsum",
        ["dWk", "dWq", "dx"],
    ),
    (
        "attention",
        "attention_forward_mask_after_softmax+attention_backward_mask_after_softmax",
        "attention-mask-after-softmax",
        ["dWk", "dWq", "dWv", "dx"],
    ),
    (
        "rnn",
        "rnn_backward_no_recurrent_path",
        "rnn-missing-recurrent-path",
        ["dWh", "dWx", "db", "dh0", "dx"],
    ),
    ("rnn_step", "rnn_step_backward_dwh_current", "rnn-dwh-uses-current-state", ["dWh"]),
    (
        "rnn_step",
        "rnn_step_backward_tanh_twice",
        "tanh-derivative-of-output",
        ["dWh", "dWx", "db", "dprev_h", "dx"],
    ),
    (
        "lstm",
        "lstm_backward_no_cell_path",
        "lstm-missing-cell-path",
        ["dWh", "dWx", "db", "dh0", "dx"],
    ),
    (
        "lstm_step",
        "lstm_step_backward_no_cell_path",
        "lstm-missing-cell-path",
        ["dWh", "dWx", "db", "dprev_c", "dprev_h", "dx"],
    ),
    (
        "lstm_step",
        "lstm_step_backward_gate_order",
        "lstm-gate-order",
        ["dWh", "dWx", "db", "dprev_h", "dx"],
    ),
    (
        "lstm",
        "lstm_backward_gate_order",
        "lstm-gate-order",
        ["dWh", "dWx", "db", "dh0", "dx"],
    ),
]
#: Sizes a mistake needs (the causal mask, for one applied after the softmax).
SHAPES = {"attention_forward_mask_after_softmax+attention_backward_mask_after_softmax": "causal=1"}


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["check-layer", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _function_options(kind: str, function: str) -> list[str]:
    """``--backward NAME`` (``--forward`` for a loss); ``FORWARD+BACKWARD`` names both."""
    if "+" in function:
        forward, backward = function.split("+")
        return ["--forward", forward, "--backward", backward]
    return ["--forward" if KINDS[kind].loss else "--backward", function]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_correct_layers_pass_through_the_cli(
    kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = _run(capsys, kind, "--module", CORRECT, "--format", "json")
    report = json.loads(out)
    assert status == 0 and report["ok"]
    assert report["mistakes"] == [] and report["unexplained"] == []
    assert {r["array"] for r in report["results"]} >= {f"d{g}" for g in KINDS[kind].gradients}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_correct_layers_pass_through_the_python_api(kind: str) -> None:
    entry = KINDS[kind]
    backward = None if entry.loss else getattr(correct, entry.backward or "")
    report = assert_layer_matches(kind, getattr(correct, entry.forward), backward, random_points=2)
    assert report.ok and len(report.points) == 2 + (entry.edge is not None)


@pytest.mark.parametrize(
    ("kind", "function", "mistake", "arrays"), MISTAKES, ids=[m[1] for m in MISTAKES]
)
def test_wrong_layers_fail_with_the_mistake_named(
    kind: str, function: str, mistake: str, arrays: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    shape = ["--shape", SHAPES[function]] if function in SHAPES else []
    options = [*_function_options(kind, function), *shape]
    status, out, _ = _run(capsys, kind, "--module", WRONG, *options, "--format", "json")
    report = json.loads(out)
    assert status == 1 and not report["ok"]
    named = [m for m in report["mistakes"] if m["mistake"] == mistake]
    assert named, report["mistakes"]
    assert sorted(named[0]["parameters"]) == sorted(arrays)
    total = len(report["points"])
    assert named[0]["points"] == f"{total}/{total}"


def test_every_catalogue_entry_is_exercised() -> None:
    assert {m[2] for m in MISTAKES} == set(LAYER_MISTAKES)


def test_the_text_report_names_the_mistake(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(
        capsys, "max_pool", "--module", WRONG, "--backward", "max_pool_backward_all_maxima"
    )
    assert status == 1
    assert "dx: reproduced exactly by 'pool-all-maxima'" in out
    assert "edge point: tied maxima" in out
    assert "failing entries" in out


def test_a_wrong_forward_fails_without_a_diagnosis(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(
        capsys, "relu", "--module", WRONG, "--forward", "relu_forward_leaky", "--format", "json"
    )
    report = json.loads(out)
    failing = {r["array"] for r in report["results"] if not r["ok"]}
    assert status == 1 and failing == {"out"}


def test_shape_option_and_seed(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(
        capsys,
        "affine",
        "--module",
        CORRECT,
        "--shape",
        "N=2,D=3x2x2,M=4",
        "--seed",
        "3",
        "--random-points",
        "1",
        "--format",
        "json",
    )
    report = json.loads(out)
    assert status == 0 and report["sizes"] == {"N": [2], "D": [3, 2, 2], "M": [4]}
    dx = next(r for r in report["results"] if r["array"] == "dx")
    assert dx["entries"] == 2 * 12


def test_the_ground_truth_is_exact_rationals() -> None:
    """The exact dx of affine at a point equals dout @ w.T computed in Fractions."""
    from fractions import Fraction

    from symbackprop.layercheck.exact import build, evaluate
    from symbackprop.layercheck.points import draw_points
    from symbackprop.layercheck.sizes import parse_shape

    kind = KINDS["affine"]
    sizes = parse_shape(kind, None)
    exact = build(kind, sizes)
    point = draw_points(kind, sizes, exact, 1, 0)[0]
    numbers = evaluate(exact, point.exact)
    fr = {
        k: np.vectorize(lambda v: Fraction(int(v.p), int(v.q)))(v) for k, v in point.exact.items()
    }
    dx = (fr["dout"] @ fr["w"].T).reshape(fr["x"].shape)
    assert all(Fraction(str(numbers["dx"][i])) == dx[i] for i in np.ndindex(*dx.shape))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["relu", "--module", "no/such/file.py"], r"--module no/such/file.py: no such file"),
        (["relu", "--module", "no_such_module_xyz"], r"no module named 'no_such_module_xyz'"),
        (["relu", "--module", WRONG, "--backward", "nope"], r"has no function 'nope'"),
        (["relu", "--module", WRONG, "--backward", "relu_backward_nan"], r"returned NaN in dx"),
        (
            ["relu", "--module", WRONG, "--forward", "relu_forward_out_only"],
            r"relu_forward_out_only in .* returned ndarray; expected \(out, cache\)",
        ),
        (
            ["affine", "--module", WRONG, "--backward", "affine_backward_two"],
            r"returned 2 values; expected \(dx, dw, db\)",
        ),
        (
            ["affine", "--module", WRONG, "--backward", "affine_backward_flat_db"],
            r"returned db of shape \(6,\) instead of \(3,\)",
        ),
        (
            ["lstm_step", "--module", WRONG, "--forward", "lstm_step_forward_two"],
            r"returned 2 values; expected \(next_h, next_c, cache\)",
        ),
        (
            ["lstm_step", "--module", WRONG, "--forward", "lstm_step_forward_flat_c"],
            r"returned next_c of shape \(4,\); expected \(2, 2\)",
        ),
        (
            ["gru", "--module", CORRECT],
            r"unknown kind 'gru'; expected one of: affine, attention, batchnorm, conv",
        ),
        (["affine", "--module", CORRECT, "--shape", "K=3"], r"--shape: unknown size 'K'"),
        (["affine", "--module", CORRECT, "--shape", "N=two"], r"N=two: expected an integer"),
        (
            ["conv", "--module", CORRECT, "--shape", "stride=3,pad=0"],
            r"HH=3 with stride=3 does not tile H \+ 2 pad = 5",
        ),
        (["svm_loss", "--module", CORRECT, "--backward", "x"], r"a loss has no --backward"),
    ],
)
def test_bad_input_is_one_line_and_status_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _run(capsys, *argv)
    assert status == 2 and out == ""
    last = err.strip().splitlines()[-1]
    assert last.startswith("symbackprop: error: ")
    assert re.search(message, last), last


def test_an_exception_shows_the_users_frames_only(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = _run(capsys, "relu", "--module", WRONG, "--backward", "relu_backward_raises")
    assert status == 2 and err.count("\n") == 1  # one line, naming the innermost user frame
    assert "symbackprop/layercheck" not in err and "site-packages" not in err
    assert re.fullmatch(
        f"symbackprop: error: relu_backward_raises in {re.escape(str(WRONG))} \\(at edge "
        f"point\\) raised ValueError: shapes do not line up \\(at \\S*wrong\\.py, "
        "line \\d+, in _helper\\)\n",
        err,
    ), err


def test_assert_layer_matches_raises_with_the_table() -> None:
    from wrong import relu_backward_no_mask

    with pytest.raises(
        AssertionError, match=r"(?s)relu_backward_no_mask.*dx\[.*missing-activation"
    ):
        assert_layer_matches("relu", correct.relu_forward, relu_backward_no_mask)


def test_check_layer_rejects_a_backward_for_a_loss() -> None:
    with pytest.raises(TypeError, match="expected no backward"):
        check_layer("svm_loss", correct.svm_loss, correct.svm_loss)


def test_the_output_is_deterministic() -> None:
    runs = [
        subprocess.run(
            [
                sys.executable,
                "-m",
                "symbackprop",
                "check-layer",
                "relu",
                "--module",
                WRONG,
                "--backward",
                "relu_backward_at_zero",
            ],
            capture_output=True,
            text=True,
            env={"PYTHONHASHSEED": seed, "PATH": ""},
            check=False,
        )
        for seed in ("1", "2")
    ]
    assert runs[0].returncode == runs[1].returncode == 1
    assert runs[0].stdout == runs[1].stdout and "relu-prime-at-zero" in runs[0].stdout


def test_dropout_reads_the_mask_off_the_users_output() -> None:
    x = np.array([[0.5, -1.0, 2.0], [1.5, -0.25, 0.75]])
    out, (_, scaled) = correct.dropout_forward(x, {"mode": "train", "p": 0.75, "seed": 3})
    mask = KINDS["dropout"].observed({"x": x}, out)  # type: ignore[misc]
    assert np.array_equal(mask["mask"], scaled != 0)
    assert 0 < mask["mask"].sum() < mask["mask"].size  # both kept and dropped units


@pytest.mark.parametrize(
    ("kind", "name", "never"), [("dropout", "x", {0}), ("batchnorm", "gamma", {0, 1})]
)
def test_avoided_values_are_never_drawn(kind: str, name: str, never: set[float]) -> None:
    report = check_layer(
        kind, getattr(correct, KINDS[kind].forward), getattr(correct, KINDS[kind].backward or "")
    )
    drawn = np.concatenate([p.arrays[name].ravel() for p in report.points])
    assert not set(drawn) & never and len(set(drawn)) > 3


def test_a_dropout_backward_with_another_mask_fails() -> None:
    def backward(dout: np.ndarray, cache: tuple) -> np.ndarray:
        return dout * (1 - (cache[1] != 0)) / 0.75

    report = check_layer("dropout", correct.dropout_forward, backward)
    assert not report.ok


def test_rnn_end_to_end_through_the_command_line() -> None:
    root = Path(__file__).parent.parent
    argv = [sys.executable, "-m", "symbackprop", "check-layer", "rnn", "--module", WRONG]
    argv += ["--backward", "rnn_backward_no_recurrent_path", "--format", "json"]
    env = {**os.environ, "PYTHONPATH": str(root)}
    run = subprocess.run(argv, capture_output=True, text=True, cwd=root, env=env, timeout=600)
    assert run.returncode == 1, run.stderr
    named = [m["mistake"] for m in json.loads(run.stdout)["mistakes"]]
    assert "rnn-missing-recurrent-path" in named


def test_lstm_step_gets_one_upstream_gradient_per_output_in_process() -> None:
    """Two outputs, two upstream gradients, without the child process: the exact gradients
    include the dnext_c path, so a backward that drops it is named."""
    from wrong import lstm_step_backward_no_cell_path

    good = check_layer("lstm_step", correct.lstm_step_forward, correct.lstm_step_backward)
    assert good.ok and good.names()[:2] == ["next_h", "next_c"]
    assert set(good.points[0].arrays) >= {"dnext_h", "dnext_c"}
    assert "J = sum(dnext_h * next_h) + sum(dnext_c * next_c)" in good.text()
    bad = check_layer("lstm_step", correct.lstm_step_forward, lstm_step_backward_no_cell_path)
    assert [m.mistake for m in bad.mistakes] == ["lstm-missing-cell-path"]


def test_lstm_step_exact_next_c_and_dprev_c_by_hand() -> None:
    """next_c = f prev_c + i g and dprev_c = (dnext_c + dnext_h o (1 - tanh(next_c)^2)) f,
    written out here in mpmath for one unit, equal the exact forward and chain rule."""
    import mpmath

    from symbackprop.layercheck.exact import build, evaluate
    from symbackprop.layercheck.points import draw_points
    from symbackprop.layercheck.sizes import parse_shape

    kind = KINDS["lstm_step"]
    sizes = parse_shape(kind, "N=1,D=1,H=1")
    exact = build(kind, sizes)
    point = draw_points(kind, sizes, exact, 1, 4)[0]
    numbers = evaluate(exact, point.exact)
    with mpmath.workdps(50):
        v = {
            k: [mpmath.mpf(int(r.p)) / int(r.q) for r in a.ravel()] for k, a in point.exact.items()
        }
        pre = [v["x"][0] * v["Wx"][k] + v["prev_h"][0] * v["Wh"][k] + v["b"][k] for k in range(4)]
        i, f, o = (1 / (1 + mpmath.exp(-a)) for a in pre[:3])
        g = mpmath.tanh(pre[3])
        c = f * v["prev_c"][0] + i * g
        dc = v["dnext_c"][0] + v["dnext_h"][0] * o * (1 - mpmath.tanh(c) ** 2)
        assert abs(numbers["next_c"][0, 0] - c) < mpmath.mpf(10) ** -40
        assert abs(numbers["next_h"][0, 0] - o * mpmath.tanh(c)) < mpmath.mpf(10) ** -40
        assert abs(numbers["dprev_c"][0, 0] - dc * f) < mpmath.mpf(10) ** -40
