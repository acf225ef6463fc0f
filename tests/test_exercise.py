"""``symbackprop exercise``: numbers for hand computation, sheets, keys and Moodle quizzes.

The answers are compared with an independent backprop written here in mpmath (ReLU, softmax,
cross-entropy), exactly and with every intermediate rounded to 4 decimals as by hand.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import mpmath
import pytest

from symbackprop.cli import main
from symbackprop.exercise.key import make_exercises
from symbackprop.exercise.output import texts
from symbackprop.spec import parse_spec

ARCH = "2-3-2:relu,softmax:cross_entropy"


@pytest.fixture(scope="module")
def exercises():
    return make_exercises(ARCH, 7, 3)


def _round(value, places: int = 4) -> mpmath.mpf:
    return mpmath.nint(value * 10**places) / 10**places


def _text(value: mpmath.mpf) -> str:
    """``value`` to 4 decimals, as text (0.0000 without a sign)."""
    units = int(mpmath.nint(value * 10**4))
    return f"{Decimal(units).scaleb(-4):.4f}".replace("-0.0000", "0.0000")


def _backprop(spec, hand: bool) -> dict[str, list]:
    """z1, a1, z2, yhat, loss, dW1, db1, dW2, db2 of a 1-sample ReLU-softmax-CE network."""
    r = _round if hand else (lambda v: v)
    mat = [[[mpmath.mpf(str(v)) for v in w.row(i)] for i in range(w.rows)] for w in spec.weights]
    b = [[mpmath.mpf(str(v)) for v in bias] for bias in spec.biases]
    x = [mpmath.mpf(str(v)) for v in spec.x]
    y = [mpmath.mpf(str(v)) for v in spec.y]
    z1 = [
        r(sum(w * xi for w, xi in zip(row, x, strict=True)) + bi)
        for row, bi in zip(mat[0], b[0], strict=True)
    ]
    a1 = [r(max(z, 0)) for z in z1]
    z2 = [
        r(sum(w * a for w, a in zip(row, a1, strict=True)) + bi)
        for row, bi in zip(mat[1], b[1], strict=True)
    ]
    total = sum(mpmath.exp(z) for z in z2)
    yhat = [r(mpmath.exp(z) / total) for z in z2]
    loss = r(-sum(t * mpmath.log(p) for t, p in zip(y, yhat, strict=True) if t))
    d2 = [r(p - t) for p, t in zip(yhat, y, strict=True)]
    d1 = [
        r(sum(mat[1][k][i] * d2[k] for k in range(len(d2))) * (1 if z1[i] > 0 else 0))
        for i in range(len(z1))
    ]
    return {
        "z1": z1,
        "a1": a1,
        "z2": z2,
        "yhat": yhat,
        "loss": [loss],
        "dW1": [r(d * xi) for d in d1 for xi in x],
        "db1": d1,
        "dW2": [r(d * a) for d in d2 for a in a1],
        "db2": d2,
    }


def test_answers_are_the_independent_values_to_4_decimals_also_by_hand(exercises) -> None:
    assert len(exercises.students) == 3
    with mpmath.workdps(40):
        for student in exercises.students:
            for hand in (False, True):
                values = _backprop(student.spec, hand)
                by_key: dict[str, list[str]] = {}
                for a in student.answers:
                    by_key.setdefault(a.key, []).append(a.rounded)
                assert list(by_key) == list(values)
                for key, column in values.items():
                    expected = [_text(v) for v in column]
                    got = [v.replace("-0.0000", "0.0000") for v in by_key[key]]
                    assert got == expected, (student.label, key, hand)


def test_numbers_are_one_decimal_away_from_kinks_and_ties(exercises) -> None:
    with mpmath.workdps(40):
        for student in exercises.students:
            spec = student.spec
            numbers = [v for w in spec.weights for v in w] + [v for b in spec.biases for v in b]
            numbers += list(spec.x)
            assert all((v * 10).is_integer for v in numbers)
            values = _backprop(spec, hand=False)
            assert min(abs(z) for z in values["z1"]) >= 0.05
            assert student.unstable == ()
            for key in ("z1", "z2", "yhat"):  # dead ReLUs may tie at a = 0
                ordered = sorted(values[key])
                assert all(b - a >= 0.01 for a, b in itertools.pairwise(ordered))
            for column in values.values():  # no answer near a 4-decimal rounding boundary
                for v in column:
                    units = v * 10**4
                    assert abs(abs(units - mpmath.nint(units)) - 0.5) >= 0.01


def test_sheets_differ_per_student_and_same_seed_same_bytes(exercises) -> None:
    specs = {s.toml.split("\n", 1)[1] for s in exercises.students}
    assert len(specs) == 3
    assert texts(make_exercises(ARCH, 7, 3)) == texts(exercises)
    assert texts(make_exercises(ARCH, 8, 3)) != texts(exercises)


def test_same_seed_same_files_across_hash_seeds(tmp_path: Path) -> None:
    outputs = []
    for hash_seed in ("1", "2"):
        folder = tmp_path / hash_seed
        command = [sys.executable, "-m", "symbackprop", "exercise", ARCH, "--seed", "3"]
        command += ["-o", str(folder), "--no-pdf"]
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        subprocess.run(command, check=True, env=env, capture_output=True)
        outputs.append({p.name: p.read_bytes() for p in sorted(folder.iterdir())})
    assert outputs[0] == outputs[1]
    assert sorted(outputs[0]) == [
        "answers-01.toml",
        "key.json",
        "key.md",
        "key.tex",
        "sheet-01.md",
        "sheet-01.tex",
    ]


def test_sheet_shows_numbers_and_blank_tables_and_key_every_answer(exercises) -> None:
    files = texts(exercises)
    student = exercises.students[1]
    sheet = files["sheet-02.md"]
    w1 = student.spec.weights[0]
    first_row = " & ".join(f"{float(v):g}" for v in w1.row(0))
    assert f"W^{{(1)}} = \\begin{{bmatrix}}\n{first_row} \\\\\n" in sheet
    assert "W^{(1)} = \\begin{bmatrix}" in sheet and "| `dW1` | col 0 | col 1 |" in sheet
    assert "\\operatorname{ReLU}(z^{(1)}_{1})" in sheet
    assert not any(a.rounded in sheet for a in student.answers if len(a.rounded) > 6)
    key = files["key.md"]
    for a in student.answers:
        assert f"| `{a.name}` | `{a.exact}` | {a.rounded} |" in key
    document = json.loads(files["key.json"])
    assert document["seed"] == 7 and len(document["students"]) == 3
    assert document["students"][1]["spec"] == student.toml
    assert parse_spec(student.toml).weights == student.spec.weights


def test_answer_template_is_expected_form(exercises) -> None:
    template = texts(exercises)["answers-01.toml"]
    spec = parse_spec(exercises.students[0].toml + template.split('student = "01"', 1)[1])
    assert [key for key, _ in spec.expected.values][:2] == ["z1", "a1"]


def test_moodle_quiz_is_well_formed_numerical_questions(exercises) -> None:
    quiz = ET.fromstring(texts(exercises, "moodle")["quiz.xml"])
    questions = quiz.findall("question[@type='numerical']")
    answers = [a for s in exercises.students for a in s.answers]
    assert len(questions) == len(answers)
    for question, answer in zip(questions, answers, strict=True):
        assert question.findtext("answer/text") == answer.rounded
        assert question.findtext("answer/tolerance") == "0.0001"
        assert question.find("answer").get("fraction") == "100"
        assert answer.name in question.findtext("questiontext/text")
    assert quiz.find("question[@type='category']") is not None


def test_a_spec_is_redrawn_with_its_training_step() -> None:
    exercises = make_exercises("mazur-step-by-step", 2)
    student = exercises.students[0]
    assert student.spec.layers == (2, 2, 2) and student.spec.training is not None
    keys = list(dict.fromkeys(a.key for a in student.answers))
    assert keys[-2:] == ["W1_updated", "W2_updated"]  # Mazur's step leaves the biases alone
    updated = {a.name: Fraction(a.rounded) for a in student.answers if a.key == "W1_updated"}
    grads = {a.name: Fraction(a.rounded) for a in student.answers if a.key == "dW1"}
    rate = Fraction(1, 2)
    for (i, j), w in zip([(0, 0), (0, 1), (1, 0), (1, 1)], student.spec.weights[0], strict=True):
        new = Fraction(str(w)) - rate * grads[f"dW1[{i},{j}]"]
        assert abs(updated[f"W1_updated[{i},{j}]"] - new) <= Fraction(1, 10**4)


@pytest.mark.parametrize(
    ("arch", "message"),
    [
        ("2-3:relu:cross_entropy:x", r"expected SIZES:ACTIVATIONS:LOSS .*got 4 parts"),
        ("2-x-2:relu,softmax:cross_entropy", r"got sizes '2-x-2'"),
        ("2-3-2:relu,sofmax:cross_entropy", r"unknown activation 'sofmax'"),
        ("cnn", r"only dense networks"),
    ],
    ids=["parts", "sizes", "activation", "stack"],
)
def test_bad_arch_is_one_line_exit_2(arch, message, capsys, tmp_path) -> None:
    assert main(["exercise", arch, "--seed", "1", "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("symbackprop: error: ")
    assert re.search(message, err), err


def test_exercise_and_grade_help_import_no_sympy() -> None:
    for command in ("exercise", "grade"):
        code = (
            "import sys; from symbackprop.cli import main\n"
            f"try:\n    main(['{command}', '--help'])\nexcept SystemExit:\n    pass\n"
            "assert 'sympy' not in sys.modules and 'numpy' not in sys.modules"
        )
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


@pytest.mark.latex
@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="needs pdflatex")
def test_cli_writes_pdfs(tmp_path: Path) -> None:
    assert main(["exercise", ARCH, "--seed", "5", "-o", str(tmp_path)]) == 0
    for name in ("sheet-01.pdf", "key.pdf"):
        assert (tmp_path / name).read_bytes().startswith(b"%PDF")


BATCH = """
[network]
layers = [2, 2, 1]
activations = ["sigmoid", "sigmoid"]
loss = "binary_cross_entropy"
[parameters]
W1 = [[0.1, 0.2], [0.3, 0.4]]
b1 = [0, 0]
W2 = [[0.5, 0.6]]
b2 = [0]
[data]
x = [[1, 0], [0, 1]]
y = [[1], [0]]
"""


def test_a_batched_spec_is_redrawn_and_its_answer_file_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "batch.toml"
    path.write_text(BATCH, "utf-8")
    exercises = make_exercises(str(path), 4)
    student = exercises.students[0]
    assert student.spec.samples == 2 and student.spec.x != parse_spec(BATCH).x
    files = texts(exercises)
    assert "a batch of 2 samples" in files["sheet-01.md"]
    template = files["answers-01.toml"].split('student = "01"', 1)[1]
    spec = parse_spec(student.toml + template)
    assert dict(spec.expected.values)["yhat"].shape == (1, 2)


def test_cli_moodle_writes_quiz_and_key(tmp_path: Path) -> None:
    assert main(["exercise", ARCH, "--seed", "2", "--format", "moodle", "-o", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["key.json", "quiz.xml"]
    ET.parse(tmp_path / "quiz.xml")


def _label_numbers(svg: str) -> list[Fraction]:
    """The numbers in the text labels of ``svg`` (its tspans), as fractions."""
    texts = " ".join(re.findall(r"<tspan[^>]*>([^<]*)</tspan>", svg))
    return [Fraction(n.replace("−", "-")) for n in re.findall(r"−?[0-9]+(?:\.[0-9]+)?", texts)]


def test_sheet_picture_shows_the_given_numbers_and_no_answer(exercises) -> None:
    files = texts(exercises)
    student = exercises.students[0]
    sheet = files["sheet-01.md"]
    svg = sheet[sheet.find("<svg") : sheet.find("</svg>")]
    assert svg and sheet.find("<svg") < sheet.find("## The network")
    spec = student.spec
    given = [*spec.x, *spec.y] + [v for w in spec.weights for v in w]
    given += [v for b in spec.biases for v in b]
    # each x, W, b and y once, and no other number: no activation, loss or gradient
    assert sorted(_label_numbers(svg)) == sorted(Fraction(str(v)) for v in given)
    assert "J = ?" in svg and "ŷ₁" in svg and "a₃⁽¹⁾" in svg
    tex = files["sheet-01.tex"]
    assert "\\usepackage{tikz}" in tex
    assert tex.find("\\begin{tikzpicture}") < tex.find("\\subsection*{The network}")
    assert "$J = {?}$" in tex
