"""Tests for symbackprop.render.mathml: LaTeX to MathML Core, checked in Chromium."""

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import browser
import pytest
from latex2mathml.converter import convert as raw_latex2mathml

from symbackprop.render import mathml
from symbackprop.render.mathml import (
    MATHML_NAMESPACE,
    MathMLError,
    latex_to_mathml,
    validate_core,
)

M = f"{{{MATHML_NAMESPACE}}}"
ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture(autouse=True)
def _fresh_conversions() -> Iterator[None]:
    """Tests replace latex2mathml; its remembered outputs must not leak between them."""
    mathml._converted.cache_clear()
    yield
    mathml._converted.cache_clear()


def test_identical_cells_are_converted_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def counting(latex: str) -> str:
        calls.append(latex)
        return str(raw_latex2mathml(latex))

    monkeypatch.setattr(mathml, "_latex2mathml", counting)
    first = latex_to_mathml(r"\begin{aligned} a &= x + 1 \\ b &= x + 1 \end{aligned}")
    again = latex_to_mathml(r"\begin{aligned} a &= x + 1 \\ b &= x + 1 \end{aligned}")
    assert first == again
    assert sorted(set(calls)) == sorted(calls)  # every distinct cell once, no repeats
    assert len(calls) == 3  # a, b and "= x + 1"


ALIGNED_CONTINUATION = r"""\begin{aligned}
\delta^{(2)}_{1} &= \frac{\partial J}{\partial z^{(2)}_{1}} \\
&= \hat{y}_{1} - y_{1} \\
\frac{\partial J}{\partial W^{(2)}_{12}} &= \delta^{(2)}_{1} \cdot a^{(1)}_{2} \\
&\approx 0.1234
\end{aligned}"""

ALIGNED_MATRIX = r"""\begin{aligned}
W^{(1)} &= \begin{bmatrix} W^{(1)}_{11} & W^{(1)}_{12} \\ W^{(1)}_{21} & W^{(1)}_{22} \end{bmatrix}
  \in \mathbb{R}^{2 \times 2} \\
\delta^{(1)} &= \left( W^{(2)} \right)^{\top} \delta^{(2)} \odot \operatorname{ReLU}'(z^{(1)}) \\
&= \left( W^{(2)} \right)^{\top} \delta^{(2)} \odot \mathbb{I}[z^{(1)} > 0]
\end{aligned}"""

ALIGNED_LOSS = r"""\begin{aligned}
J &= -\sum_{k=1}^{2} y_{k} \log \hat{y}_{k} \\
\hat{y}_{k} &= \operatorname{softmax}(z)_{k} = \frac{e^{z_{k}}}{\sum_{j=1}^{2} e^{z_{j}}} \\
\sigma(z) &= \frac{1}{1 + \exp(-z)} \qquad \tanh(z) \quad \text{(activations)}
\end{aligned}"""

SUBSET = {
    "frac": r"\frac{a}{b}",
    "sum": r"\sum_{k=1}^{2} y_{k}",
    "log": r"\log \hat{y}_{1}",
    "exp": r"e^{-z} = \exp(-z)",
    "left-paren": r"\left( W^{(2)} \right)^{\top}",
    "left-bracket": r"\left[ \hat{y} - y \right]",
    "partial": r"\frac{\partial J}{\partial W^{(2)}_{12}}",
    "delta": r"\delta^{(2)}_{1}",
    "hat": r"\hat{y}_{1}",
    "odot": r"a \odot b",
    "transpose": r"\mathbf{1}^{\top} x",
    "cdot": r"a \cdot b",
    "relu": r"\operatorname{ReLU}(z)",
    "relu-prime": r"\operatorname{ReLU}'(z)",
    "softmax": r"\operatorname{softmax}(z)_{k}",
    "sigma": r"\sigma(z)",
    "tanh": r"\tanh(z)",
    "indicator": r"\mathbb{I}[z > 0]",
    "bold-one": r"\mathbf{1}",
    "quad": r"a \quad b \qquad c",
    "text": r"\text{for all } k",
    "approx": r"J \approx 0.25",
    "in-reals": r"W \in \mathbb{R}^{3 \times 2}",
    "bmatrix": r"\begin{bmatrix} a & b \\ c & d \end{bmatrix}",
    "weight": r"W^{(1)}_{12}",
    "pre-activation": r"z^{(2)}_{1}",
    "aligned-continuation": ALIGNED_CONTINUATION,
    "aligned-bmatrix": ALIGNED_MATRIX,
    "aligned-loss": ALIGNED_LOSS,
    # beyond the subset
    "boxed": r"\boxed{x = 1}",
    "mathbb-one": r"\mathbb{1}",
    "cases": r"\begin{cases} 1 & z > 0 \\ 0 & \text{otherwise} \end{cases}",
    "smallmatrix": r"\begin{smallmatrix} a & b \\ c & d \end{smallmatrix}",
    "negative-space": r"a \! b",
    "split": r"\begin{split} a &= b \\ &= c \end{split}",
    "gathered": r"\begin{gathered} a = b \\ c = d \end{gathered}",
}


def parse(mathml: str) -> ET.Element:
    """Parse converter output; fails the test if it is not well-formed."""
    return ET.fromstring(mathml)


def tags(root: ET.Element, tag: str) -> list[ET.Element]:
    """All descendants with a MathML local name."""
    return list(root.iter(M + tag))


def texts(root: ET.Element, tag: str) -> list[str]:
    """Text of all descendants with a MathML local name."""
    return [element.text or "" for element in tags(root, tag)]


# --- Well-formed MathML Core -----------------------------------------------------------------


@pytest.mark.parametrize("latex", SUBSET.values(), ids=SUBSET.keys())
def test_subset_converts_to_well_formed_mathml_core(latex: str) -> None:
    mathml = latex_to_mathml(latex, label="subset")
    root = parse(mathml)
    assert root.tag == M + "math"
    assert root.get("display") == "block"
    validate_core(mathml)


def test_inline_display() -> None:
    root = parse(latex_to_mathml(r"\sigma(z)", display=False))
    assert root.get("display") == "inline"


@pytest.mark.parametrize("latex", SUBSET.values(), ids=SUBSET.keys())
def test_output_is_deterministic(latex: str) -> None:
    assert latex_to_mathml(latex) == latex_to_mathml(latex)
    assert " id=" not in latex_to_mathml(latex)


RAW_DEFECTS = {
    "aligned-ampersand": (r"\begin{aligned} a &= b \\ &= c \end{aligned}", "not well-formed"),
    "boxed-menclose": (r"\boxed{x}", "<menclose> is not a Core element"),
    "mathbb-mathvariant": (r"\mathbb{1}", "<mn> has attribute mathvariant"),
    "cases-columnalign": (r"\begin{cases} a & b \end{cases}", "<mtd> has attribute columnalign"),
    "space-linebreak": (r"a \\ b", "<mspace> has attribute linebreak"),
}


@pytest.mark.parametrize(("latex", "problem"), RAW_DEFECTS.values(), ids=RAW_DEFECTS.keys())
def test_validate_core_catches_raw_latex2mathml_defects(latex: str, problem: str) -> None:
    with pytest.raises(MathMLError, match=problem):
        validate_core(raw_latex2mathml(latex))
    validate_core(latex_to_mathml(latex.replace(r"\\ b", "b")))


# --- Individual repairs -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ReLU", "softmax"])
def test_operatorname_becomes_normal_mi(name: str) -> None:
    root = parse(latex_to_mathml(rf"\operatorname{{{name}}}(z)"))
    (element,) = [mi for mi in tags(root, "mi") if mi.text == name]
    assert element.attrib == {"mathvariant": "normal"}
    assert all(not text.isalpha() for text in texts(root, "mo"))


def test_operatorname_prime_is_upright_name_then_base_level_prime() -> None:
    root = parse(latex_to_mathml(r"\operatorname{ReLU}'(z)"))
    (group,) = [row for row in tags(root, "mrow") if len(row) == 2 and row[0].text == "ReLU"]
    assert [child.tag for child in group] == [M + "mi", M + "mo"]
    assert group[1].text == "′"
    assert not tags(root, "msup")


def test_operator_names_get_thin_space_before_an_argument_but_not_a_parenthesis() -> None:
    spaced = parse(latex_to_mathml(r"\log x"))
    assert [child.tag for child in spaced[0]] == [M + "mi", M + "mspace", M + "mi"]
    assert spaced[0][1].get("width") == "0.1667em"
    assert not tags(parse(latex_to_mathml(r"\log(x)")), "mspace")


@pytest.mark.parametrize(
    ("latex", "character"),
    [
        (r"\mathbb{I}", "\U0001d540"),  # 𝕀 MATHEMATICAL DOUBLE-STRUCK CAPITAL I
        (r"\mathbb{1}", "\U0001d7d9"),  # 𝟙 MATHEMATICAL DOUBLE-STRUCK DIGIT ONE
        (r"\mathbf{1}", "\U0001d7cf"),  # 𝟏 MATHEMATICAL BOLD DIGIT ONE
        (r"\mathbb{R}", "\u211d"),  # ℝ DOUBLE-STRUCK CAPITAL R
        (r"\mathbf{\delta}", "\U0001d6c5"),  # 𝛅 MATHEMATICAL BOLD SMALL DELTA
    ],
    ids=["mathbb-I", "mathbb-1", "mathbf-1", "mathbb-R", "mathbf-delta"],
)
def test_styled_letters_become_unicode_math_alphanumerics(latex: str, character: str) -> None:
    mathml = latex_to_mathml(latex)
    assert [text for text in parse(mathml).itertext() if text.strip()] == [character]
    assert "mathvariant" not in mathml


def test_partial_is_an_ordinary_identifier() -> None:
    root = parse(latex_to_mathml(r"\frac{\partial J}{\partial W}"))
    assert texts(root, "mi").count("∂") == 2
    assert "∂" not in texts(root, "mo")


def test_sum_limits_go_under_and_over_in_display_style() -> None:
    root = parse(latex_to_mathml(r"\sum_{k=1}^{2} y_{k}"))
    (sum_,) = tags(root, "munderover")
    assert sum_[0].text == "∑"
    assert sum_[0].get("movablelimits") == "true"
    assert {mo.get("lspace") for mo in tags(sum_[1], "mo")} == {"0em"}


def test_sign_after_relation_or_parenthesis_is_unary() -> None:
    root = parse(latex_to_mathml(r"J = -x + \exp(-z)"))
    forms = [(mo.text, mo.get("form")) for mo in tags(root, "mo") if mo.text in "−+"]
    assert forms == [("−", "prefix"), ("+", None), ("−", "prefix")]


def test_flat_left_right_fences_do_not_stretch_but_tall_ones_do() -> None:
    flat = parse(latex_to_mathml(r"\left( W^{(2)} \right)"))
    tall = parse(latex_to_mathml(r"\left( \frac{a}{b} \right)"))
    assert {mo.get("stretchy") for mo in tags(flat, "mo") if mo.get("fence")} == {"false"}
    assert {mo.get("stretchy") for mo in tags(tall, "mo") if mo.get("fence")} == {"true"}


def test_boxed_becomes_a_css_border() -> None:
    mathml = latex_to_mathml(r"\boxed{x}")
    assert "menclose" not in mathml
    assert 'style="border: 0.04em solid; padding: 0.3em"' in mathml


def test_negative_space_becomes_a_negative_margin() -> None:
    (space,) = tags(parse(latex_to_mathml(r"a \! b")), "mspace")
    assert space.attrib == {"style": "margin-left: -0.1667em"}


def test_columnalign_becomes_css() -> None:
    mathml = latex_to_mathml(SUBSET["cases"])
    assert "columnalign" not in mathml
    cells = tags(parse(mathml), "mtd")
    assert all("justify-items: start; text-align: left" in cell.get("style", "") for cell in cells)


def test_matrix_brackets_are_stretchy_fences_around_the_table_only() -> None:
    root = parse(latex_to_mathml(r"A = \begin{bmatrix} a & b \\ c & d \end{bmatrix} + B"))
    (group,) = [row for row in tags(root, "mrow") if row.find(M + "mtable") is not None]
    assert [child.tag for child in group] == [M + "mo", M + "mtable", M + "mo"]
    assert [group[0].get("form"), group[2].get("form")] == ["prefix", "postfix"]
    assert {group[0].get("stretchy"), group[2].get("stretchy")} == {"true"}


# --- Alignment --------------------------------------------------------------------------------


def outer_table(latex: str) -> ET.Element:
    """The alignment table of a converted aligned equation."""
    table = parse(latex_to_mathml(latex))[0]
    assert table.tag == M + "mtable"
    return table


def test_aligned_rows_put_relations_first_in_left_aligned_cells() -> None:
    table = outer_table(ALIGNED_CONTINUATION)
    assert table.get("data-environment") == "aligned"
    assert table.get("displaystyle") == "true"
    assert [len(row) for row in table] == [2, 2, 2, 2]
    assert [len(row[0]) == 0 for row in table] == [False, True, False, True]
    assert [row[1][0].text for row in table] == ["=", "=", "=", "≈"]
    for row in table:
        assert row[0].get("style", "").startswith("justify-items: end; text-align: right")
        assert row[1].get("style", "").startswith("justify-items: start; text-align: left")
    assert "&" not in "".join(table.itertext())


def test_aligned_keeps_the_ampersands_and_rows_of_a_nested_matrix() -> None:
    table = outer_table(ALIGNED_MATRIX)
    assert [len(row) for row in table] == [2, 2, 2]
    (matrix,) = tags(table[0][1], "mtable")
    assert [[cell.findtext(f"{M}msubsup/{M}mrow/{M}mn") for cell in row] for row in matrix] == [
        ["11", "12"],
        ["21", "22"],
    ]


@pytest.mark.parametrize(
    ("body", "shape"),
    [
        (r"a &= b \\ &= c \\", [2, 2]),
        (r"a &= b \\[2pt] c &= d", [2, 2]),
        (r"a &= \text{\{x\}} \\ c &= \frac{1}{2}", [2, 2]),
        (r"a &= b & c &= d", [4]),
        (r"a", [1]),
    ],
    ids=["trailing-break", "row-spacing", "escaped-braces", "two-pairs", "no-ampersand"],
)
def test_alignment_rows_and_cells(body: str, shape: list[int]) -> None:
    table = outer_table(rf"\begin{{aligned}} {body} \end{{aligned}}")
    assert [len(row) for row in table] == shape


# --- Errors ---------------------------------------------------------------------------------

ERRORS = {
    "unbalanced-open": (r"\frac{a}{", r"missing '\}'"),
    "unbalanced-close": ("a}", r"unbalanced '\}'"),
    "empty-message": (
        "x^",
        r"'\^' or '_' has no argument "
        r"\(latex2mathml raised MissingSuperScriptOrSubscriptError with an empty message\)",
    ),
    "left-without-right": (r"\left( x", r"\\left and \\right do not pair up"),
    "unknown-command": (r"\foo{x}", r"unknown command '\\foo'"),
    "unknown-command-in-text": (r"\text{\foo}", r"unknown command '\\foo'"),
    "unknown-environment": (r"\begin{foo} x \end{foo}", "unknown environment 'foo'; expected"),
    "stray-ampersand": ("a & b", "'&' outside an aligned or matrix environment"),
    "stray-line-break": (r"a \\ b", r"line break '\\\\' outside"),
    "missing-denominator": (r"\frac{a}", r"<mfrac> has 1 children instead of 2"),
    "cancel": (r"\cancel{x}", "<menclose notation='updiagonalstrike'> has no MathML Core"),
    "empty": ("  ", "the equation is empty"),
    "nested-aligned": (r"x = \begin{aligned} a \end{aligned}", "must be the whole equation"),
    "cell": (r"\begin{aligned} a &= \foo \\ b &= c \end{aligned}", r"row 1, column 2: unknown"),
    "ampersand-in-braces": (r"\begin{aligned} a &= {b & c} \end{aligned}", "inside a brace"),
    "mismatched-end": (r"\begin{bmatrix} a \end{pmatrix}", r"\\end\{pmatrix\} does not close"),
}


@pytest.mark.parametrize(("latex", "reason"), ERRORS.values(), ids=ERRORS.keys())
def test_invalid_latex_names_equation_and_reason(latex: str, reason: str) -> None:
    prefix = r"^cannot convert equation 'dJ/dW2\[0,1\]' to MathML: "
    with pytest.raises(MathMLError, match=prefix + ".*" + reason):
        latex_to_mathml(latex, label="dJ/dW2[0,1]")


def test_merror_from_latex2mathml_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    output = (
        f'<math xmlns="{MATHML_NAMESPACE}"><mrow><merror><mtext>bad</mtext></merror></mrow></math>'
    )
    monkeypatch.setattr(mathml, "_latex2mathml", lambda latex: output)
    with pytest.raises(MathMLError, match=r"^cannot convert equation 'E' .*<merror>: bad$"):
        latex_to_mathml("x", label="E")


def test_latex2mathml_message_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(latex: str) -> str:
        raise KeyError("\\weird")

    monkeypatch.setattr(mathml, "_latex2mathml", fail)
    with pytest.raises(MathMLError, match=r"to MathML: latex2mathml raised KeyError: '.*weird'$"):
        latex_to_mathml("x", label="E")


def test_error_message_starts_with_the_label() -> None:
    with pytest.raises(MathMLError, match=r"^cannot convert equation 'X' to MathML: "):
        latex_to_mathml(r"\frac{a}{", label="X")


def test_math_ml_error_is_a_value_error() -> None:
    assert issubclass(MathMLError, ValueError)


NOT_CORE = {
    "malformed": ("<math><mi>x</mi>", "^not well-formed XML"),
    "no-namespace": ("<math><mi>x</mi></math>", "^root element is 'math', not <math>"),
    "foreign-element": ('<math xmlns="{ns}"><mfenced/></math>', "<mfenced> is not a Core"),
    "bad-attribute": ('<math xmlns="{ns}"><mtd columnalign="left"/></math>', "columnalign"),
    "bold-mathvariant": ('<math xmlns="{ns}"><mi mathvariant="bold">x</mi></math>', "bold"),
    "markup-in-token": ('<math xmlns="{ns}"><mo><mi>x</mi></mo></math>', "contains markup"),
    "arity": ('<math xmlns="{ns}"><mfrac><mi>x</mi></mfrac></math>', "1 children instead"),
    "display-value": ('<math xmlns="{ns}" display="wide"></math>', "display='wide'"),
}


@pytest.mark.parametrize(("mathml", "problem"), NOT_CORE.values(), ids=NOT_CORE.keys())
def test_validate_core_rejects(mathml: str, problem: str) -> None:
    with pytest.raises(MathMLError, match=problem):
        validate_core(mathml.format(ns=MATHML_NAMESPACE))


def test_validate_core_accepts_data_attributes_and_css() -> None:
    validate_core(
        f'<math xmlns="{MATHML_NAMESPACE}"><mi data-x="1" style="color: red">x</mi></math>'
    )


# --- In Chromium ----------------------------------------------------------------------------

BROWSER_PAGE = {
    "Aligned, with continuation rows": ALIGNED_CONTINUATION,
    "Aligned, with a nested bmatrix": ALIGNED_MATRIX,
    "Aligned, loss and activations": ALIGNED_LOSS,
    "Matrix": r"W^{(1)} = \begin{bmatrix} 0.1 & -0.2 \\ 0.3 & 0.4 \end{bmatrix} "
    r"\in \mathbb{R}^{2 \times 2}",
    "Inline subset": r"\operatorname{ReLU}'(z) = \mathbb{I}[z > 0] \quad \mathbf{1}^{\top} "
    r"\left[ \hat{y} - y \right] \quad \boxed{\hat{y}_{1} \approx 0.73}",
}


def page_body() -> str:
    """HTML sections holding each BROWSER_PAGE equation, display and inline."""
    sections = [
        f"<section><h2>{title}</h2>{latex_to_mathml(latex, label=title)}</section>"
        for title, latex in BROWSER_PAGE.items()
    ]
    inline = latex_to_mathml(SUBSET["softmax"], display=False)
    sections.append(f"<p>Inline: the output is {inline} for each class.</p>")
    return "\n".join(sections)


@pytest.mark.browser
def test_chromium_renders_aligned_blocks_and_matrices() -> None:
    browser.require_browser()
    html = browser.write_page(ARTIFACTS / "render_mathml.html", page_body())
    with browser.open_page(html) as page:
        boxes = browser.math_boxes(page)
        equals_x = browser.aligned_equals_x(page)
        brackets = browser.bracket_heights(page)
        unrendered = browser.unrendered(page)
        browser.screenshot(page, ARTIFACTS / "render_mathml.png")
    assert len(boxes) == len(BROWSER_PAGE) + 1
    assert all(box["width"] > 0 and box["height"] > 0 for box in boxes), boxes
    assert [len(xs) for xs in equals_x] == [4, 3, 3]
    assert all(max(xs) - min(xs) <= 1.0 for xs in equals_x), equals_x
    assert len(brackets) == 2  # the nested bmatrix and the standalone one
    for bracket in brackets:
        assert min(bracket["open"], bracket["close"]) > 1.5 * bracket["line"], bracket
        assert min(bracket["open"], bracket["close"]) >= 0.95 * bracket["table"], bracket
    assert unrendered == []


def test_missing_browser_skips_unless_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(browser, "CHROMIUM", Path("/nonexistent/chromium"))
    monkeypatch.delenv(browser.REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="is not installed"):
        browser.require_browser()
    monkeypatch.setenv(browser.REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="SYMBACKPROP_REQUIRE_BROWSER=1"):
        browser.require_browser()
