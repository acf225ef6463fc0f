"""Issue 12 for whole-network stacks and transposed gradients.

A gradient in the transposed shape is a failed check named ``transposed`` (dense, stacks,
check-layer, the pytest helpers); a wrong stack backprop from the corpus
(``tests/stack_wrong_backprops.py``, plain NumPy) is named per parameter by the layer
catalogue's entry, a correct one by nothing; ``--save-failing`` re-runs for stacks. The
sequence stacks and ties: ``test_stack_mistakes_more.py``.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import stack_wrong_backprops as corpus

from symbackprop.cli import main
from symbackprop.layercheck import check_layer
from symbackprop.testing import assert_backprop_matches, assert_layer_matches

EXAMPLES = Path(__file__).parent.parent / "examples"
CONV = str(EXAMPLES / "lexailabs-conv2d-backward.toml")

TRANSPOSED = """import numpy as np

def backprop(weights, biases, x, y):
    return [np.zeros(w.shape[::-1]) for w in weights], [np.zeros(b.shape) for b in biases]

def stack(params, x, y):
    return {k: np.zeros(np.shape(v)[::-1]) for k, v in params.items()}

def zeros(params, x, y):
    return {k: np.zeros(np.shape(v)) for k, v in params.items()}

def affine_forward(x, w, b):
    return x.reshape(x.shape[0], -1) @ w + b, (x, w, b)

def affine_backward(dout, cache):
    x, w, _ = cache
    return (dout @ w.T).reshape(x.shape), np.zeros(w.shape[::-1]), dout.sum(axis=0)
"""


@pytest.fixture
def module(tmp_path: Path) -> Path:
    path = tmp_path / "mine.py"
    path.write_text(TRANSPOSED)
    return path


def _failed_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict:
    """The JSON report of ``check argv``, after asserting that the check failed (exit 1)."""
    status = main(["check", *argv, "--random-points", "1", "--format", "json"])
    assert status == 1, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def test_dense_non_square_transposed_is_a_failed_check(module, capsys) -> None:
    report = _failed_json(["seed", "--backprop", f"{module}:backprop"], capsys)
    assert "transposed" in {m["mistake"] for m in report["mistakes"]}


def test_stack_transposed_is_a_failed_check(module, capsys) -> None:
    report = _failed_json([CONV, "--backprop", f"{module}:stack"], capsys)
    assert "transposed" in {m["mistake"] for m in report["mistakes"]}


def test_stack_save_failing_writes_the_failing_points(module, tmp_path, capsys) -> None:
    folder = tmp_path / "failing"
    argv = ["check", CONV, "--backprop", f"{module}:zeros", "--random-points", "2"]
    assert main([*argv, "--save-failing", str(folder)]) == 1
    saved = sorted(folder.glob("random-point-*.toml")) if folder.exists() else []
    assert len(saved) == 2
    for path in saved:
        assert main(["check", str(path), "--backprop", f"{module}:zeros"]) == 1


def _loaded(path: Path) -> ModuleType:
    found = importlib.util.spec_from_file_location(path.stem, path)
    assert found is not None and found.loader is not None
    loaded = importlib.util.module_from_spec(found)
    found.loader.exec_module(loaded)
    return loaded


def test_dense_transposed_is_named_in_the_pytest_helper(module) -> None:
    with pytest.raises(AssertionError, match="'transposed'"):
        assert_backprop_matches(_loaded(module).backprop, "seed", random_points=1)


def test_check_layer_transposed_zeros_is_a_failed_check(module, capsys) -> None:
    argv = [
        "check-layer",
        "affine",
        "--module",
        str(module),
        "--random-points",
        "1",
        "--format",
        "json",
    ]
    assert main(argv) == 1, capsys.readouterr().err
    report = json.loads(capsys.readouterr().out)
    named = {m["mistake"]: m for m in report["mistakes"]}
    assert named["transposed"]["parameters"] == ["dw"]
    mine = _loaded(module)
    with pytest.raises(AssertionError, match="'transposed'"):
        assert_layer_matches("affine", mine.affine_forward, mine.affine_backward, random_points=1)


@pytest.fixture(scope="module")
def specs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("stacks")
    written = {}
    makers = {make for make, _, _ in corpus.WRONG.values()} | set(corpus.CORRECT.values())
    for make in sorted(makers, key=lambda make: make.__name__):
        path = folder / f"{make.__name__}.toml"
        path.write_text(make())
        written[make.__name__] = str(path)
    return written


CORPUS = str(Path(__file__).parent / "stack_wrong_backprops.py")


@pytest.mark.parametrize("function", sorted(corpus.WRONG))
def test_wrong_stack_backprop_is_named(function, specs, capsys) -> None:
    make, mistake, parameters = corpus.WRONG[function]
    report = _failed_json([specs[make.__name__], "--backprop", f"{CORPUS}:{function}"], capsys)
    named = {m["mistake"]: m for m in report["mistakes"]}
    assert mistake in named, report["mistakes"]
    assert sorted(named[mistake]["parameters"]) == sorted(parameters)
    assert named[mistake]["points"] == "2/2"
    assert not report["unexplained"], report["unexplained"]


@pytest.mark.parametrize("function", sorted(corpus.CORRECT))
def test_correct_stack_backprop_is_named_nothing(function, specs, capsys) -> None:
    spec = specs[corpus.CORRECT[function].__name__]
    argv = ["check", spec, "--backprop", f"{CORPUS}:{function}", "--random-points", "1"]
    assert main([*argv, "--format", "json"]) == 0, capsys.readouterr().err
    report = json.loads(capsys.readouterr().out)
    assert report["mistakes"] == [] and report["ok"]


def test_the_corpus_is_wrong_where_it_says(specs) -> None:
    """The mistakes change the numbers: each wrong backprop fails the pytest helper."""
    make, _, _ = corpus.WRONG["conv_not_rotated"]
    with pytest.raises(AssertionError, match="conv-kernel-not-rotated"):
        assert_backprop_matches(corpus.conv_not_rotated, specs[make.__name__], random_points=1)


def test_stack_saved_point_fails_the_same_way(specs, tmp_path, capsys) -> None:
    """A saved random point, re-run, fails in the same entries and is named the same."""
    spec, target = specs["conv_spec"], f"{CORPUS}:conv_missing_relu"
    folder = tmp_path / "failing"
    argv = ["check", spec, "--backprop", target, "--random-points", "1", "--format", "json"]
    assert main([*argv, "--save-failing", str(folder)]) == 1
    first = json.loads(capsys.readouterr().out)
    saved = str(folder / "random-point-1.toml")
    again = _failed_json([saved, "--backprop", target], capsys)

    def entries(report: dict, point: str) -> list[str]:
        return [f["entry"] for f in report["failures"] if f["point"] == point]

    assert entries(again, "documented point") == entries(first, "random point 1")
    assert [m["mistake"] for m in again["mistakes"]] == ["missing-activation-derivative"]


LAYERS = Path(__file__).parent / "cs231n_layers"


def test_check_layer_flags_weak_points_when_everything_passes() -> None:
    """relu-prime-at-zero is invisible exactly where no x is 0 under a nonzero dout."""
    correct = _loaded(LAYERS / "correct.py")
    report = check_layer("relu", correct.relu_forward, correct.relu_backward)
    assert report.ok
    flagged = {w.point for w in report.weak if "relu-prime-at-zero" in w.mistakes}
    truth = {
        p.label
        for p in report.points
        if not np.any((p.arrays["x"] == 0) & (p.arrays["dout"] != 0))
    }
    assert flagged == truth and truth and "edge point" not in truth
    assert "Weak test points" in report.text()
    weak = json.loads(report.json())["weak_points"]
    assert {w["point"] for w in weak if "relu-prime-at-zero" in w["mistakes"]} == truth


def test_check_layer_weak_points_name_no_mistake_that_changes_the_numbers(monkeypatch) -> None:
    """A point is flagged exactly where the mistaken backward gives the correct numbers."""
    monkeypatch.syspath_prepend(str(LAYERS))  # wrong.py imports correct's forwards
    correct, wrong = _loaded(LAYERS / "correct.py"), _loaded(LAYERS / "wrong.py")
    report = check_layer(
        "max_pool", correct.max_pool_forward_naive, correct.max_pool_backward_naive
    )
    flagged = {w.point for w in report.weak if "pool-all-maxima" in w.mistakes}
    assert "edge point" not in flagged
    for p in report.points:
        x, dout = p.arrays["x"], p.arrays["dout"]
        params = {"pool_height": 2, "pool_width": 2, "stride": 2}
        _, cache = correct.max_pool_forward_naive(x, params)
        right = correct.max_pool_backward_naive(dout, cache)
        mistaken = wrong.max_pool_backward_all_maxima(dout, cache)
        assert (p.label in flagged) == bool(np.array_equal(right, mistaken)), p.label


def _documented_spec(folder: Path, mistake: str) -> str:
    """conv_spec with [expected] dW1, db1 from the corpus's backprop with ``mistake``, to 6
    decimals, at the documented point."""
    text = corpus.conv_spec()
    data = tomllib.loads(text)
    params = {k: np.array(v, dtype=float) for k, v in data["parameters"].items()}
    x, y = np.array(data["data"]["x"], dtype=float), np.array(data["data"]["y"], dtype=float)
    grads = corpus.conv_backprop(params, x, y, mistake)
    rows = [f"d{k} = {np.round(grads[k], 6).tolist()}" for k in ("W1", "b1")]
    path = folder / f"documented-{mistake or 'right'}.toml"
    path.write_text(text + "\n[expected]\natol = 1e-6\n" + "\n".join(rows) + "\n")
    return str(path)


def test_stack_documented_values_are_named_as_written(tmp_path, capsys) -> None:
    spec = _documented_spec(tmp_path, "rotation")
    status = main(["check", spec, "--random-points", "1", "--format", "json"])
    assert status == 1, capsys.readouterr().err
    report = json.loads(capsys.readouterr().out)
    named = {m["mistake"]: m for m in report["mistakes"]}
    assert named["conv-kernel-not-rotated"]["source"] == "documented"
    assert sorted(named["conv-kernel-not-rotated"]["parameters"]) == ["W1", "b1"]
    assert named["conv-kernel-not-rotated"]["points"] == "1/1"


def test_stack_right_documented_values_are_named_nothing(tmp_path, capsys) -> None:
    spec = _documented_spec(tmp_path, "")
    assert main(["check", spec, "--random-points", "1", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["mistakes"] == []


def test_stack_mistakes_are_deterministic(specs) -> None:
    """The same JSON under any PYTHONHASHSEED."""
    argv = [sys.executable, "-m", "symbackprop", "check", specs["conv_spec"], "--backprop"]
    argv += [f"{CORPUS}:conv_not_rotated", "--random-points", "1", "--format", "json"]
    runs = [
        subprocess.run(
            argv, capture_output=True, text=True, env={"PYTHONHASHSEED": seed}, check=False
        )
        for seed in ("1", "2")
    ]
    assert runs[0].returncode == runs[1].returncode == 1, runs[0].stderr
    assert runs[0].stdout == runs[1].stdout and "conv-kernel-not-rotated" in runs[0].stdout
