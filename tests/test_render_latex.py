"""Tests for symbackprop.render.latex (printer, line breaking, the latex format) and the
format-neutral content of symbackprop.render.blocks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sympy import (
    Add,
    Derivative,
    ImmutableMatrix,
    MatrixSymbol,
    OneMatrix,
    Rational,
    Symbol,
    Transpose,
    exp,
    log,
    tanh,
)

from symbackprop import SymbackpropError, derive, parse_spec
from symbackprop.activations import LeakyReLU, LeakyReLUPrime, ReLU, ReLUPrime, Sigmoid, Softplus
from symbackprop.cli import main
from symbackprop.render.blocks import SECTIONS, Equation, Heading, Paragraph, blocks, resolve
from symbackprop.render.latex_printer import DecimalNumber, latex, latex_text
from symbackprop.render.layout import (
    LINE_WIDTH,
    MATRIX_COLUMNS,
    MATRIX_ROWS,
    Row,
    Segment,
    aligned,
    break_lines,
    matrix_blocks,
)
from symbackprop.render.widths import estimate_width

TESTS = Path(__file__).parent
GOLDEN = TESTS / "golden"
DEEP = TESTS / "specs" / "deep.toml"
WIDE_TALL = TESTS / "specs" / "wide-tall.toml"

z = Symbol("z^(1)_1")

PRINTED = {
    "relu": (ReLU(z), r"\operatorname{ReLU}(z^{(1)}_{1})"),
    "relu-prime": (ReLUPrime(z), r"\operatorname{ReLU}'(z^{(1)}_{1})"),
    "leaky-relu": (
        LeakyReLU(z, Rational(1, 100)),
        r"\operatorname{LeakyReLU}\left(z^{(1)}_{1}; \frac{1}{100}\right)",
    ),
    "leaky-relu-prime": (
        LeakyReLUPrime(z, Rational(1, 100)),
        r"\operatorname{LeakyReLU}'\left(z^{(1)}_{1}; \frac{1}{100}\right)",
    ),
    "sigmoid": (Sigmoid(z), r"\sigma(z^{(1)}_{1})"),
    "softplus": (Softplus(z), r"\operatorname{softplus}(z^{(1)}_{1})"),
    "tanh-squared": (tanh(z) ** 2, r"\tanh^{2}(z^{(1)}_{1})"),
    "derivative": (
        Derivative(Symbol("J"), Symbol("z^(2)_1")),
        r"\frac{\partial J}{\partial z^{(2)}_{1}}",
    ),
    "weight": (Symbol("W^(1)_12"), r"W^{(1)}_{12}"),
    "wide-weight": (Symbol("W^(1)_1,12"), r"W^{(1)}_{1,12}"),
    "yhat": (Symbol("yhat_1"), r"\hat{y}_{1}"),
    "delta": (Symbol("delta^(2)_1"), r"\delta^{(2)}_{1}"),
    "output-error": (Symbol("yhat_1") - Symbol("y_1"), r"\hat{y}_{1} - y_{1}"),
    "log-symbol": (log(Symbol("yhat_1")), r"\log \hat{y}_{1}"),
    "exp-folded": (exp(Rational(27, 50)), r"e^{27 / 50}"),
    "exp-long": (
        exp(Symbol("W^(2)_11") * Symbol("a^(1)_1") + Symbol("W^(2)_12") * Symbol("a^(1)_2")),
        r"\exp(W^{(2)}_{11} a^{(1)}_{1} + W^{(2)}_{12} a^{(1)}_{2})",
    ),
    "exact-gradient": (
        Rational(3, 5) / (1 + exp(Rational(27, 50))),
        r"\frac{3}{5 \left(1 + e^{27 / 50}\right)}",
    ),
    "bmatrix": (
        ImmutableMatrix([[1, 2], [3, 4]]),
        "\\begin{bmatrix}\n1 & 2 \\\\\n3 & 4\n\\end{bmatrix}",
    ),
    "transpose": (Transpose(MatrixSymbol("a^(1)", 3, 1)), r"(a^{(1)})^{\top}"),
    "ones": (MatrixSymbol("delta^(1)", 3, 4) * OneMatrix(4, 1), r"\delta^{(1)} \mathbf{1}"),
    "decimal": (DecimalNumber("-1.25e-9"), r"-1.25 \cdot 10^{-9}"),
}


@pytest.mark.parametrize(("expr", "expected"), PRINTED.values(), ids=PRINTED.keys())
def test_printer(expr: object, expected: str) -> None:
    assert latex(expr) == expected


def test_decimal_number_keeps_its_digits_and_sign() -> None:
    number = DecimalNumber("0.300000000000")
    assert latex(number) == "0.300000000000"
    assert -number == DecimalNumber("-0.300000000000")
    assert latex(Add(DecimalNumber("0.5"), -DecimalNumber("0.25"), evaluate=False)) == "0.5 - 0.25"
    with pytest.raises(ValueError, match="not a decimal number"):
        DecimalNumber("1/3")


def test_latex_text_escapes_specials_and_option_dashes() -> None:
    assert latex_text("50% of x_1 & --format") == r"50\% of x\_1 \& -{}-format"


# --- Line breaking -------------------------------------------------------------------------

LONG_SUM = Add(*[Symbol(f"W^(2)_1,{j}") * Symbol(f"a^(1)_{j}") for j in range(1, 31)])


def test_short_expression_stays_on_one_line() -> None:
    assert break_lines(Symbol("x") + 1, 30, 30) == ["x + 1"]


def test_long_sum_breaks_before_operators_within_the_width() -> None:
    lines = break_lines(LONG_SUM, 20, 25)
    assert len(lines) > 3
    assert all(line.startswith("{}+ ") for line in lines[1:])
    assert estimate_width(lines[0]) <= 20
    assert all(estimate_width(line) <= 25 for line in lines[1:])


def test_brackets_spanning_lines_get_fixed_sizes() -> None:
    lines = break_lines(ReLU(LONG_SUM) * Symbol("x_1"), 30, 30)
    assert r"\operatorname{ReLU}\bigl(" in lines[0]
    assert r"\left(" not in "".join(lines)
    assert "".join(lines).count(r"\bigl(") == "".join(lines).count(r"\bigr)")


def test_matrix_blocks_fit_amsmath_and_the_page() -> None:
    """bmatrix takes at most 10 columns; a display cannot break across pages."""
    narrow = ImmutableMatrix(2, 25, lambda i, j: i + j % 2)
    blocks = matrix_blocks(narrow, LINE_WIDTH)
    assert [b.columns for b in blocks] == [(1, 10), (11, 20), (21, 25)]
    assert all(
        b.rows == (1, 2) and b.latex.count("&") == 2 * (b.columns[1] - b.columns[0])
        for b in blocks
    )
    tall = ImmutableMatrix(48, 1, lambda i, j: i)
    assert [b.rows for b in matrix_blocks(tall, LINE_WIDTH)] == [(1, 16), (17, 32), (33, 48)]
    assert [b.rows for b in matrix_blocks(ImmutableMatrix(20, 1, lambda i, j: i), LINE_WIDTH)] == [
        (1, 10),
        (11, 20),
    ]
    assert (MATRIX_COLUMNS, MATRIX_ROWS) == (10, 16)
    both = matrix_blocks(ImmutableMatrix(20, 12, lambda i, j: 0), LINE_WIDTH)
    assert [(b.rows, b.columns) for b in both] == [
        ((1, 10), (1, 10)),
        ((1, 10), (11, 12)),
        ((11, 20), (1, 10)),
        ((11, 20), (11, 12)),
    ]


def test_split_matrices_name_their_rows_and_columns() -> None:
    tex = derive(WIDE_TALL).to_latex(sections=["forward", "gradients"])
    dw1, db1 = (rf"\left(\frac{{\partial J}}{{\partial {p}^{{(1)}}}}\right)" for p in "Wb")
    assert dw1 + r"_{1\ldots 10,\,:} &\approx \begin{bmatrix}" in tex
    assert dw1 + r"_{11\ldots 20,\,:} &\approx \begin{bmatrix}" in tex
    assert db1 + r"_{1\ldots 10} &\approx \begin{bmatrix}" in tex
    assert r"\left(W^{(2)}\right)_{:,\,20} &= \begin{bmatrix}" in tex
    assert r"\left(y\right)_{:,\,1\ldots 10} &= \begin{bmatrix}" in tex
    assert r"\left(y\right)_{:,\,11\ldots 12} &= \begin{bmatrix}" in tex
    widest = max(len(line.split("&")) for line in tex.splitlines() if line.endswith(r"\\"))
    assert widest <= MATRIX_COLUMNS + 1  # an aligned row adds one "&"


def test_aligned_lines_up_relations_and_indents_continuations() -> None:
    tex = aligned([Row("J", (Segment("=", LONG_SUM), Segment(r"\approx", "1.5")))])
    lines = tex.splitlines()
    assert lines[0] == r"\begin{aligned}" and lines[-1] == r"\end{aligned}"
    assert lines[1].startswith("J &= ")
    assert all(line.startswith(r"&\quad {}+ ") for line in lines[2:-2])
    assert r"\approx 1.5" in lines[-2]


def test_segments_share_a_line_while_they_fit() -> None:
    row = Row("a", (Segment("=", Symbol("b")), Segment("=", Symbol("c"), newline=True)))
    assert aligned([row]).splitlines()[1:3] == ["a &= b \\\\", "&= c"]


def test_estimate_width_counts_scripts_fractions_and_operators() -> None:
    assert estimate_width(r"x_{1}") < estimate_width(r"x_{1}x_{1}")
    assert estimate_width(r"\frac{a + b}{c}") == pytest.approx(estimate_width("a + b") + 0.25)
    assert estimate_width("a + b") > estimate_width("a b") + 1


# --- Content (blocks) ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def seed_latex() -> str:
    return derive("seed").to_latex()


def test_sections_in_order_with_headings() -> None:
    headings = [b.text for b in blocks(derive("seed")) if isinstance(b, Heading) and b.level == 1]
    assert headings == [
        "Notation",
        "Forward pass",
        "Loss",
        "Output error",
        "Backward recursion",
        "Gradients",
    ]


def test_sections_pick_a_subset_in_document_order() -> None:
    content = blocks(derive("seed"), sections=("gradients", "loss"))
    assert [b.text for b in content if isinstance(b, Heading) and b.level == 1] == [
        "Loss",
        "Gradients",
    ]


def test_unknown_section_is_an_error() -> None:
    with pytest.raises(SymbackpropError, match=r"^unknown section 'gradient'; expected one of: "):
        resolve(["gradient"])
    assert resolve(None)[: len(SECTIONS)] == SECTIONS


def test_notation_states_convention_shapes_and_delta(seed_latex: str) -> None:
    assert r"z^{(1)} &= W^{(1)} x + b^{(1)}" in seed_latex
    assert r"W^{(1)} \in \mathbb{R}^{3 \times 2}" in seed_latex
    assert r"\operatorname{ReLU}'(0) = 0" in seed_latex
    assert r"\delta^{(l)}_{i} = \partial J / \partial z^{(l)}_{i}" in seed_latex


def test_relu_prime_convention_follows_the_option() -> None:
    tex = derive("seed", relu_prime_at_zero=Rational(1, 2)).to_latex(sections=["notation"])
    assert r"\operatorname{ReLU}'(0) = \frac{1}{2}" in tex


def test_forward_pass_shows_definitions_then_values(seed_latex: str) -> None:
    assert r"z^{(1)}_{1} &= W^{(1)}_{11} x_{1} + W^{(1)}_{12} x_{2} + b^{(1)}_{1}" in seed_latex
    assert r"z^{(1)}_{1} &= 0.1 \cdot 1 + 0.2 \cdot 0.5 + 0.1 = 0.3" in seed_latex
    assert r"= \frac{1}{1 + e^{27 / 50}} \approx 0.368187582264" in seed_latex


def test_loss_symbolic_then_value(seed_latex: str) -> None:
    assert r"J &= - y_{1} \log \hat{y}_{1} - y_{2} \log \hat{y}_{2}" in seed_latex
    assert r"\approx 0.459162736271" in seed_latex


def test_output_error_steps_with_the_one_hot_assumption_written_out(seed_latex: str) -> None:
    assert r"\sum_{k=1}^{2} y_{k} = 1$, here $y_{1} + y_{2} = 1" in seed_latex
    assert (
        r"\frac{\partial J}{\partial z^{(2)}_{1}} &= \sum_{j=1}^{2} \frac{\partial J}"
        r"{\partial \hat{y}_{j}} \frac{\partial \hat{y}_{j}}{\partial z^{(2)}_{1}}"
    ) in seed_latex
    assert r"&= \hat{y}_{1} - y_{1} && \text{(3)}" in seed_latex
    assert r"= \hat{y} - y" in seed_latex


def test_backward_recursion_element_wise_matrix_form_and_agreement(seed_latex: str) -> None:
    assert (
        r"\left(W^{(2)}_{11} \delta^{(2)}_{1} + W^{(2)}_{21} \delta^{(2)}_{2}\right) "
        r"\operatorname{ReLU}'(z^{(1)}_{1})"
    ) in seed_latex
    assert (
        r"\delta^{(1)} &= (W^{(2)})^{\top} \delta^{(2)} \odot \operatorname{ReLU}'(z^{(1)})"
        in seed_latex
    )
    assert "verified symbolically that the two agree" in seed_latex


def test_chain_rule_sums_over_the_next_layer_only_when_it_has_several_units(
    seed_latex: str,
) -> None:
    assert r"\delta^{(1)}_{1} &= \sum_{k=1}^{2} \delta^{(2)}_{k} \frac{" in seed_latex
    one_output = (
        '[network]\nlayers = [2, 2, 1]\nactivations = ["tanh", "sigmoid"]\n'
        'loss = "binary_cross_entropy"\n[parameters]\nW1 = [[0.1, 0.2], [0.3, 0.4]]\n'
        "b1 = [0.1, 0.1]\nW2 = [[0.5, 0.6]]\nb2 = [0.2]\n[data]\nx = [1, 2]\ny = [1]\n"
    )
    text = derive(parse_spec(one_output)).to_latex(sections=["backward"])
    assert r"\sum" not in text
    assert (
        r"\delta^{(1)}_{1} &= \delta^{(2)}_{1} \frac{\partial z^{(2)}_{1}}{\partial a^{(1)}_{1}} "
        r"\frac{\partial a^{(1)}_{1}}{\partial z^{(1)}_{1}}"
    ) in text


def test_gradient_compact_expanded_and_worked_number(seed_latex: str) -> None:
    assert (
        r"\frac{\partial J}{\partial W^{(2)}_{12}} &= \delta^{(2)}_{1} a^{(1)}_{2} "
        r"= a^{(1)}_{2} \left(\hat{y}_{1} - y_{1}\right)"
    ) in seed_latex
    assert (
        r"&= \left(0.368187582264 - 0\right) \cdot 0.6 = \frac{3}{5 \left(1 + e^{27 / 50}\right)}"
        r" \approx 0.220912549358"
    ) in seed_latex
    assert r"\frac{\partial J}{\partial W^{(2)}} &= \delta^{(2)} (a^{(1)})^{\top}" in seed_latex
    assert "\\frac{\\partial J}{\\partial W^{(2)}} &\\approx \\begin{bmatrix}\n" in seed_latex


def test_expanded_forms_are_shown_where_short_and_the_rest_named(seed_latex: str) -> None:
    expanded = seed_latex.split(r"\frac{\partial J}{\partial b^{(2)}_{1}}")[1]
    assert r"\exp\Bigl(W^{(2)}_{11} \operatorname{ReLU}\bigl(" in expanded
    assert (
        r"The expanded forms of the entries of $\partial J / \partial W^{(1)}$ and the entries "
        r"of $\partial J / \partial b^{(1)}$ are not shown: each would take more than 12 lines"
    ) in seed_latex
    without = derive("seed").to_latex(expanded=False)
    assert r"\exp\Bigl(" not in without and "expanded form" not in without


def test_digits_option_sets_the_precision() -> None:
    tex = derive("seed", digits=8).to_latex(sections=["gradients"], expanded=False)
    assert r"\left(0.36818758 - 0\right) \cdot 0.6" in tex
    assert r"\approx 0.22091255" in tex


def test_gradient_equations_are_labelled_by_entry() -> None:
    labels = [b.label for b in blocks(derive("seed")) if isinstance(b, Equation)]
    assert "dJ/dW2[0,1]" in labels and "dJ/db1[2]" in labels
    assert len(labels) == len(set(labels))


def test_paragraphs_hold_text_and_math_parts() -> None:
    paragraphs = [b for b in blocks(derive("seed")) if isinstance(b, Paragraph)]
    assert {kind for p in paragraphs for kind, _ in p.parts} == {"text", "math"}


KINK_SPEC = """
[network]
layers = [1, 1, 2]
activations = ["relu", "softmax"]
loss = "cross_entropy"
[parameters]
W1 = [[1.0]]
b1 = [-1.0]
W2 = [[1.0], [-1.0]]
b2 = [0.0, 0.0]
[data]
x = [1.0]
y = [1, 0]
"""


def test_a_pre_activation_at_the_kink_is_noted() -> None:
    tex = derive(parse_spec(KINK_SPEC)).to_latex(sections=["notation"])
    assert "is exactly 0: the gradient there depends on the convention" in tex


TRAINING_SPEC = (
    KINK_SPEC.replace("b1 = [-1.0]", "b1 = [0.5]") + "[training]\nlearning_rate = 0.5\n"
)


def test_one_gradient_descent_step_section() -> None:
    derivation = derive(parse_spec(TRAINING_SPEC))
    tex = derivation.to_latex()
    assert r"\section*{One gradient-descent step}" in tex
    assert r"\eta = 0.5" in tex
    assert r"W^{(1)} - \eta \frac{\partial J}{\partial W^{(1)}} &" in tex
    only = derivation.to_latex(sections=["updated"])
    assert only.startswith(r"\section*{One gradient-descent step}")
    assert "One gradient-descent step" not in derivation.to_latex(sections=["gradients"])


# --- The format ----------------------------------------------------------------------------


def test_fragment_needs_no_preamble(seed_latex: str) -> None:
    assert r"\documentclass" not in seed_latex and r"\usepackage" not in seed_latex
    assert seed_latex.startswith(r"\section*{Notation}")


@pytest.mark.parametrize("picture", [True, False])
def test_standalone_document_uses_only_base_packages(picture: bool) -> None:
    """TikZ is loaded only when the document opens with the network's picture (the default)."""
    tex = derive("seed").to_latex(standalone=True, **({} if picture else {"picture": False}))
    packages = [line for line in tex.splitlines() if line.startswith(r"\usepackage")]
    assert packages == [
        r"\usepackage[margin=2.5cm]{geometry}",
        r"\usepackage{amsmath}",
        r"\usepackage{amssymb}",
        *([r"\usepackage{tikz}"] if picture else []),
    ]
    assert (r"\begin{tikzpicture}" in tex) == picture
    assert tex.rstrip().endswith(r"\end{document}")


def test_no_notation_pitfalls(seed_latex: str) -> None:
    deep = derive(DEEP).to_latex()
    for tex in (seed_latex, deep):
        assert r"\theta" not in tex  # SymPy's Heaviside
        assert r"\mathbb{1}" not in tex  # a wrong glyph with plain amssymb
        assert r"\left[\begin{bmatrix}" not in tex  # doubled brackets
        assert r"\operatorname{{" not in tex
        assert "W_{1 12}" not in tex


def test_long_equations_fit_the_estimated_width() -> None:
    for block in blocks(derive(DEEP)):
        if isinstance(block, Equation):
            for line in block.latex.splitlines():
                if r"\begin{bmatrix}" not in line and "&&" not in line:
                    assert estimate_width(line.replace("&", "")) <= LINE_WIDTH + 1, line


def test_golden_latex_document() -> None:
    expected = (GOLDEN / "seed.tex").read_text("utf-8")
    assert derive("seed").to_latex(standalone=True) == expected, (
        "the LaTeX output changed: review it, then run python tests/regenerate_golden.py"
    )


def test_output_is_byte_identical_across_hash_seeds() -> None:
    code = (
        "import json, sys; sys.path.insert(0, 'tests'); import regenerate_golden as g; "
        "print(json.dumps(g.golden_outputs()))"
    )
    outputs = []
    for seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run(
            [sys.executable, "-c", code],
            cwd=TESTS.parent,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        outputs.append(json.loads(result.stdout))
    assert outputs[0] == outputs[1]
    for name, text in outputs[0].items():
        assert text == (GOLDEN / name).read_text("utf-8"), name


# --- API and CLI ---------------------------------------------------------------------------


def test_jupyter_latex_repr_of_the_document_is_the_fragment(seed_latex: str) -> None:
    assert derive("seed").document()._repr_latex_() == seed_latex


def test_cli_writes_a_standalone_document(tmp_path: Path) -> None:
    out = tmp_path / "seed.tex"
    assert main(["derive", "--format", "latex", "--standalone", "-o", str(out)]) == 0
    assert out.read_text("utf-8") == (GOLDEN / "seed.tex").read_text("utf-8")


def test_cli_sections(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["derive", "--format", "latex", "--sections", "loss,notation"]) == 0
    out = capsys.readouterr().out
    assert out.index(r"\section*{Notation}") < out.index(r"\section*{Loss}")
    assert r"\section*{Gradients}" not in out


def test_cli_rejects_unknown_section(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["derive", "--format", "latex", "--sections", "loss,nope"])
    assert exit_info.value.code == 2
    assert "unknown section 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_cli_rejects_standalone_for_other_formats(
    fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["derive", "--format", fmt, "--standalone"]) == 2
    assert capsys.readouterr().err == (
        f"symbackprop: error: --standalone cannot be used with --format {fmt}\n"
    )
