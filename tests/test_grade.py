"""``symbackprop grade KEY.json ANSWERS.toml``: per entry right or wrong, and the likely mistake."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from backprop_mutants import correct_backprop, missing_relu_prime

from symbackprop.cli import main
from symbackprop.exercise.grade import grade
from symbackprop.spec import parse_spec

ARCH = "2-3-2:relu,softmax:cross_entropy"


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("exercise")
    assert (
        main(["exercise", ARCH, "--seed", "1", "--students", "2", "-o", str(target), "--no-pdf"])
        == 0
    )
    return target


def _sheet(folder: Path, number: int = 0) -> dict:
    return json.loads((folder / "key.json").read_text("utf-8"))["students"][number]


def _answers(folder: Path, name: str, lines: list[str], student: str = '"01"') -> str:
    path = folder / name
    path.write_text("\n".join([f"student = {student}", "[expected]", *lines]) + "\n", "utf-8")
    return str(path)


def _gradient_lines(sheet: dict, backprop) -> list[str]:
    """[expected] lines of dW1, db1 from ``backprop`` on the sheet's network, to 4 decimals."""
    spec = parse_spec(sheet["spec"])
    weights = [np.array(w.tolist(), dtype=float) for w in spec.weights]
    biases = [np.array(b.tolist(), dtype=float) for b in spec.biases]
    x, y = np.array(spec.x.tolist(), dtype=float), np.array(spec.y.tolist(), dtype=float)
    gw, gb = backprop(weights, biases, x, y)
    rows = ", ".join("[" + ", ".join(f"{v:.4f}" for v in row) + "]" for row in gw[0])
    return [f"dW1 = [{rows}]", "db1 = [" + ", ".join(f"{v:.4f}" for v in gb[0][:, 0]) + "]"]


def test_the_key_itself_is_all_right(folder: Path, capsys) -> None:
    sheet = _sheet(folder)
    lines = [f'"{a["entry"]}" = {a["answer"]}' for a in sheet["answers"]]
    path = _answers(folder, "right.toml", lines)
    assert main(["grade", str(folder / "key.json"), path]) == 0
    out = capsys.readouterr().out
    total = len(sheet["answers"])
    assert f"Score: {total} of {total} right" in out and "WRONG" not in out


def test_a_correct_backprop_rounded_to_4_decimals_is_right(folder: Path) -> None:
    path = _answers(folder, "correct.toml", _gradient_lines(_sheet(folder), correct_backprop))
    result = grade(str(folder / "key.json"), path)
    assert result.right == len(result.entries) == 9
    assert not result.ok and "z1[0]" in result.missing  # the forward pass was not answered


def test_a_wrong_entry_says_by_how_much(folder: Path, capsys) -> None:
    sheet = _sheet(folder, 1)
    first = sheet["answers"][0]
    wrong = f"{float(first['answer']) + 0.25:.4f}"
    path = _answers(folder, "wrong.toml", [f'"{first["entry"]}" = {wrong}'], student="2")
    assert main(["grade", str(folder / "key.json"), path]) == 1
    out = capsys.readouterr().out
    line = next(row for row in out.splitlines() if row.strip().startswith(first["entry"]))
    assert line.split()[1:] == [wrong, first["answer"], line.split()[3], "WRONG"]
    assert abs(float(line.split()[3]) - 0.25) < 1e-4
    assert "sheet 02" in out


def test_the_likely_mistake_is_named(folder: Path) -> None:
    sheet = _sheet(folder, 1)  # its first hidden unit is dead: forgetting ReLU' shows
    assert next(a for a in sheet["answers"] if a["entry"] == "a1[0]")["answer"] == "0.0000"
    lines = _gradient_lines(sheet, missing_relu_prime)
    path = _answers(folder, "mistake.toml", lines, student='"02"')
    result = grade(str(folder / "key.json"), path)
    assert result.right < len(result.entries)
    named = {m.mistake for m in result.mistakes}
    assert "missing-activation-derivative" in named, result.text()
    assert "missing-activation-derivative" in result.text()


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        (
            ["dW1 = [[1, 2]]"],
            r"^symbackprop: error: .*bad\.toml: \[expected\] dW1: expected a 3x2",
        ),
        (['dW1 = "high"'], r"bad\.toml: \[expected\] dW1: expected numbers, got 'high'"),
        (['"x y" = 1'], r"bad\.toml: \[expected\] x y: unknown key"),
        ([], r"bad\.toml: \[expected\]: expected a table of answers"),
    ],
    ids=["shape", "string", "key", "empty"],
)
def test_bad_answers_are_one_line_exit_2(folder: Path, answers, message, capsys) -> None:
    path = _answers(folder, "bad.toml", answers)
    assert main(["grade", str(folder / "key.json"), path]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert re.search(message, err), err


def test_unknown_student_and_bad_key(folder: Path, tmp_path: Path, capsys) -> None:
    path = _answers(folder, "who.toml", ["loss = 1"], student='"07"')
    assert main(["grade", str(folder / "key.json"), path]) == 2
    assert "student: expected one of the sheets of" in capsys.readouterr().err
    bogus = tmp_path / "key.json"
    bogus.write_text('{"not": "a key"}', "utf-8")
    assert main(["grade", str(bogus), path]) == 2
    assert "not an exercise key" in capsys.readouterr().err
