"""Recurrent networks render: the built-in ``rnn`` example and a small lstm network give LaTeX
that pdflatex compiles and HTML whose every equation is MathML Core, with time indices."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_render_pdflatex import compile_latex

from symbackprop import derive, load_spec
from symbackprop.render.mathml import validate_core

LSTM = """
[network]
input = [2, 2]
loss = { name = "squared_error", half = true, reduction = "sum" }

[[layers]]
type = "lstm"
units = 1

[[layers]]
type = "flatten"

[parameters]
Wx1 = [[0.3, 0.2, 0.1, 0.0], [-0.1, 0.1, 0.3, 0.5]]
Wh1 = [[0.4, 0.2, 0.0, -0.2]]
b1 = [0.0, 0.05, 0.1, 0.15]

[data]
x = [[0.5, -0.4], [0.3, 0.8]]
y = [0.2, -0.1]
h0 = [[0.1]]
c0 = [[-0.2]]
"""
MATH = re.compile(r"<math\b.*?</math>", re.DOTALL)


@pytest.fixture(scope="module", params=["rnn", "lstm"])
def network(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> object:
    """The derivation of the rnn example, or of the small lstm network."""
    if request.param == "rnn":
        return derive("rnn")
    path = tmp_path_factory.mktemp("lstm") / "lstm.toml"
    path.write_text(LSTM, "utf-8")
    assert [layer.kind for layer in load_spec(path).layers] == ["lstm", "flatten"]
    return derive(path)


@pytest.mark.latex
def test_standalone_latex_compiles(network: object, tmp_path: Path) -> None:
    latex = network.to_latex(standalone=True)  # type: ignore[attr-defined]
    assert r"h^{(2)}_{3," in latex or r"h^{(1)}_{2," in latex  # the last step's state
    assert "dh0 (data)" in latex  # the initial state's gradient, after the parameters'
    compile_latex(latex, tmp_path, "recurrent")


def test_every_equation_of_the_html_is_mathml_core(network: object) -> None:
    page = network.to_html()  # type: ignore[attr-defined]
    maths = MATH.findall(page)
    assert len(maths) > 20
    for math in maths:
        validate_core(math)
    assert "<msubsup><mi>h</mi>" in page  # h^(l) with its step and unit
    assert "dh0 (data)" in page
