"""Spec parsing: exact numbers and one clear error per kind of bad input."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sympy import Integer, Rational

from symbackprop.cli import main
from symbackprop.errors import SpecError
from symbackprop.spec import example_names, example_text, load_spec, parse_spec

SEED = example_text("seed")


def _edit(old: str, new: str, text: str = SEED) -> str:
    assert old in text, old  # the edit must apply, or the test would prove nothing
    return text.replace(old, new, 1)


def test_decimals_are_exact_rationals() -> None:
    spec = load_spec("seed")
    assert spec.weights[0][0, 0] == Rational(1, 10)
    assert spec.weights[0][0, 0] != 0.1  # never a float
    assert spec.weights[1][1, 1] == Rational(11, 10)
    assert spec.x[1] == Rational(1, 2)


def test_integers_stay_integers_and_exponents_are_exact() -> None:
    spec = parse_spec(
        _edit("y = [0, 1]", "y = [0, 1]").replace("b2 = [0.2, 0.2]", "b2 = [2, 1.5e-3]")
    )
    assert isinstance(spec.biases[1][0], Integer)
    assert spec.biases[1][1] == Rational(3, 2000)


def test_bias_as_column_and_flat_list_agree() -> None:
    column = parse_spec(_edit("b1 = [0.1, 0.1, 0.1]", "b1 = [[0.1], [0.1], [0.1]]"))
    assert column.biases == load_spec("seed").biases


def test_batch_is_stored_as_columns() -> None:
    spec = parse_spec(
        _edit("x = [1.0, 0.5]", "x = [[1.0, 0.5], [0.2, 0.3], [0, 1]]").replace(
            "y = [0, 1]", "y = [[0, 1], [1, 0], [1, 0]]"
        )
    )
    assert spec.batched and spec.samples == 3
    assert spec.x.shape == (2, 3) and spec.x[:, 1].T.tolist() == [
        [Rational(1, 5), Rational(3, 10)]
    ]


def test_labels_become_one_hot() -> None:
    spec = parse_spec(_edit("y = [0, 1]", "label = 1"))
    assert spec.y == load_spec("seed").y


def test_examples_are_listed_and_seed_is_the_notebook() -> None:
    assert "seed" in example_names()
    spec = load_spec("seed")
    assert spec.layers == (2, 3, 2)
    assert [a.name for a in spec.activations] == ["relu", "softmax"]


BAD_SPECS = [
    ("not-toml", "[network\nlayers = [2]", r"not valid TOML"),
    ("missing-table", _edit("[data]", "[other]"), r"\[other\]: unknown key"),
    (
        "loss-option",
        _edit('loss = "cross_entropy"', 'loss = { name = "cross_entropy", half = true }'),
        r"\[network\] loss\.half: unknown option; expected one of: name, reduction$",
    ),
    (
        "reduction",
        _edit('loss = "cross_entropy"', 'loss = { name = "cross_entropy", reduction = "max" }'),
        r"\[network\] loss\.reduction: expected one of: mean, sum, got 'max'",
    ),
    (
        "activation-option",
        _edit('["relu", "softmax"]', '[{ name = "relu", slope = 0.1 }, "softmax"]'),
        r"\[network\] activations\[0\]\.slope: unknown option; expected one of: name$",
    ),
    ("missing-key", _edit('loss = "cross_entropy"\n', ""), r"\[network\] loss: missing key"),
    (
        "unknown-key",
        _edit("[data]", "[data]\nz = 1"),
        r"\[data\] z: unknown key; expected one of: x, y",
    ),
    (
        "unknown-param",
        _edit("[parameters]", "[parameters]\nW3 = [[1]]"),
        r"\[parameters\] W3: unknown key",
    ),
    (
        "shape-rows",
        _edit("W1 = [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]", "W1 = [[0.1, 0.2], [0.3, 0.4]]"),
        r"\[parameters\] W1: expected a 3x2 matrix \(3 rows of 2 numbers\), got 2 rows",
    ),
    (
        "shape-cols",
        _edit("W2 = [[0.7, 0.8, 0.9]", "W2 = [[0.7, 0.8]"),
        r"\[parameters\] W2\[0\]: expected a row of 3 numbers",
    ),
    (
        "bias-length",
        _edit("b2 = [0.2, 0.2]", "b2 = [0.2]"),
        r"\[parameters\] b2: expected a list of 2 numbers, got 1 entries",
    ),
    (
        "x-length",
        _edit("x = [1.0, 0.5]", "x = [1.0]"),
        r"\[data\] x: expected a list of 2 numbers",
    ),
    (
        "non-numeric",
        _edit("b1 = [0.1, 0.1, 0.1]", 'b1 = [0.1, "a", 0.1]'),
        r"\[parameters\] b1\[1\]: expected a number, got string 'a'",
    ),
    (
        "boolean",
        _edit("b1 = [0.1, 0.1, 0.1]", "b1 = [0.1, true, 0.1]"),
        r"\[parameters\] b1\[1\]: expected a number, got boolean true",
    ),
    (
        "nan",
        _edit("x = [1.0, 0.5]", "x = [nan, 0.5]"),
        r"\[data\] x\[0\]: expected a finite number, got nan",
    ),
    (
        "inf",
        _edit("W1 = [[0.1, 0.2]", "W1 = [[-inf, 0.2]"),
        r"\[parameters\] W1\[0\]\[0\]: expected a finite number, got -inf",
    ),
    (
        "too-large",
        _edit("W1 = [[0.1, 0.2]", "W1 = [[1e400, 0.2]"),
        r"\[parameters\] W1\[0\]\[0\]: expected a number within float64's range "
        r"\(0, or 2\.2e-308 <= \|x\| <= 1\.8e308\), got 1e400$",
    ),
    (
        "too-small",
        _edit("x = [1.0, 0.5]", "x = [1.0, -1e-400]"),
        r"\[data\] x\[1\]: expected a number within float64's range .*, got -1e-400$",
    ),
    (
        "huge-exponent",  # must not build 10**1000000000 before rejecting it
        _edit("b1 = [0.1, 0.1, 0.1]", "b1 = [0.1, 1e1000000000, 0.1]"),
        r"\[parameters\] b1\[1\]: expected a number within float64's range .*, got 1e1000000000$",
    ),
    (
        "large-integer",
        _edit("b1 = [0.1, 0.1, 0.1]", "b1 = [0.1, 1" + "0" * 400 + ", 0.1]"),
        r"\[parameters\] b1\[1\]: expected a number within float64's range .*, "
        r"got 10{23}\.\.\.0{8} \(401 characters\)$",
    ),
    (
        "integer-beyond-python",
        _edit("b1 = [0.1, 0.1, 0.1]", "b1 = [0.1, 1" + "0" * 5000 + ", 0.1]"),
        r"cannot read a number: Exceeds the limit \(4300 digits\)",
    ),
    (
        "too-many-digits",
        _edit("x = [1.0, 0.5]", "x = [1." + "1" * 1000 + ", 0.5]"),
        r"\[data\] x\[0\]: expected a number of at most 1000 significant digits, got 1\.1+\.\.\.",
    ),
    (
        "float-layer-size",
        _edit("layers = [2, 3, 2]", "layers = [2, 3, 2.0]"),
        r"\[network\] layers: expected a list of at least 2 positive integers .*got \[2, 3, 2\.0\]$",
    ),
    (
        "float-label",
        _edit("y = [0, 1]", "label = 1.0"),
        r"\[data\] label: expected a class index in 0\.\.1, got 1\.0$",
    ),
    (
        "negative-rate-as-written",
        _edit("[data]", "[training]\nlearning_rate = -0.1\n\n[data]"),
        r"\[training\] learning_rate: expected a number > 0, got -0\.1$",
    ),
    (
        "date",
        _edit("b1 = [0.1, 0.1, 0.1]", "b1 = [0.1, 1979-05-27, 0.1]"),
        r"\[parameters\] b1\[1\]: expected a number, got a date$",
    ),
    (
        "loss-without-name",
        _edit('loss = "cross_entropy"', 'loss = { reduction = "sum" }'),
        r"\[network\] loss: expected a 'name' in the inline table$",
    ),
    (
        "not-one-hot",
        _edit("y = [0, 1]", "y = [0.5, 0.5]"),
        r"\[data\] y: target must be one-hot for cross_entropy",
    ),
    ("two-hot", _edit("y = [0, 1]", "y = [1, 1]"), r"\[data\] y: target must be one-hot"),
    (
        "unknown-activation",
        _edit('["relu", "softmax"]', '["tanhh", "softmax"]'),
        r"\[network\] activations\[0\]: unknown activation 'tanhh'; expected one of: identity, ",
    ),
    (
        "softmax-hidden",
        _edit('["relu", "softmax"]', '["softmax", "softmax"]'),
        r"\[network\] activations\[0\]: 'softmax' is allowed on the output layer only",
    ),
    (
        "activation-count",
        _edit('["relu", "softmax"]', '["softmax"]'),
        r"\[network\] activations: expected a list of 2 activations",
    ),
    (
        "unknown-loss",
        _edit('loss = "cross_entropy"', 'loss = "hinge"'),
        r"\[network\] loss: unknown loss 'hinge'; expected one of: ",
    ),
    (
        "loss-needs-softmax",
        _edit('["relu", "softmax"]', '["relu", "sigmoid"]'),
        r"\[network\] loss: 'cross_entropy' needs a softmax output layer, got 'sigmoid'",
    ),
    (
        "layers",
        _edit("layers = [2, 3, 2]", "layers = [2, 0, 2]"),
        r"\[network\] layers: expected a list of at least 2 positive integers",
    ),
    (
        "label-range",
        _edit("y = [0, 1]", "label = 2"),
        r"\[data\] label: expected a class index in 0\.\.1",
    ),
    (
        "y-and-label",
        _edit("y = [0, 1]", "y = [0, 1]\nlabel = 1"),
        r"\[data\] y: expected exactly one of: y, label, labels; got y, label",
    ),
]


@pytest.mark.parametrize(
    ("text", "pattern"), [c[1:] for c in BAD_SPECS], ids=[c[0] for c in BAD_SPECS]
)
def test_bad_spec_names_file_key_and_expectation(text: str, pattern: str) -> None:
    with pytest.raises(SpecError, match=r"^bad\.toml: " + pattern):
        parse_spec(text, "bad.toml")


@pytest.mark.parametrize(
    ("text", "pattern"), [c[1:] for c in BAD_SPECS], ids=[c[0] for c in BAD_SPECS]
)
def test_bad_spec_is_one_line_and_exit_status_2(
    text: str, pattern: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    assert main(["derive", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert re.fullmatch(
        rf"symbackprop: error: {re.escape(str(path))}: {pattern}.*\n", captured.err
    )


def test_missing_file_lists_examples(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["derive", "no-such-spec.toml"]) == 2
    assert re.fullmatch(
        r"symbackprop: error: no-such-spec\.toml: cannot read spec: .*built-in "
        r"examples: .*seed.*\n",
        capsys.readouterr().err,
    )


def test_numbers_at_the_ends_of_float64_range_are_exact() -> None:
    spec = parse_spec(
        _edit("b1 = [0.1, 0.1, 0.1]", "b1 = [1.7976931348623157e308, 2.2250738585072014e-308, 0]")
    )
    assert spec.biases is not None
    assert spec.biases[0][0] == Rational(17976931348623157 * 10**292)
    assert spec.biases[0][1] == Rational(22250738585072014, 10**324)


def test_byte_order_mark_and_empty_name(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + load_spec("seed").text.encode())
    assert load_spec(path).weights == load_spec("seed").weights
    with pytest.raises(SpecError, match=r"^spec: expected a TOML file or a built-in example name"):
        load_spec("")


def test_spec_is_data_not_code(tmp_path: Path) -> None:
    """A string that SymPy would evaluate is rejected as a non-number, not run."""
    with pytest.raises(SpecError, match=r"expected a number, got string '__import__"):
        parse_spec(_edit("x = [1.0, 0.5]", "x = [\"__import__('os')\", 0.5]"))
