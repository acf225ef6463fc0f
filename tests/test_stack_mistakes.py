"""Issue 12 for whole-network stacks and transposed gradients: what is not done yet.

Each test states the issue's requirement and is a strict ``xfail`` while it is missing: the
day it passes, pytest reports XPASS as a failure, and the marker comes off. Today a gradient in
the transposed shape is bad input (exit 2) in dense and stack checks alike, and
``--save-failing`` writes nothing for a stack.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from symbackprop.cli import main

EXAMPLES = Path(__file__).parent.parent / "examples"
CONV = str(EXAMPLES / "lexailabs-conv2d-backward.toml")

TRANSPOSED = """import numpy as np

def backprop(weights, biases, x, y):
    return [np.zeros(w.shape[::-1]) for w in weights], [np.zeros(b.shape) for b in biases]

def stack(params, x, y):
    return {k: np.zeros(np.shape(v)[::-1]) for k, v in params.items()}

def zeros(params, x, y):
    return {k: np.zeros(np.shape(v)) for k, v in params.items()}
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


@pytest.mark.xfail(strict=True, reason="issue 12: a transposed gradient is still bad input")
def test_dense_non_square_transposed_is_a_failed_check(module, capsys) -> None:
    report = _failed_json(["seed", "--backprop", f"{module}:backprop"], capsys)
    assert "transposed" in {m["mistake"] for m in report["mistakes"]}


@pytest.mark.xfail(strict=True, reason="issue 12: a transposed gradient is still bad input")
def test_stack_transposed_is_a_failed_check(module, capsys) -> None:
    report = _failed_json([CONV, "--backprop", f"{module}:stack"], capsys)
    assert "transposed" in {m["mistake"] for m in report["mistakes"]}


@pytest.mark.xfail(strict=True, reason="issue 12: --save-failing saves dense networks only")
def test_stack_save_failing_writes_the_failing_points(module, tmp_path, capsys) -> None:
    folder = tmp_path / "failing"
    argv = ["check", CONV, "--backprop", f"{module}:zeros", "--random-points", "2"]
    assert main([*argv, "--save-failing", str(folder)]) == 1
    saved = sorted(folder.glob("random-point-*.toml")) if folder.exists() else []
    assert len(saved) == 2
    for path in saved:
        assert main(["check", str(path), "--backprop", f"{module}:zeros"]) == 1
